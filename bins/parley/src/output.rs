//! How things are printed.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use api::v1::{Member, Message, MessageKind, PresenceStatus, Role, Room, RoomKind, UserPresence, Visibility};

pub fn time(t: Option<&prost_types::Timestamp>) -> String {
    let Some(t) = t else { return "-".into() };
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(t.seconds).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string().replace('T', " ")
}

pub fn room_label(room: &Room) -> String {
    match (room.kind(), &room.direct_peer) {
        (RoomKind::Direct, Some(peer)) => format!("@{}", peer.username),
        _ => room.name.clone(),
    }
}

pub fn role(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
        Role::Unspecified => "-",
    }
}

pub fn rooms(rooms: &[Room]) {
    if rooms.is_empty() {
        println!("no rooms");
        return;
    }
    println!("{:<36}  {:<24}  {:<8}  {:>7}  {:>6}  ROLE", "ID", "NAME", "KIND", "MEMBERS", "SEQ");
    for r in rooms {
        let kind = match (r.kind(), r.visibility()) {
            (RoomKind::Direct, _) => "direct",
            (_, Visibility::Private) => "private",
            _ => "public",
        };
        println!(
            "{:<36}  {:<24}  {:<8}  {:>7}  {:>6}  {}",
            r.id,
            room_label(r),
            kind,
            r.member_count,
            r.last_seq,
            role(r.caller_role())
        );
    }
}

/// The rooms with unread messages, with how many and how many mention the user.
pub fn unread(rooms: &[Room]) {
    let unread: Vec<&Room> = rooms.iter().filter(|r| r.unread_count > 0).collect();
    if unread.is_empty() {
        println!("all read");
        return;
    }
    println!("{:<24}  {:>6}  {:>8}  ID", "ROOM", "UNREAD", "MENTIONS");
    for r in unread {
        println!("{:<24}  {:>6}  {:>8}  {}", room_label(r), r.unread_count, r.mention_count, r.id);
    }
}

fn status(s: PresenceStatus) -> &'static str {
    match s {
        PresenceStatus::Online => "online",
        PresenceStatus::Away => "away",
        PresenceStatus::Offline => "offline",
        PresenceStatus::Unspecified => "unknown",
    }
}

pub fn member(m: &Member) -> String {
    let name = m.user.as_ref().map_or("?", |u| u.username.as_str());
    format!("{name:<24}  {:<6}  {:<7}  joined {}", role(m.role()), status(m.presence()), time(m.joined_at.as_ref()))
}

pub fn presence(u: &UserPresence) -> String {
    let name = u.user.as_ref().map_or("?", |u| u.username.as_str());
    format!("{name:<24}  {}", status(u.status()))
}

pub fn presence_change(u: &UserPresence) -> String {
    let name = u.user.as_ref().map_or("?", |u| u.username.as_str());
    format!("* {name} is {}", status(u.status()))
}

pub fn message(m: &Message, rooms: &HashMap<String, String>) -> String {
    let room = rooms.get(&m.room_id).map_or(m.room_id.as_str(), String::as_str);
    let subject = m.member.as_ref().map_or("?", |s| s.username.as_str());
    let who = &m.sender_username;
    let target = m.target_seq;
    let text = match m.kind() {
        MessageKind::Text => text_message(m),
        MessageKind::MemberJoined => format!("* {subject} joined"),
        MessageKind::MemberLeft => format!("* {subject} left"),
        MessageKind::MemberInvited => format!("* {who} invited {subject}"),
        MessageKind::MemberRemoved => format!("* {who} removed {subject}"),
        MessageKind::MemberRoleChanged => {
            format!("* {subject} is now {}", role(m.member.as_ref().map_or(Role::Unspecified, |s| s.role())))
        }
        MessageKind::InvitationDeclined => format!("* {subject} declined the invitation"),
        MessageKind::Edit if m.body.is_empty() => format!("* {who} edited #{target} (since deleted)"),
        MessageKind::Edit => format!("* {who} edited #{target}: {}", m.body),
        MessageKind::Delete => format!("* {who} deleted #{target}"),
        MessageKind::ReactionAdded => format!("* {who} reacted {} to #{target}", m.emoji),
        MessageKind::ReactionRemoved => format!("* {who} took back {} from #{target}", m.emoji),
        MessageKind::Unspecified => "(unknown entry)".into(),
    };
    format!("[{room}] #{} {} {text}", m.seq, time(m.created_at.as_ref()))
}

/// A text message in its current state: `alice: (re #4) hello (edited) [👍 2]`, or a tombstone.
fn text_message(m: &Message) -> String {
    if m.deleted_at.is_some() {
        return format!("{}: (deleted)", m.sender_username);
    }
    let mut line = format!("{}: ", m.sender_username);
    if m.reply_to_seq != 0 {
        line.push_str(&format!("(re #{}) ", m.reply_to_seq));
    }
    line.push_str(&m.body);
    if m.edited_at.is_some() {
        line.push_str(" (edited)");
    }
    if !m.reactions.is_empty() {
        let reactions: Vec<String> = m.reactions.iter().map(|r| format!("{} {}", r.emoji, r.count)).collect();
        line.push_str(&format!(" [{}]", reactions.join(", ")));
    }
    line
}
