-- Each room's search progress: see the MySQL migration of the same name.
CREATE TABLE search_progress (
    room_id     BLOB    NOT NULL PRIMARY KEY REFERENCES rooms (id),
    indexed_seq INTEGER NOT NULL
);

INSERT INTO search_progress (room_id, indexed_seq)
SELECT id, CASE WHEN EXISTS (SELECT 1 FROM search_backfill) THEN 0 ELSE last_seq END FROM rooms;

DROP TABLE search_backfill;

-- Accents are part of a word, as in MySQL's index (a binary collation) and in the search's first step:
-- FTS5's tokenizer is told not to remove them, and the index is built again.
DROP TABLE message_search_fts;
CREATE VIRTUAL TABLE message_search_fts USING fts5(
    search_text, content = 'message_search', content_rowid = 'doc',
    tokenize = "unicode61 remove_diacritics 0 tokenchars '_'"
);
INSERT INTO message_search_fts (message_search_fts) VALUES ('rebuild');
