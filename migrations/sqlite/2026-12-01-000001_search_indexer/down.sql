CREATE TABLE search_backfill (
    id      INTEGER NOT NULL PRIMARY KEY,
    room_id BLOB    NOT NULL,
    seq     BIGINT  NOT NULL
);
INSERT INTO search_backfill (id, room_id, seq)
SELECT 1, X'00000000000000000000000000000000', 0
WHERE EXISTS (SELECT 1 FROM rooms r JOIN search_progress p ON p.room_id = r.id WHERE p.indexed_seq < r.last_seq);
DROP TABLE search_progress;
