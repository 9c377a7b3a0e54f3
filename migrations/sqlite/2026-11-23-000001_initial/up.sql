-- Parley's schema for SQLite. The MySQL twin lives in migrations/mysql under the same version and is the
-- one with the comments on every column; keep the two in step.

CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NULL
);

CREATE TABLE sessions (
    id         BLOB    NOT NULL PRIMARY KEY,
    user_id    BLOB    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    session_id BLOB    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE rooms (
    id           BLOB    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    visibility   INTEGER NOT NULL,
    kind         INTEGER NOT NULL,
    owner_id     BLOB    NULL,
    direct_key   TEXT    NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    member_count INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL
);
CREATE INDEX rooms_directory ON rooms (visibility, id);

CREATE TABLE memberships (
    room_id    BLOB    NOT NULL REFERENCES rooms (id),
    user_id    BLOB    NOT NULL REFERENCES users (id),
    role       INTEGER NOT NULL,
    joined_at  INTEGER NOT NULL,
    joined_seq INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, room_id);
CREATE UNIQUE INDEX memberships_seniority ON memberships (room_id, joined_seq);

CREATE TABLE invites (
    room_id    BLOB    NOT NULL REFERENCES rooms (id),
    user_id    BLOB    NOT NULL REFERENCES users (id),
    invited_by BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX invites_user ON invites (user_id, room_id);

CREATE TABLE messages (
    room_id           BLOB    NOT NULL REFERENCES rooms (id),
    seq               INTEGER NOT NULL,
    id                BLOB    NOT NULL,
    kind              INTEGER NOT NULL,
    sender_id         BLOB    NOT NULL,
    subject_id        BLOB    NULL,
    subject_role      INTEGER NULL,
    body              TEXT    NOT NULL,
    client_message_id TEXT    NULL,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages (room_id, sender_id, client_message_id);
