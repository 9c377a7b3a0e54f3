DROP INDEX sessions_revoked ON sessions;
ALTER TABLE users DROP COLUMN disabled_at;
