DROP INDEX sessions_revoked;
ALTER TABLE users DROP COLUMN disabled_at;
