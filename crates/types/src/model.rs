//! Plain value types that cross crate boundaries. They carry data only; the rules about them live in the
//! domain crates.

use crate::{EntryId, Millis, RoomId, UserId, WireCache};

/// A user as anyone who may see them sees them (no email: that is only for the user themself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
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
    /// When its newest text message was stored; `None` before the first.
    pub last_message_at: Option<Millis>,
}

/// How far one member has read a room, and what is left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The member's read marker: everything up to this seq is read. Never moves back.
    pub last_read_seq: i64,
    /// Text messages after the marker that are not deleted (the member's own are always before it).
    pub unread_count: i64,
    /// Those of them that mention the member.
    pub mention_count: i64,
}

/// A member's read marker in a room, as receipts carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ReadMark {
    /// The member.
    pub user_id: UserId,
    /// Their marker.
    pub last_read_seq: i64,
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
    /// Their read marker (read receipts, visible to co-members).
    pub last_read_seq: i64,
}

/// Why a user's membership of a room ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Departure {
    /// They left.
    Left,
    /// An admin or the owner removed them.
    Removed,
    /// The server's operator deleted the room.
    RoomDeleted,
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    /// The sender edited the message at `target_seq`; the body is its new text.
    Edit,
    /// The sender deleted the message at `target_seq`.
    Delete,
    /// The sender reacted with `emoji` to the message at `target_seq`.
    ReactionAdded,
    /// The sender took back their `emoji` reaction to the message at `target_seq`.
    ReactionRemoved,
}

impl EntryKind {
    /// Whether this kind acts on another entry (named by `target_seq`).
    pub fn is_action(self) -> bool {
        matches!(self, Self::Edit | Self::Delete | Self::ReactionAdded | Self::ReactionRemoved)
    }
}

/// How many members reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reaction {
    /// The emoji or `:short_code:`.
    pub emoji: String,
    /// How many members reacted with it.
    pub count: i64,
    /// Whether the one reading (the caller, the subscriber) is among them.
    pub mine: bool,
}

/// The user a membership entry is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    /// Their id.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
    /// Their role after the change; `None` when no longer (or not yet) a member.
    pub role: Option<Role>,
}

/// One entry of a room's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The sender's display name.
    pub sender_display_name: String,
    /// For membership entries, whom it is about.
    pub subject: Option<Subject>,
    /// The text of a [`EntryKind::Text`] entry (as last edited; empty once deleted), or the new text of an
    /// [`EntryKind::Edit`]; empty otherwise.
    pub body: String,
    /// The sender's idempotency key for a text entry (or an edit made with one).
    pub client_message_id: Option<String>,
    /// When it was stored.
    pub created_at: Millis,
    /// A text entry's state beyond its text: what it replies to, edits, deletion, reactions, mentions.
    pub message: MessageState,
    /// For an action: the seq of the message acted on.
    pub target_seq: Option<i64>,
    /// For a reaction entry: the emoji, and how many reacted with it to the target once this entry was
    /// stored (`mine` unset). Setting the target's count to it applies the entry, so replaying entries over
    /// a state that already includes them is harmless.
    pub reaction: Option<Reaction>,
    /// How the gateway sends this entry, once encoded (see [`WireCache`]). Never serialized: a node that
    /// receives an entry from another encodes it afresh.
    #[serde(skip)]
    pub wire: WireCache,
}

/// A member typing in a room, or having stopped: ephemeral, never stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Typing {
    /// The room.
    pub room_id: RoomId,
    /// Who.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
    /// Whether they are typing (false: they stopped).
    pub typing: bool,
    /// When to stop showing it unless told again.
    pub expires_at: Millis,
}

/// The current state of a text message beyond its body. An edit entry has the mentions of its new text;
/// other entries have none.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageState {
    /// The seq of the message it replies to.
    pub reply_to_seq: Option<i64>,
    /// When it was last edited.
    pub edited_at: Option<Millis>,
    /// When it was deleted.
    pub deleted_at: Option<Millis>,
    /// Its reactions, one per emoji.
    pub reactions: Vec<Reaction>,
    /// Members named in it.
    pub mentions: Vec<UserId>,
}

/// Whether a user can be reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
