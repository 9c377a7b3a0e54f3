DROP TABLE message_search;
ALTER TABLE memberships DROP COLUMN read_count, DROP COLUMN last_read_seq;
ALTER TABLE rooms DROP COLUMN last_message_at, DROP COLUMN text_count;
