-- Per-key opt-in to storing request and response bodies in the request
-- log. Bodies live in their own table, written with their row; retention
-- deletes them by request_time like attempts, even when the row itself is
-- kept because it was charged. Request ids supplied by clients may
-- repeat; a row's bodies are matched by request id and time.
ALTER TABLE keys ADD COLUMN log_bodies INTEGER NOT NULL DEFAULT 0;

CREATE TABLE request_bodies (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id         TEXT    NOT NULL,
    request_time       INTEGER NOT NULL,
    request_body       TEXT    NOT NULL DEFAULT '',
    response_body      TEXT    NOT NULL DEFAULT '',
    request_truncated  INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX request_bodies_request_id ON request_bodies (request_id);
CREATE INDEX request_bodies_time ON request_bodies (request_time);
