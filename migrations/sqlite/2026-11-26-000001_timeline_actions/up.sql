-- Replies, edits, deletions, reactions and mentions: see the MySQL migration of the same name.
ALTER TABLE messages ADD COLUMN reply_to_seq INTEGER NULL;
ALTER TABLE messages ADD COLUMN target_seq INTEGER NULL;
ALTER TABLE messages ADD COLUMN emoji TEXT NULL;
ALTER TABLE messages ADD COLUMN emoji_count INTEGER NULL;
ALTER TABLE messages ADD COLUMN edited_at INTEGER NULL;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER NULL;

CREATE TABLE reactions (
    room_id    BLOB    NOT NULL REFERENCES rooms (id),
    seq        INTEGER NOT NULL,
    emoji      TEXT    NOT NULL,
    user_id    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id)
);

CREATE TABLE mentions (
    room_id BLOB    NOT NULL REFERENCES rooms (id),
    seq     INTEGER NOT NULL,
    user_id BLOB    NOT NULL,
    PRIMARY KEY (room_id, seq, user_id)
);
CREATE INDEX mentions_user ON mentions (user_id, room_id, seq);
