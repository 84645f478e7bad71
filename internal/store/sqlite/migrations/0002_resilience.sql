-- Facts about retries, fallbacks and stream continuation per request.
ALTER TABLE request_logs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN failed_phase TEXT NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN retry_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN fallback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN continued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
