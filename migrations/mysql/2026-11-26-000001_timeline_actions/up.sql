-- Replies, edits, deletions, reactions and mentions (issue 18). Actions are timeline entries of their own
-- (kinds 8 edit, 9 delete, 10 reaction added, 11 reaction removed) naming the message they act on in
-- target_seq; the message's current state (edited text, tombstone, reactions, mentions) is kept beside it.
ALTER TABLE messages
    ADD COLUMN reply_to_seq BIGINT      NULL,  -- text entries: the message replied to
    ADD COLUMN target_seq   BIGINT      NULL,  -- action entries: the message acted on
    ADD COLUMN emoji        VARCHAR(64) NULL,  -- reaction entries
    ADD COLUMN emoji_count  BIGINT      NULL,  -- reaction entries: the message's count of that emoji after it
    ADD COLUMN edited_at    BIGINT      NULL,  -- text entries: when last edited
    ADD COLUMN deleted_at   BIGINT      NULL;  -- text entries: when deleted (body cleared)

-- Who reacted to which message with what; a message's counts are a GROUP BY over its rows.
CREATE TABLE reactions (
    room_id    BINARY(16)  NOT NULL,
    seq        BIGINT      NOT NULL,
    emoji      VARCHAR(64) NOT NULL,
    user_id    BINARY(16)  NOT NULL,
    created_at BIGINT      NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id),
    CONSTRAINT reactions_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Members named in a message's current text; by user too, for counting a user's mentions.
CREATE TABLE mentions (
    room_id BINARY(16) NOT NULL,
    seq     BIGINT     NOT NULL,
    user_id BINARY(16) NOT NULL,
    PRIMARY KEY (room_id, seq, user_id),
    KEY mentions_user (user_id, room_id, seq),
    CONSTRAINT mentions_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
