-- Read state and search (issue 19).
--
-- Unread counts are kept, not counted: `rooms.text_count` is how many text messages of the room are not
-- deleted, and each membership's `read_count` how many of those have seq <= its `last_read_seq`. A member's
-- unread count is the difference. Every change of either (a send, a deletion, a MarkRead, a join) happens
-- under the room's row lock, so the two always agree; see ARCHITECTURE.md.
ALTER TABLE rooms
    ADD COLUMN text_count      BIGINT NOT NULL DEFAULT 0,  -- text messages not deleted
    ADD COLUMN last_message_at BIGINT NULL;                -- when the newest text message was stored

ALTER TABLE memberships
    ADD COLUMN last_read_seq BIGINT NOT NULL DEFAULT 0,  -- the member's read marker; never moves back
    ADD COLUMN read_count    BIGINT NOT NULL DEFAULT 0;  -- text messages not deleted with seq <= last_read_seq

UPDATE rooms SET
    text_count = (SELECT COUNT(*) FROM messages m WHERE m.room_id = rooms.id AND m.kind = 1 AND m.deleted_at IS NULL),
    last_message_at = (SELECT MAX(m.created_at) FROM messages m WHERE m.room_id = rooms.id AND m.kind = 1);

-- What existed before is read: markers start at each room's newest entry.
UPDATE memberships SET
    last_read_seq = (SELECT r.last_seq FROM rooms r WHERE r.id = memberships.room_id),
    read_count = (SELECT r.text_count FROM rooms r WHERE r.id = memberships.room_id);

-- Each live text message's words as the search index takes them (see types::text::search_text): case
-- folded, CJK as single characters and pairs, every token at least 3 characters and ending in `_` (so that
-- InnoDB's minimum token size and stop words drop none). A row per text message, written with it, changed
-- by its edits and deleted with its text; apart from `messages` so that the timeline's hot table carries no
-- full-text index. Keyed like messages; `id` (time-ordered) orders results newest first.
CREATE TABLE message_search (
    room_id     BINARY(16) NOT NULL,
    seq         BIGINT     NOT NULL,
    id          BINARY(16) NOT NULL,
    search_text TEXT       NOT NULL,
    PRIMARY KEY (room_id, seq),
    KEY message_search_id (id),
    FULLTEXT KEY message_search_text (search_text),
    CONSTRAINT message_search_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
-- Messages stored before this migration get no row here (their tokens are made by the application, which
-- SQL cannot do): the next migration, search_backfill, has a background task index them.
