-- Times are INTEGER unix nanoseconds (UTC); NULL means "not set".
-- Durations are INTEGER microseconds.
CREATE TABLE keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    hash        TEXT    NOT NULL UNIQUE,
    last4       TEXT    NOT NULL DEFAULT '',
    models      TEXT    NOT NULL DEFAULT '[]', -- JSON array of path.Match patterns
    expires_at  INTEGER,
    revoked_at  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    rev         INTEGER NOT NULL UNIQUE
);

CREATE INDEX keys_created ON keys (created_at, id);

CREATE TABLE request_logs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id        TEXT    NOT NULL,
    time              INTEGER NOT NULL,
    key_id            TEXT    NOT NULL DEFAULT '',
    key_masked        TEXT    NOT NULL DEFAULT '',
    key_name          TEXT    NOT NULL DEFAULT '',
    endpoint          TEXT    NOT NULL DEFAULT '',
    model_requested   TEXT    NOT NULL DEFAULT '',
    model_served      TEXT    NOT NULL DEFAULT '',
    channel           TEXT    NOT NULL DEFAULT '',
    stream            INTEGER NOT NULL DEFAULT 0,
    status            INTEGER NOT NULL DEFAULT 0,
    error_type        TEXT    NOT NULL DEFAULT '',
    error_message     TEXT    NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens      INTEGER NOT NULL DEFAULT 0,
    usage_estimated   INTEGER NOT NULL DEFAULT 0,
    ttfb_us           INTEGER NOT NULL DEFAULT 0,
    duration_us       INTEGER NOT NULL DEFAULT 0,
    client_ip         TEXT    NOT NULL DEFAULT '',
    user_agent        TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX request_logs_time ON request_logs (time, id);
CREATE INDEX request_logs_key_time ON request_logs (key_id, time);
CREATE INDEX request_logs_request_id ON request_logs (request_id);
