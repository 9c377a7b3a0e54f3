//! Plain value types that cross crate boundaries. They carry data only; the rules about them live in the
//! domain crates.

use crate::{EntryId, Millis, RoomId, UserId};

/// A user as anyone who may see them sees them (no email: that is only for the user themself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// The username as typed at registration.
    pub username: String,
    /// The name to show; never empty (defaults to the username).
    pub display_name: String,
    /// When the account was created.
    pub created_at: Millis,
}

/// An account as its owner sees it: the public part and the email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// What everyone may see.
    pub user: User,
    /// The email address as typed at registration.
    pub email: String,
}

/// Who may find and join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Listed in the directory, open to everyone signed in.
    Public,
    /// Seen and joined only by members and invitees.
    Private,
}

/// Group room or direct conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomKind {
    /// Made by CreateRoom.
    Group,
    /// The private two-person room of a pair of users.
    Direct,
}

/// A member's rights in a room, from most to least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Changes roles; does everything an admin does. At most one per room.
    Owner,
    /// Removes members.
    Admin,
    /// Reads, sends, invites.
    Member,
}

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The room's id.
    pub id: RoomId,
    /// 1 to 100 characters; empty for direct rooms.
    pub name: String,
    /// At most 1000 characters.
    pub topic: String,
    /// Who may find and join it.
    pub visibility: Visibility,
    /// Group or direct.
    pub kind: RoomKind,
    /// The owner; `None` for direct rooms and rooms whose last member left.
    pub owner_id: Option<UserId>,
    /// When it was created.
    pub created_at: Millis,
    /// Number of current members.
    pub member_count: i64,
    /// The seq of the newest timeline entry, 0 when the timeline is empty.
    pub last_seq: i64,
}

/// A user's membership of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// When they (last) joined.
    pub joined_at: Millis,
}

/// Why a user's membership of a room ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Departure {
    /// They left.
    Left,
    /// An admin or the owner removed them.
    Removed,
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A text message.
    Text,
    /// The subject joined (the sender is the subject).
    MemberJoined,
    /// The subject left (the sender is the subject).
    MemberLeft,
    /// The sender invited the subject.
    MemberInvited,
    /// The sender removed the subject.
    MemberRemoved,
    /// The subject now has `subject_role`.
    MemberRoleChanged,
    /// The subject declined their invitation (the sender is the subject).
    InvitationDeclined,
}

/// The user a membership entry is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Their id.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
    /// Their role after the change; `None` when no longer (or not yet) a member.
    pub role: Option<Role>,
}

/// One entry of a room's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's id.
    pub id: EntryId,
    /// The room.
    pub room_id: RoomId,
    /// Position in the room's timeline, from 1, contiguous.
    pub seq: i64,
    /// What it records.
    pub kind: EntryKind,
    /// Who sent it or made the change.
    pub sender_id: UserId,
    /// The sender's username.
    pub sender_username: String,
    /// For membership entries, whom it is about.
    pub subject: Option<Subject>,
    /// The text of a [`EntryKind::Text`] entry; empty otherwise.
    pub body: String,
    /// The sender's idempotency key for a text entry.
    pub client_message_id: Option<String>,
    /// When it was stored.
    pub created_at: Millis,
}

/// Whether a user can be reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceStatus {
    /// Connected and not away.
    Online,
    /// Connected, said they are away.
    Away,
    /// Not connected.
    Offline,
}

/// One user's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPresence {
    /// The user.
    pub user: User,
    /// Their status.
    pub status: PresenceStatus,
    /// Last time they were connected; now while connected; `None` if never.
    pub last_seen_at: Option<Millis>,
}
