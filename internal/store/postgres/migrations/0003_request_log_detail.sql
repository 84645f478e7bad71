-- Request log completeness: upstream request id, time to first token,
-- sizes and finish reason per request, and one row per upstream attempt.
-- Conventions as in 0001_init.sql.
ALTER TABLE request_logs
    ADD COLUMN upstream_request_id text   NOT NULL DEFAULT '',
    ADD COLUMN ttft_us             bigint NOT NULL DEFAULT 0,
    ADD COLUMN request_bytes       bigint NOT NULL DEFAULT 0,
    ADD COLUMN response_bytes      bigint NOT NULL DEFAULT 0,
    ADD COLUMN finish_reason       text   NOT NULL DEFAULT '';

CREATE INDEX request_logs_error_type ON request_logs (error_type, time) WHERE error_type <> '';

-- request_time is the parent row's time, so retention can delete attempts
-- without a join. Request ids supplied by clients may repeat; attempts of
-- such requests are listed together.
CREATE TABLE request_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id   text COLLATE "C" NOT NULL,
    request_time timestamptz NOT NULL,
    n            integer     NOT NULL,
    channel      text        NOT NULL DEFAULT '',
    model        text        NOT NULL DEFAULT '',
    status       integer     NOT NULL DEFAULT 0,
    class        text        NOT NULL DEFAULT '',
    error        text        NOT NULL DEFAULT '',
    phase        text        NOT NULL DEFAULT '',
    retry_reason text        NOT NULL DEFAULT '',
    started      timestamptz,
    duration_us  bigint      NOT NULL DEFAULT 0,
    ttfb_us      bigint      NOT NULL DEFAULT 0
);

CREATE INDEX request_attempts_request_id ON request_attempts (request_id);
CREATE INDEX request_attempts_time ON request_attempts (request_time);
