//! Conversions between `chat.v1` messages and domain values, in both directions. Decoding validates only
//! what the wire format leaves open (id syntax, enum values); the rules live in the domain crates.

use api::v1;
use types::{
    Departure, Entry, EntryKind, FieldViolation, Member, Millis, PageSize, PresenceStatus, Role, RoomId, RoomKind,
    TimelinePage, UserId, Violations, Visibility,
};

use crate::status::invalid;

pub(crate) fn timestamp(m: Millis) -> prost_types::Timestamp {
    let (seconds, nanos) = m.to_seconds_nanos();
    prost_types::Timestamp { seconds, nanos }
}

pub(crate) fn user(u: &types::User) -> v1::User {
    v1::User {
        id: u.id.to_string(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        created_at: Some(timestamp(u.created_at)),
        email: String::new(),
    }
}

pub(crate) fn account(a: &types::Account) -> v1::User {
    v1::User { email: a.email.clone(), ..user(&a.user) }
}

pub(crate) fn tokens(t: &auth::Tokens) -> v1::Tokens {
    v1::Tokens {
        access_token: t.access_token.clone(),
        access_token_expires_at: Some(timestamp(t.access_token_expires_at)),
        refresh_token: t.refresh_token.clone(),
        refresh_token_expires_at: Some(timestamp(t.refresh_token_expires_at)),
    }
}

/// Parses an id field of a request.
pub(crate) fn id<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, tonic::Status> {
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    value.parse().map_err(|_| invalid(field, "is not a valid id"))
}

/// Parses a room id field and records it on the request's span.
pub(crate) fn room_id(field: &'static str, value: &str) -> Result<RoomId, tonic::Status> {
    let room: RoomId = id(field, value)?;
    tracing::Span::current().record("room_id", tracing::field::display(room));
    Ok(room)
}

pub(crate) fn user_id(field: &'static str, value: &str) -> Result<UserId, tonic::Status> {
    id(field, value)
}

/// A required visibility.
pub(crate) fn visibility(field: &'static str, value: i32) -> Result<Visibility, FieldViolation> {
    match v1::Visibility::try_from(value) {
        Ok(v1::Visibility::Public) => Ok(Visibility::Public),
        Ok(v1::Visibility::Private) => Ok(Visibility::Private),
        Ok(v1::Visibility::Unspecified) | Err(_) => {
            Err(FieldViolation::new(field, "must be VISIBILITY_PUBLIC or VISIBILITY_PRIVATE"))
        }
    }
}

/// A required role.
pub(crate) fn role(field: &'static str, value: i32) -> Result<Role, FieldViolation> {
    match v1::Role::try_from(value) {
        Ok(v1::Role::Owner) => Ok(Role::Owner),
        Ok(v1::Role::Admin) => Ok(Role::Admin),
        Ok(v1::Role::Member) => Ok(Role::Member),
        Ok(v1::Role::Unspecified) | Err(_) => {
            Err(FieldViolation::new(field, "must be ROLE_OWNER, ROLE_ADMIN or ROLE_MEMBER"))
        }
    }
}

/// A page size: 0 means the default, more than the maximum means the maximum.
pub(crate) fn page_size(field: &'static str, value: i32) -> Result<PageSize, FieldViolation> {
    match usize::try_from(value) {
        Ok(n) => Ok(PageSize::requested(Some(n))),
        Err(_) => Err(FieldViolation::new(field, "must not be negative")),
    }
}

/// The page of a timeline that `before_seq` and `after_seq` ask for (0 means unset for both), and its size.
pub(crate) fn timeline_page(
    before_seq: i64,
    after_seq: i64,
    limit: i32,
) -> Result<(TimelinePage, PageSize), Violations> {
    let mut violations = Vec::new();
    if before_seq < 0 {
        violations.push(FieldViolation::new("before_seq", "must not be negative"));
    }
    if after_seq < 0 {
        violations.push(FieldViolation::new("after_seq", "must not be negative"));
    }
    if before_seq > 0 && after_seq > 0 {
        violations.push(FieldViolation::new("after_seq", "must not be set together with before_seq"));
    }
    let size = page_size("limit", limit).map_err(|v| violations.push(v));
    Violations::check(violations)?;
    let page = match (before_seq, after_seq) {
        (0, 0) => TimelinePage::Latest,
        (b, 0) => TimelinePage::Before(b),
        (_, a) => TimelinePage::After(a),
    };
    Ok((page, size.unwrap_or_default()))
}

pub(crate) fn to_role(role: Option<Role>) -> v1::Role {
    match role {
        None => v1::Role::Unspecified,
        Some(Role::Owner) => v1::Role::Owner,
        Some(Role::Admin) => v1::Role::Admin,
        Some(Role::Member) => v1::Role::Member,
    }
}

pub(crate) fn room(view: &rooms::RoomView) -> v1::Room {
    let r = &view.room;
    v1::Room {
        id: r.id.to_string(),
        name: r.name.clone(),
        topic: r.topic.clone(),
        visibility: match r.visibility {
            Visibility::Public => v1::Visibility::Public,
            Visibility::Private => v1::Visibility::Private,
        }
        .into(),
        owner_id: r.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        created_at: Some(timestamp(r.created_at)),
        member_count: r.member_count,
        last_seq: r.last_seq,
        kind: match r.kind {
            RoomKind::Group => v1::RoomKind::Group,
            RoomKind::Direct => v1::RoomKind::Direct,
        }
        .into(),
        caller_role: to_role(view.caller_role).into(),
        direct_peer: view.direct_peer.as_ref().map(user),
        last_read_seq: view.read.map_or(0, |r| r.last_read_seq),
        unread_count: view.read.map_or(0, |r| r.unread_count),
        mention_count: view.read.map_or(0, |r| r.mention_count),
        last_message_at: r.last_message_at.map(timestamp),
    }
}

pub(crate) fn presence_status(status: PresenceStatus) -> v1::PresenceStatus {
    match status {
        PresenceStatus::Online => v1::PresenceStatus::Online,
        PresenceStatus::Away => v1::PresenceStatus::Away,
        PresenceStatus::Offline => v1::PresenceStatus::Offline,
    }
}

pub(crate) fn member(m: &Member, status: PresenceStatus) -> v1::Member {
    v1::Member {
        user: Some(user(&m.user)),
        role: to_role(Some(m.role)).into(),
        joined_at: Some(timestamp(m.joined_at)),
        presence: presence_status(status).into(),
        last_read_seq: m.last_read_seq,
    }
}

pub(crate) fn message(e: &Entry) -> v1::Message {
    let state = &e.message;
    // An action entry carries its emoji's count after the action as its one reaction.
    let reactions = match &e.reaction {
        Some(r) => std::slice::from_ref(r),
        None => state.reactions.as_slice(),
    };
    v1::Message {
        id: e.id.to_string(),
        room_id: e.room_id.to_string(),
        seq: e.seq,
        sender_id: e.sender_id.to_string(),
        sender_username: e.sender_username.clone(),
        sender_display_name: e.sender_display_name.clone(),
        body: e.body.clone(),
        client_message_id: e.client_message_id.clone().unwrap_or_default(),
        created_at: Some(timestamp(e.created_at)),
        kind: match e.kind {
            EntryKind::Text => v1::MessageKind::Text,
            EntryKind::MemberJoined => v1::MessageKind::MemberJoined,
            EntryKind::MemberLeft => v1::MessageKind::MemberLeft,
            EntryKind::MemberInvited => v1::MessageKind::MemberInvited,
            EntryKind::MemberRemoved => v1::MessageKind::MemberRemoved,
            EntryKind::MemberRoleChanged => v1::MessageKind::MemberRoleChanged,
            EntryKind::InvitationDeclined => v1::MessageKind::InvitationDeclined,
            EntryKind::Edit => v1::MessageKind::Edit,
            EntryKind::Delete => v1::MessageKind::Delete,
            EntryKind::ReactionAdded => v1::MessageKind::ReactionAdded,
            EntryKind::ReactionRemoved => v1::MessageKind::ReactionRemoved,
        }
        .into(),
        member: e.subject.as_ref().map(|s| v1::MemberChange {
            user_id: s.user_id.to_string(),
            username: s.username.clone(),
            role: to_role(s.role).into(),
        }),
        reply_to_seq: state.reply_to_seq.unwrap_or(0),
        edited_at: state.edited_at.map(timestamp),
        deleted_at: state.deleted_at.map(timestamp),
        reactions: reactions
            .iter()
            .map(|r| v1::Reaction { emoji: r.emoji.clone(), count: r.count, reacted_by_caller: r.mine })
            .collect(),
        mentions: state.mentions.iter().map(ToString::to_string).collect(),
        target_seq: e.target_seq.unwrap_or(0),
        emoji: e.reaction.as_ref().map(|r| r.emoji.clone()).unwrap_or_default(),
    }
}

pub(crate) fn user_presence(
    user: &types::User,
    status: PresenceStatus,
    last_seen_at: Option<Millis>,
) -> v1::UserPresence {
    v1::UserPresence {
        user: Some(self::user(user)),
        status: presence_status(status).into(),
        last_seen_at: last_seen_at.map(timestamp),
    }
}

pub(crate) fn stream_event(event: messaging::StreamEvent) -> v1::SubscribeResponse {
    use messaging::StreamEvent as E;
    use v1::subscribe_response::Event;
    let event = match event {
        E::Ready(rooms) => Event::Ready(v1::SubscriptionReady {
            rooms: rooms
                .into_iter()
                .map(|(room, after)| v1::RoomCursor { room_id: room.to_string(), after_seq: after })
                .collect(),
        }),
        E::Entry(entry) => Event::Message(message(&entry)),
        E::Presence(p) => Event::PresenceChanged(v1::PresenceChanged {
            presence: Some(user_presence(&p.user, p.status, p.last_seen_at)),
        }),
        E::Typing(t) => Event::Typing(v1::Typing {
            room_id: t.room_id.to_string(),
            user_id: t.user_id.to_string(),
            username: t.username.clone(),
            typing: t.typing,
            expires_at: Some(timestamp(t.expires_at)),
        }),
        E::ReadMarker { room_id, last_read_seq } => {
            Event::ReadMarker(v1::ReadMarker { room_id: room_id.to_string(), last_read_seq })
        }
        E::ReadReceipts { room_id, marks } => Event::ReadReceipt(v1::ReadReceipt {
            room_id: room_id.to_string(),
            receipts: marks
                .iter()
                .map(|m| v1::Receipt { user_id: m.user_id.to_string(), last_read_seq: m.last_read_seq })
                .collect(),
        }),
        E::Heartbeat(at) => Event::Heartbeat(v1::Heartbeat { server_time: Some(timestamp(at)) }),
        E::RoomAdded { room: view, after_seq } => {
            Event::RoomAdded(v1::RoomAdded { room: Some(room(&view)), after_seq })
        }
        E::RoomRemoved { room_id, reason, last_seq } => Event::RoomRemoved(v1::RoomRemoved {
            room_id: room_id.to_string(),
            reason: match reason {
                Departure::Left => v1::RoomRemovedReason::Left,
                Departure::Removed => v1::RoomRemovedReason::Removed,
                Departure::RoomDeleted => v1::RoomRemovedReason::Deleted,
            }
            .into(),
            last_seq,
        }),
        E::InvitationEnded(room_id) => Event::InvitationEnded(v1::InvitationEnded { room_id: room_id.to_string() }),
        E::Invited { room: view, by } => Event::InvitationReceived(v1::InvitationReceived {
            room: Some(room(&view)),
            inviter_id: by.id.to_string(),
            inviter_username: by.username,
        }),
    };
    v1::SubscribeResponse { event: Some(event) }
}
