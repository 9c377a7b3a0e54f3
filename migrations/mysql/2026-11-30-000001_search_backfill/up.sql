-- Text messages stored before search existed have no row in `message_search` (their tokens are made by the
-- application, which SQL cannot do). A background task on a running server walks `messages` once in key
-- order and indexes those, under each room's lock; this row is its cursor (the last `(room_id, seq)`
-- walked) and is deleted when the walk is done. No messages, no walk.
CREATE TABLE search_backfill (
    id      BIGINT     NOT NULL PRIMARY KEY,  -- always 1: there is one walk
    room_id BINARY(16) NOT NULL,
    seq     BIGINT     NOT NULL
) ENGINE = InnoDB;

INSERT INTO search_backfill (id, room_id, seq)
SELECT 1, X'00000000000000000000000000000000', 0 FROM DUAL WHERE EXISTS (SELECT 1 FROM messages);
