-- Each room's search progress: see the MySQL migration of the same name.
CREATE TABLE search_progress (
    room_id     BLOB    NOT NULL PRIMARY KEY REFERENCES rooms (id),
    indexed_seq INTEGER NOT NULL
);

INSERT INTO search_progress (room_id, indexed_seq)
SELECT id, CASE WHEN EXISTS (SELECT 1 FROM search_backfill) THEN 0 ELSE last_seq END FROM rooms;

DROP TABLE search_backfill;
