CREATE TABLE search_backfill (
    id      BIGINT     NOT NULL PRIMARY KEY,
    room_id BINARY(16) NOT NULL,
    seq     BIGINT     NOT NULL
) ENGINE = InnoDB;
-- Messages the indexer had not reached are walked again by the older server.
INSERT INTO search_backfill (id, room_id, seq)
SELECT 1, X'00000000000000000000000000000000', 0 FROM DUAL
WHERE EXISTS (SELECT 1 FROM rooms r JOIN search_progress p ON p.room_id = r.id WHERE p.indexed_seq < r.last_seq);
DROP TABLE search_progress;
