-- Groups, the price table and the prepaid credit ledger, plus the indexes
-- for listing keys by owner and group and for the spend sums. Conventions
-- as in 0001_init.sql.
CREATE INDEX keys_owner ON keys (owner);
CREATE INDEX keys_group ON keys (group_name);

-- Spend sums read only charged rows; these partial indexes hold just those
-- rows and include the summed column, so SpendSince and OwnerTotals can
-- answer from the index alone.
CREATE INDEX request_logs_key_spend   ON request_logs (key_id, time)     INCLUDE (cost_micros) WHERE charged;
CREATE INDEX request_logs_group_spend ON request_logs (group_name, time) INCLUDE (cost_micros) WHERE charged;
CREATE INDEX request_logs_owner_spend ON request_logs (owner)            INCLUDE (cost_micros) WHERE charged;

CREATE TABLE groups (
    name                 text COLLATE "C" NOT NULL PRIMARY KEY,
    models               text[]      NOT NULL DEFAULT '{}',
    limits               jsonb       NOT NULL DEFAULT '{}',
    price_multiplier_ppm bigint      NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    rev                  bigint      NOT NULL UNIQUE
);

CREATE TABLE prices (
    model              text COLLATE "C" NOT NULL PRIMARY KEY,
    input_per_m        bigint      NOT NULL DEFAULT 0,
    output_per_m       bigint      NOT NULL DEFAULT 0,
    cached_input_per_m bigint      NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL,
    rev                bigint      NOT NULL UNIQUE
);

-- The prepaid balance ledger: append-only, so rev never goes backwards.
CREATE TABLE credits (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner  text COLLATE "C" NOT NULL,
    amount bigint      NOT NULL,
    note   text        NOT NULL DEFAULT '',
    time   timestamptz NOT NULL,
    rev    bigint      NOT NULL UNIQUE
);

CREATE INDEX credits_owner ON credits (owner) INCLUDE (amount);
