DROP TABLE mentions;
DROP TABLE reactions;
ALTER TABLE messages DROP COLUMN deleted_at;
ALTER TABLE messages DROP COLUMN edited_at;
ALTER TABLE messages DROP COLUMN emoji_count;
ALTER TABLE messages DROP COLUMN emoji;
ALTER TABLE messages DROP COLUMN target_seq;
ALTER TABLE messages DROP COLUMN reply_to_seq;
