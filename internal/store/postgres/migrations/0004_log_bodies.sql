-- Per-key opt-in to storing request and response bodies in the request
-- log. Bodies live in their own table, written with their row; retention
-- deletes them by request_time like attempts, even when the row itself is
-- kept because it was charged. Request ids supplied by clients may
-- repeat; a row's bodies are matched by request id and time. Conventions
-- as in 0001_init.sql.
ALTER TABLE keys ADD COLUMN log_bodies boolean NOT NULL DEFAULT false;

CREATE TABLE request_bodies (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id         text COLLATE "C" NOT NULL,
    request_time       timestamptz NOT NULL,
    request_body       text        NOT NULL DEFAULT '',
    response_body      text        NOT NULL DEFAULT '',
    request_truncated  boolean     NOT NULL DEFAULT false,
    response_truncated boolean     NOT NULL DEFAULT false
);

CREATE INDEX request_bodies_request_id ON request_bodies (request_id);
CREATE INDEX request_bodies_time ON request_bodies (request_time);
