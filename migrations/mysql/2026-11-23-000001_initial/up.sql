-- Parley's schema for MySQL / MariaDB. The SQLite twin lives in migrations/sqlite under the same version.
-- Ids are UUIDv7 bytes made by the application; times are Unix milliseconds (BIGINT), which both backends
-- store and compare alike. Text keys use utf8mb4_bin so that comparisons are exact, as in SQLite: case and
-- width folding is done by the application before it writes a *_key column.

CREATE TABLE users (
    id            BINARY(16)    NOT NULL,
    username      VARCHAR(32)   NOT NULL,  -- as typed at registration, for display
    username_key  VARCHAR(191)  NOT NULL,  -- NFKC + case folded: the unique key
    email         VARCHAR(254)  NOT NULL,
    email_key     VARCHAR(254)  NOT NULL,  -- lowercased: the unique key
    display_name  VARCHAR(64)   NOT NULL,
    password_hash VARCHAR(255)  NOT NULL,  -- argon2id PHC string
    created_at    BIGINT        NOT NULL,
    last_seen_at  BIGINT        NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_username_key (username_key),
    UNIQUE KEY users_email_key (email_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per login: the tokens it issues share its id (the JWT `sid` claim).
CREATE TABLE sessions (
    id         BINARY(16) NOT NULL,
    user_id    BINARY(16) NOT NULL,
    created_at BIGINT     NOT NULL,
    expires_at BIGINT     NOT NULL,  -- the newest refresh token's expiry
    revoked_at BIGINT     NULL,
    PRIMARY KEY (id),
    KEY sessions_user (user_id),
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every refresh token ever issued, by SHA-256 of its secret. A used token keeps its row (used_at set) until
-- the session expires, so that presenting it again is recognised as theft.
CREATE TABLE refresh_tokens (
    token_hash BINARY(32) NOT NULL,
    session_id BINARY(16) NOT NULL,
    created_at BIGINT     NOT NULL,
    expires_at BIGINT     NOT NULL,
    used_at    BIGINT     NULL,
    PRIMARY KEY (token_hash),
    KEY refresh_tokens_session (session_id),
    CONSTRAINT refresh_tokens_session_fk FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE rooms (
    id           BINARY(16)    NOT NULL,
    name         VARCHAR(100)  NOT NULL,
    name_key     VARCHAR(400)  NOT NULL,  -- case folded name, for the directory's name filter
    topic        TEXT          NOT NULL,
    visibility   SMALLINT      NOT NULL,  -- 1 public, 2 private
    kind         SMALLINT      NOT NULL,  -- 1 group, 2 direct
    owner_id     BINARY(16)    NULL,
    direct_key   VARCHAR(80)   NULL,      -- for direct rooms: both user ids, smaller first; unique
    created_at   BIGINT        NOT NULL,
    member_count BIGINT        NOT NULL,
    last_seq     BIGINT        NOT NULL,  -- seq of the newest timeline entry; bumped under the row lock
    PRIMARY KEY (id),
    KEY rooms_directory (visibility, id),
    UNIQUE KEY rooms_direct_key (direct_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE memberships (
    room_id    BINARY(16) NOT NULL,
    user_id    BINARY(16) NOT NULL,
    role       SMALLINT   NOT NULL,  -- 1 owner, 2 admin, 3 member
    joined_at  BIGINT     NOT NULL,
    joined_seq BIGINT     NOT NULL,  -- seq of the join entry: orders members by seniority
    PRIMARY KEY (room_id, user_id),
    KEY memberships_user (user_id, room_id),
    UNIQUE KEY memberships_seniority (room_id, joined_seq),
    CONSTRAINT memberships_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id),
    CONSTRAINT memberships_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE invites (
    room_id    BINARY(16) NOT NULL,
    user_id    BINARY(16) NOT NULL,
    invited_by BINARY(16) NOT NULL,
    created_at BIGINT     NOT NULL,
    PRIMARY KEY (room_id, user_id),
    KEY invites_user (user_id, room_id),
    CONSTRAINT invites_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id),
    CONSTRAINT invites_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Each room's timeline: text messages and membership changes, numbered 1, 2, 3… by seq.
CREATE TABLE messages (
    room_id           BINARY(16)  NOT NULL,
    seq               BIGINT      NOT NULL,
    id                BINARY(16)  NOT NULL,
    kind              SMALLINT    NOT NULL,  -- 1 text, 2 joined, 3 left, 4 invited, 5 removed, 6 role changed
    sender_id         BINARY(16)  NOT NULL,
    subject_id        BINARY(16)  NULL,      -- membership entries: whom it is about
    subject_role      SMALLINT    NULL,
    body              TEXT        NOT NULL,
    client_message_id VARCHAR(64) NULL,      -- text entries: the sender's idempotency key
    created_at        BIGINT      NOT NULL,
    PRIMARY KEY (room_id, seq),
    UNIQUE KEY messages_client_id (room_id, sender_id, client_message_id),
    CONSTRAINT messages_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
