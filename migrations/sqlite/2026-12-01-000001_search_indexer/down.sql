DROP TABLE message_search_fts;
CREATE VIRTUAL TABLE message_search_fts USING fts5(
    search_text, content = 'message_search', content_rowid = 'doc', tokenize = "unicode61 tokenchars '_'"
);
INSERT INTO message_search_fts (message_search_fts) VALUES ('rebuild');
CREATE TABLE search_backfill (
    id      INTEGER NOT NULL PRIMARY KEY,
    room_id BLOB    NOT NULL,
    seq     BIGINT  NOT NULL
);
INSERT INTO search_backfill (id, room_id, seq)
SELECT 1, X'00000000000000000000000000000000', 0
WHERE EXISTS (SELECT 1 FROM rooms r JOIN search_progress p ON p.room_id = r.id WHERE p.indexed_seq < r.last_seq);
DROP TABLE search_progress;
