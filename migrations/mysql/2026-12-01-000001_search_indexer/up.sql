-- The search index is written shortly after a send instead of inside it (issue 19: the full-text work
-- made the send transaction ~40% slower). Each room's progress is one row: every entry of the room with
-- `seq <= indexed_seq` has been looked at, and each live text message among them has its `message_search`
-- row. The indexer (messaging/src/indexer.rs) moves it on under this row's lock, which sends never take.
-- Apart from `rooms` so that the indexer never waits for, nor holds up, the room lock of the send path.
CREATE TABLE search_progress (
    room_id     BINARY(16) NOT NULL PRIMARY KEY,
    indexed_seq BIGINT     NOT NULL,
    CONSTRAINT search_progress_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE = InnoDB;

-- Rooms are indexed up to their newest entry, except while the one-time walk of the messages stored
-- before search existed had not finished (its cursor row still there): then every room starts from the
-- beginning, and the indexer skips the messages that already have their row.
INSERT INTO search_progress (room_id, indexed_seq)
SELECT id, CASE WHEN EXISTS (SELECT 1 FROM search_backfill) THEN 0 ELSE last_seq END FROM rooms;

-- The indexer replaces that walk.
DROP TABLE search_backfill;
