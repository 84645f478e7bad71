-- Governance: key ownership, groups and limits, prices, prepaid credits and
-- the cost of each request. Money is INTEGER micro-units; Limits and lists
-- are JSON text; times are INTEGER unix nanoseconds (UTC), as before.
ALTER TABLE keys ADD COLUMN owner      TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN env        TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN ip_allow   TEXT NOT NULL DEFAULT '[]'; -- JSON array of CIDRs
ALTER TABLE keys ADD COLUMN limits     TEXT NOT NULL DEFAULT '{}'; -- JSON store.Limits

CREATE INDEX keys_owner ON keys (owner);
CREATE INDEX keys_group ON keys (group_name);

ALTER TABLE request_logs ADD COLUMN owner         TEXT    NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN group_name    TEXT    NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN cost_micros   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN charged       INTEGER NOT NULL DEFAULT 0;

-- Spend sums read only charged rows; these partial indexes hold just those
-- rows and cover the summed column, so SpendSince and OwnerTotals never
-- touch the table itself.
CREATE INDEX request_logs_key_spend   ON request_logs (key_id, time, cost_micros)     WHERE charged = 1;
CREATE INDEX request_logs_group_spend ON request_logs (group_name, time, cost_micros) WHERE charged = 1;
CREATE INDEX request_logs_owner_spend ON request_logs (owner, cost_micros)            WHERE charged = 1;

CREATE TABLE groups (
    name                 TEXT    NOT NULL PRIMARY KEY,
    models               TEXT    NOT NULL DEFAULT '[]', -- JSON array of path.Match patterns
    limits               TEXT    NOT NULL DEFAULT '{}', -- JSON store.Limits
    price_multiplier_ppm INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    rev                  INTEGER NOT NULL UNIQUE
);

CREATE TABLE prices (
    model              TEXT    NOT NULL PRIMARY KEY,
    input_per_m        INTEGER NOT NULL DEFAULT 0,
    output_per_m       INTEGER NOT NULL DEFAULT 0,
    cached_input_per_m INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER NOT NULL,
    rev                INTEGER NOT NULL UNIQUE
);

-- The prepaid balance ledger: append-only, so rev never goes backwards.
CREATE TABLE credits (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    owner  TEXT    NOT NULL,
    amount INTEGER NOT NULL,
    note   TEXT    NOT NULL DEFAULT '',
    time   INTEGER NOT NULL,
    rev    INTEGER NOT NULL UNIQUE
);

CREATE INDEX credits_owner ON credits (owner, amount);
