//! The one portable schema, shared by both backends. Only types that mean the same on SQLite and MySQL are
//! used: `Binary` (ids), `Text`, `BigInt` (times in Unix milliseconds, counters) and `SmallInt` (enums,
//! encoded in [`crate::codes`]). Keep it in step with `migrations/{mysql,sqlite}`.

diesel::table! {
    users (id) {
        id -> Binary,
        username -> Text,
        username_key -> Text,
        email -> Text,
        email_key -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> BigInt,
        last_seen_at -> Nullable<BigInt>,
        disabled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Binary,
        user_id -> Binary,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Binary,
        session_id -> Binary,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rooms (id) {
        id -> Binary,
        name -> Text,
        name_key -> Text,
        topic -> Text,
        visibility -> SmallInt,
        kind -> SmallInt,
        owner_id -> Nullable<Binary>,
        direct_key -> Nullable<Text>,
        created_at -> BigInt,
        member_count -> BigInt,
        last_seq -> BigInt,
        text_count -> BigInt,
        last_message_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    memberships (room_id, user_id) {
        room_id -> Binary,
        user_id -> Binary,
        role -> SmallInt,
        joined_at -> BigInt,
        joined_seq -> BigInt,
        last_read_seq -> BigInt,
        read_count -> BigInt,
    }
}

diesel::table! {
    invites (room_id, user_id) {
        room_id -> Binary,
        user_id -> Binary,
        invited_by -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    messages (room_id, seq) {
        room_id -> Binary,
        seq -> BigInt,
        id -> Binary,
        kind -> SmallInt,
        sender_id -> Binary,
        subject_id -> Nullable<Binary>,
        subject_role -> Nullable<SmallInt>,
        body -> Text,
        client_message_id -> Nullable<Text>,
        created_at -> BigInt,
        reply_to_seq -> Nullable<BigInt>,
        target_seq -> Nullable<BigInt>,
        emoji -> Nullable<Text>,
        emoji_count -> Nullable<BigInt>,
        edited_at -> Nullable<BigInt>,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    reactions (room_id, seq, emoji, user_id) {
        room_id -> Binary,
        seq -> BigInt,
        emoji -> Text,
        user_id -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    mentions (room_id, seq, user_id) {
        room_id -> Binary,
        seq -> BigInt,
        user_id -> Binary,
    }
}

diesel::table! {
    message_search (room_id, seq) {
        room_id -> Binary,
        seq -> BigInt,
        id -> Binary,
        search_text -> Text,
    }
}

diesel::table! {
    search_progress (room_id) {
        room_id -> Binary,
        indexed_seq -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(memberships -> rooms (room_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(invites -> rooms (room_id));
diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(reactions -> rooms (room_id));
diesel::joinable!(mentions -> rooms (room_id));
diesel::joinable!(search_progress -> rooms (room_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    rooms,
    memberships,
    invites,
    messages,
    reactions,
    mentions,
    message_search,
    search_progress,
);
