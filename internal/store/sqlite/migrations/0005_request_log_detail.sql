-- Request log completeness: upstream request id, time to first token,
-- sizes and finish reason per request, and one row per upstream attempt.
ALTER TABLE request_logs ADD COLUMN upstream_request_id TEXT    NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN ttft_us             INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN request_bytes       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN response_bytes      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN finish_reason       TEXT    NOT NULL DEFAULT '';

CREATE INDEX request_logs_error_type ON request_logs (error_type, time) WHERE error_type <> '';

-- request_time is the parent row's time, so retention can delete attempts
-- without a join. Request ids supplied by clients may repeat; attempts of
-- such requests are listed together.
CREATE TABLE request_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id   TEXT    NOT NULL,
    request_time INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    channel      TEXT    NOT NULL DEFAULT '',
    model        TEXT    NOT NULL DEFAULT '',
    status       INTEGER NOT NULL DEFAULT 0,
    class        TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    phase        TEXT    NOT NULL DEFAULT '',
    retry_reason TEXT    NOT NULL DEFAULT '',
    started      INTEGER,
    duration_us  INTEGER NOT NULL DEFAULT 0,
    ttfb_us      INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX request_attempts_request_id ON request_attempts (request_id);
CREATE INDEX request_attempts_time ON request_attempts (request_time);
