-- Read state and search: see the MySQL migration of the same name.
ALTER TABLE rooms ADD COLUMN text_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_message_at INTEGER NULL;
ALTER TABLE memberships ADD COLUMN last_read_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN read_count INTEGER NOT NULL DEFAULT 0;

UPDATE rooms SET
    text_count = (SELECT COUNT(*) FROM messages m WHERE m.room_id = rooms.id AND m.kind = 1 AND m.deleted_at IS NULL),
    last_message_at = (SELECT MAX(m.created_at) FROM messages m WHERE m.room_id = rooms.id AND m.kind = 1);
UPDATE memberships SET
    last_read_seq = (SELECT r.last_seq FROM rooms r WHERE r.id = memberships.room_id),
    read_count = (SELECT r.text_count FROM rooms r WHERE r.id = memberships.room_id);

-- The search rows (see the MySQL migration), with an integer key of their own that FTS5 indexes by (a
-- rowid alias, so VACUUM keeps it), and FTS5 over their text (external content: the index keeps no second
-- copy), kept in step by triggers in the writing transaction. The tokens are made by the application, so
-- FTS5 only splits them on spaces (`_` is a token character).
CREATE TABLE message_search (
    doc         INTEGER NOT NULL PRIMARY KEY,
    room_id     BLOB    NOT NULL REFERENCES rooms (id),
    seq         INTEGER NOT NULL,
    id          BLOB    NOT NULL,
    search_text TEXT    NOT NULL
);
CREATE UNIQUE INDEX message_search_key ON message_search (room_id, seq);
CREATE INDEX message_search_id ON message_search (id);
CREATE VIRTUAL TABLE message_search_fts USING fts5(
    search_text, content = 'message_search', content_rowid = 'doc', tokenize = "unicode61 tokenchars '_'"
);
CREATE TRIGGER message_search_insert AFTER INSERT ON message_search BEGIN
    INSERT INTO message_search_fts (rowid, search_text) VALUES (new.doc, new.search_text);
END;
CREATE TRIGGER message_search_update AFTER UPDATE ON message_search BEGIN
    INSERT INTO message_search_fts (message_search_fts, rowid, search_text) VALUES ('delete', old.doc, old.search_text);
    INSERT INTO message_search_fts (rowid, search_text) VALUES (new.doc, new.search_text);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON message_search BEGIN
    INSERT INTO message_search_fts (message_search_fts, rowid, search_text) VALUES ('delete', old.doc, old.search_text);
END;
