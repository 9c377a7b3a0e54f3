-- Operators' account administration (`parleyd admin`). The SQLite twin lives in migrations/sqlite under the
-- same version.
--
-- A disabled account keeps its rows (rooms, messages, memberships) but cannot sign in or refresh; NULL means
-- enabled. Disabling also revokes the account's sessions.
ALTER TABLE users ADD COLUMN disabled_at BIGINT NULL;

-- Every node asks every few seconds which sessions were revoked lately (by another node or by `parleyd
-- admin`, another process), so that their open streams end: a range scan of this index.
CREATE INDEX sessions_revoked ON sessions (revoked_at);
