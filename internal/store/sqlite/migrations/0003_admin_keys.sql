-- Admin keys may use the admin API.
ALTER TABLE keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
