-- The spend indexes hold only rows that cost something. Sums of spend
-- are the same without the free rows, and a request that was charged
-- nothing (no price configured for its model, as with self-hosted
-- models) no longer adds three index entries to the request log insert.
DROP INDEX request_logs_key_spend;
DROP INDEX request_logs_group_spend;
DROP INDEX request_logs_owner_spend;
CREATE INDEX request_logs_key_spend   ON request_logs (key_id, time)     INCLUDE (cost_micros) WHERE charged AND cost_micros > 0;
CREATE INDEX request_logs_group_spend ON request_logs (group_name, time) INCLUDE (cost_micros) WHERE charged AND cost_micros > 0;
CREATE INDEX request_logs_owner_spend ON request_logs (owner)            INCLUDE (cost_micros) WHERE charged AND cost_micros > 0;
