-- The cursor of the one-time indexing of messages stored before search existed: see the MySQL migration of
-- the same name.
CREATE TABLE search_backfill (
    id      INTEGER NOT NULL PRIMARY KEY,
    room_id BLOB    NOT NULL,
    seq     BIGINT  NOT NULL
);

INSERT INTO search_backfill (id, room_id, seq)
SELECT 1, X'00000000000000000000000000000000', 0 WHERE EXISTS (SELECT 1 FROM messages);
