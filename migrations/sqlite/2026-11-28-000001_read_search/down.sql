DROP TRIGGER message_search_delete;
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_insert;
DROP TABLE message_search_fts;
DROP TABLE message_search;
ALTER TABLE memberships DROP COLUMN read_count;
ALTER TABLE memberships DROP COLUMN last_read_seq;
ALTER TABLE rooms DROP COLUMN last_message_at;
ALTER TABLE rooms DROP COLUMN text_count;
