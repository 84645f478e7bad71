-- Keys and the request log.
--
-- Times are timestamptz (microsecond precision); NULL means "not set".
-- Durations are BIGINT microseconds, Money is BIGINT micro-units. Model and
-- CIDR lists are text[], limits are JSONB objects (store.Limits' JSON form).
-- Identifier columns use the "C" collation so that ordering is by byte
-- value, whatever the database's locale.
-- rev is assigned by the store as MAX(rev)+1 while it holds the table's
-- advisory lock, so revs are strictly increasing and commit in rev order.
CREATE TABLE keys (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    hash        text COLLATE "C" NOT NULL UNIQUE,
    last4       text        NOT NULL DEFAULT '',
    models      text[]      NOT NULL DEFAULT '{}',
    admin       boolean     NOT NULL DEFAULT false,
    owner       text COLLATE "C" NOT NULL DEFAULT '',
    group_name  text COLLATE "C" NOT NULL DEFAULT '',
    env         text        NOT NULL DEFAULT '',
    ip_allow    text[]      NOT NULL DEFAULT '{}',
    limits      jsonb       NOT NULL DEFAULT '{}',
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    rev         bigint      NOT NULL UNIQUE
);

CREATE INDEX keys_created ON keys (created_at, id);

CREATE TABLE request_logs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id        text COLLATE "C" NOT NULL,
    time              timestamptz NOT NULL,
    key_id            text COLLATE "C" NOT NULL DEFAULT '',
    key_masked        text        NOT NULL DEFAULT '',
    key_name          text        NOT NULL DEFAULT '',
    endpoint          text        NOT NULL DEFAULT '',
    model_requested   text COLLATE "C" NOT NULL DEFAULT '',
    model_served      text COLLATE "C" NOT NULL DEFAULT '',
    channel           text        NOT NULL DEFAULT '',
    stream            boolean     NOT NULL DEFAULT false,
    status            integer     NOT NULL DEFAULT 0,
    error_type        text        NOT NULL DEFAULT '',
    error_message     text        NOT NULL DEFAULT '',
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    total_tokens      bigint      NOT NULL DEFAULT 0,
    cached_tokens     bigint      NOT NULL DEFAULT 0,
    usage_estimated   boolean     NOT NULL DEFAULT false,
    ttfb_us           bigint      NOT NULL DEFAULT 0,
    duration_us       bigint      NOT NULL DEFAULT 0,
    client_ip         text        NOT NULL DEFAULT '',
    user_agent        text        NOT NULL DEFAULT '',
    attempts          integer     NOT NULL DEFAULT 0,
    failed_phase      text        NOT NULL DEFAULT '',
    retry_reasons     text        NOT NULL DEFAULT '',
    fallback          boolean     NOT NULL DEFAULT false,
    continued         boolean     NOT NULL DEFAULT false,
    truncated         boolean     NOT NULL DEFAULT false,
    owner             text COLLATE "C" NOT NULL DEFAULT '',
    group_name        text COLLATE "C" NOT NULL DEFAULT '',
    cost_micros       bigint      NOT NULL DEFAULT 0,
    charged           boolean     NOT NULL DEFAULT false
);

CREATE INDEX request_logs_time ON request_logs (time, id);
CREATE INDEX request_logs_key_time ON request_logs (key_id, time);
CREATE INDEX request_logs_request_id ON request_logs (request_id);
