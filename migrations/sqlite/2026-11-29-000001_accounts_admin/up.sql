-- Operators' account administration: see the MySQL migration of the same name.
ALTER TABLE users ADD COLUMN disabled_at INTEGER NULL;
CREATE INDEX sessions_revoked ON sessions (revoked_at);
