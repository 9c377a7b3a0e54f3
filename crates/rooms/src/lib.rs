//! Rooms and who belongs to them: creating rooms, the public directory, private rooms that only members and
//! invitees can see, invitations, roles and removal, ownership hand-over, and direct conversations.
//!
//! **Invariants** (each enforced here and shown by the tests):
//! - A private room is indistinguishable from a room that does not exist for anyone who is neither a member
//!   nor invited: every operation answers [`Error::RoomNotFound`] with the same message.
//! - A group room has at most one owner; when the owner leaves, the longest-standing admin, else the
//!   longest-standing member, becomes owner; an empty room keeps its history and has no owner.
//! - Every change of membership appends a timeline entry in the same transaction (see `storage::timeline`)
//!   and is then published on the bus, so history and live subscribers see it.
//!
//! This crate never sees gRPC types. Errors: [`Error`], mapped to codes through [`types::DomainError`].

mod page;

use std::collections::HashMap;
use std::sync::Arc;

use bus::{Bus, Departure, Event, Topic};
use storage::rooms::{self as store, Change, Invited, Joined, Listing, NewRoom, Standing};
use storage::{Db, users};
use types::{
    DomainError, ErrorCode, FieldViolation, Member, Millis, Role, Room, RoomId, RoomKind, User, UserId, Visibility,
};

pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// A room as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    /// The room.
    pub room: Room,
    /// The viewer's role; `None` when not a member.
    pub caller_role: Option<Role>,
    /// For direct rooms: the other participant.
    pub direct_peer: Option<User>,
}

/// Which rooms [`Rooms::list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The caller's rooms.
    Joined,
    /// The public directory.
    Public,
    /// Rooms the caller is invited to.
    Invited,
}

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed request fields.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    /// The room does not exist, or the caller may not know it does.
    #[error("room not found")]
    RoomNotFound,
    /// No user has this username.
    #[error("no user is called {0:?}")]
    UserNotFound(String),
    /// The named user is not a member.
    #[error("that user is not a member of this room")]
    MemberNotFound,
    /// The caller holds no invitation to this room.
    #[error("you have no pending invitation to this room")]
    InvitationNotFound,
    /// The caller is not a member of a room they can see.
    #[error("you are not a member of this room; join it first")]
    NotMember,
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The invitee is a member already.
    #[error("{0} is already a member of this room")]
    AlreadyMember(String),
    /// The room's state does not allow this.
    #[error("{0}")]
    Precondition(&'static str),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

fn describe(violations: &[FieldViolation]) -> String {
    let parts: Vec<String> = violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
    format!("invalid request: {}", parts.join("; "))
}

fn invalid(field: &'static str, description: impl Into<String>) -> Error {
    Error::Invalid(vec![FieldViolation::new(field, description)])
}

impl From<FieldViolation> for Error {
    fn from(v: FieldViolation) -> Self {
        Self::Invalid(vec![v])
    }
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::RoomNotFound | Self::UserNotFound(_) | Self::MemberNotFound | Self::InvitationNotFound => {
                ErrorCode::NotFound
            }
            Self::NotMember | Self::Forbidden(_) => ErrorCode::PermissionDenied,
            Self::AlreadyMember(_) => ErrorCode::AlreadyExists,
            Self::Precondition(_) => ErrorCode::FailedPrecondition,
            Self::Storage(e) => e.code(),
        }
    }

    fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::Invalid(v) => v,
            _ => &[],
        }
    }
}

/// Whether `standing` hides the room: private, and the user neither a member nor invited.
fn hidden(standing: &Standing) -> bool {
    standing.room.visibility == Visibility::Private && standing.role.is_none() && !standing.invited
}

/// The rooms service. One per node.
#[derive(Debug, Clone)]
pub struct Rooms {
    db: Db,
    bus: Bus,
}

impl Rooms {
    /// The service.
    pub fn new(db: Db, bus: Bus) -> Self {
        Self { db, bus }
    }

    /// Creates a group room owned by `who`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a name of other than 1 to 100 characters, a topic over 1000, control
    /// characters in the name, or no visibility.
    pub async fn create(
        &self,
        who: UserId,
        name: &str,
        topic: &str,
        visibility: Option<Visibility>,
    ) -> Result<RoomView, Error> {
        let mut violations = Vec::new();
        let name_len = name.chars().count();
        if name.trim().is_empty() || name_len > 100 {
            violations.push(FieldViolation::new(
                "name",
                format!("must be 1 to 100 characters, not all spaces (is {name_len})"),
            ));
        } else if name.chars().any(char::is_control) {
            violations.push(FieldViolation::new("name", "must not contain control characters"));
        }
        let topic_len = topic.chars().count();
        if topic_len > 1000 {
            violations.push(FieldViolation::new("topic", format!("must be at most 1000 characters (is {topic_len})")));
        }
        let Some(visibility) = visibility else {
            violations.push(FieldViolation::new("visibility", "must be VISIBILITY_PUBLIC or VISIBILITY_PRIVATE"));
            return Err(Error::Invalid(violations));
        };
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        let key = types::text::search_key(name);
        let new = NewRoom { name, name_key: &key, topic, visibility };
        let change = store::create(&mut self.db.write().await?, &new, who, Millis::now()).await?;
        tracing::info!(room_id = %change.room.id, "room created");
        self.published(&change, Some((who, Event::Joined { room_id: change.room.id, after_seq: 0 })));
        Ok(RoomView { room: change.room, caller_role: Some(Role::Owner), direct_peer: None })
    }

    /// The room as `who` sees it.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] when it does not exist or is hidden from `who`.
    pub async fn get(&self, who: UserId, room: RoomId) -> Result<RoomView, Error> {
        let standing = self.visible(who, room).await?;
        self.view(who, standing.room, standing.role).await
    }

    /// Requires `who` to be a member of `room`, and returns the room and their role.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] when the room does not exist or is private; [`Error::NotMember`] for a
    /// public room `who` is not in.
    pub async fn access(&self, who: UserId, room: RoomId) -> Result<(Room, Role), Error> {
        let standing = self.visible(who, room).await?;
        match standing.role {
            Some(role) => Ok((standing.room, role)),
            None if standing.room.visibility == Visibility::Private => Err(Error::RoomNotFound),
            None => Err(Error::NotMember),
        }
    }

    /// One page of rooms, ordered by creation, and the token of the next page if there is one.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative page size, a token from another listing or a filter over 100
    /// characters.
    pub async fn list(
        &self,
        who: UserId,
        scope: Scope,
        page_size: i32,
        page_token: &str,
        name_filter: &str,
    ) -> Result<(Vec<RoomView>, Option<String>), Error> {
        let limit = page::size("page_size", page_size)?;
        let (listing, name) = match scope {
            Scope::Joined => (Listing::Joined(who), "joined"),
            Scope::Public => (Listing::Public, "public"),
            Scope::Invited => (Listing::Invited(who), "invited"),
        };
        let after = match page::decode(name, page_token)? {
            Some(key) => Some(
                key.parse::<RoomId>()
                    .map_err(|_| invalid("page_token", "is not a token from a previous page of this listing"))?,
            ),
            None => None,
        };
        if name_filter.chars().count() > 100 {
            return Err(invalid("name_filter", "must be at most 100 characters"));
        }
        let pattern =
            (!name_filter.is_empty()).then(|| format!("%{}%", escape_like(&types::text::search_key(name_filter))));
        let mut conn = self.db.read().await?;
        let (rooms, more) = store::list(&mut conn, listing, after, pattern.as_deref(), limit).await?;
        let ids: Vec<RoomId> = rooms.iter().map(|r| r.id).collect();
        let roles = store::roles(&mut conn, who, &ids).await?;
        let direct: Vec<RoomId> = rooms.iter().filter(|r| r.kind == RoomKind::Direct).map(|r| r.id).collect();
        let peers: HashMap<RoomId, User> = store::other_members(&mut conn, who, &direct).await?.into_iter().collect();
        let next = if more { rooms.last().map(|r| page::encode(name, &r.id.to_string())) } else { None };
        let views = rooms
            .into_iter()
            .map(|room| RoomView {
                caller_role: roles.get(&room.id).copied(),
                direct_peer: peers.get(&room.id).cloned(),
                room,
            })
            .collect();
        Ok((views, next))
    }

    /// Makes `who` a member of a public room, or of a private room they are invited to. Joining again
    /// changes nothing.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] for a missing room or a private one without an invitation.
    pub async fn join(&self, who: UserId, room: RoomId) -> Result<RoomView, Error> {
        let may_join = |s: &Standing| {
            if hidden(s) || s.room.kind == RoomKind::Direct { Err(Error::RoomNotFound) } else { Ok(()) }
        };
        let outcome = store::join(&mut self.db.write().await?, room, who, Millis::now(), may_join).await;
        let joined = not_found_is_room(outcome)??;
        let (room, role) = match joined {
            Joined::AlreadyMember(room) => {
                let role = store::roles(&mut self.db.read().await?, who, &[room.id]).await?.get(&room.id).copied();
                (room, role)
            }
            Joined::Joined(change) => {
                let join = change.entries.first().map(|e| e.seq - 1).unwrap_or_default();
                self.published(&change, Some((who, Event::Joined { room_id: room, after_seq: join })));
                tracing::info!(room_id = %room, "joined");
                let role = change.entries.first().and_then(|e| e.subject.as_ref()).and_then(|s| s.role);
                (change.room, role)
            }
        };
        self.view(who, room, role).await
    }

    /// Ends `who`'s membership (handing ownership over if they owned the room).
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] for a missing or hidden room; [`Error::Precondition`] when `who` is not a
    /// member or the room is a direct conversation.
    pub async fn leave(&self, who: UserId, room: RoomId) -> Result<(), Error> {
        let standing = self.visible(who, room).await?;
        if standing.room.kind == RoomKind::Direct {
            return Err(Error::Precondition("direct conversations cannot be left"));
        }
        let change = not_found_is_room(store::leave(&mut self.db.write().await?, room, who, Millis::now()).await)?
            .ok_or(Error::Precondition("you are not a member of this room"))?;
        let seq = change.entries.first().map(|e| e.seq).unwrap_or_default();
        self.published(&change, Some((who, Event::Departed { room_id: room, seq, reason: Departure::Left })));
        tracing::info!(room_id = %room, "left");
        Ok(())
    }

    /// Lets `username` join `room`. Any member may invite; inviting twice changes nothing.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`], [`Error::NotMember`], [`Error::UserNotFound`], [`Error::AlreadyMember`], or
    /// [`Error::Precondition`] for a direct room.
    pub async fn invite(&self, who: UserId, room: RoomId, username: &str) -> Result<(), Error> {
        // Visibility first, so that a hidden room cannot be probed through the username's error.
        let standing = self.visible(who, room).await?;
        if standing.role.is_none() {
            return Err(if standing.room.visibility == Visibility::Private {
                Error::RoomNotFound
            } else {
                Error::NotMember
            });
        }
        let invitee = self.user_by_name(username).await?;
        let may_invite = |s: &Standing| match (s.role, s.room.kind) {
            (None, _) => Err(Error::NotMember),
            (_, RoomKind::Direct) => Err(Error::Precondition("direct conversations cannot take more members")),
            _ => Ok(()),
        };
        let outcome =
            store::invite(&mut self.db.write().await?, room, who, invitee.id, Millis::now(), may_invite).await;
        match not_found_is_room(outcome)?? {
            Invited::AlreadyMember => Err(Error::AlreadyMember(invitee.username)),
            Invited::AlreadyInvited => Ok(()),
            Invited::Invited(change) => {
                let inviter = users::get_many(&mut self.db.read().await?, &[who]).await?.pop();
                let event = inviter.map(|by| (invitee.id, Event::Invited { room_id: room, by }));
                self.published(&change, event);
                tracing::info!(room_id = %room, invitee = %invitee.id, "invited");
                Ok(())
            }
        }
    }

    /// Ends `who`'s pending invitation to `room` without joining; the timeline records it and `who`'s
    /// streams on every device are told.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] for a missing or hidden room; [`Error::InvitationNotFound`] when `who` holds
    /// no invitation to it.
    pub async fn decline(&self, who: UserId, room: RoomId) -> Result<(), Error> {
        let standing = self.visible(who, room).await?;
        if !standing.invited {
            return Err(Error::InvitationNotFound);
        }
        let change = not_found_is_room(store::decline(&mut self.db.write().await?, room, who, Millis::now()).await)?
            .ok_or(Error::InvitationNotFound)?;
        self.published(&change, Some((who, Event::InvitationEnded { room_id: room })));
        tracing::info!(room_id = %room, "invitation declined");
        Ok(())
    }

    /// Removes `target` from `room`. The owner may remove anyone else; admins may remove members.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `target` is `who`; [`Error::Forbidden`] or [`Error::NotMember`] without the
    /// right; [`Error::MemberNotFound`] when `target` is not a member; [`Error::RoomNotFound`].
    pub async fn remove(&self, who: UserId, room: RoomId, target: UserId) -> Result<(), Error> {
        if target == who {
            return Err(invalid("user_id", "is you; to leave a room use LeaveRoom"));
        }
        self.visible(who, room).await?;
        let may_remove = |actor: Option<Role>, subject: Option<Role>| match (actor, subject) {
            (None, _) => Err(Error::NotMember),
            (Some(Role::Member), _) => Err(Error::Forbidden("only the owner and admins may remove members")),
            (_, None) => Ok(()),
            (_, Some(Role::Owner)) => Err(Error::Forbidden("nobody may remove the room's owner")),
            (Some(Role::Admin), Some(Role::Admin)) => {
                Err(Error::Forbidden("admins may not remove other admins; ask the owner"))
            }
            _ => Ok(()),
        };
        let outcome = store::remove(&mut self.db.write().await?, room, who, target, Millis::now(), may_remove).await;
        let change = not_found_is_room(outcome)??.ok_or(Error::MemberNotFound)?;
        let seq = change.entries.first().map(|e| e.seq).unwrap_or_default();
        self.published(&change, Some((target, Event::Departed { room_id: room, seq, reason: Departure::Removed })));
        tracing::info!(room_id = %room, removed = %target, "member removed");
        Ok(())
    }

    /// Changes `target`'s role; only the owner may. [`Role::Owner`] hands ownership over (the former owner
    /// becomes an admin).
    ///
    /// # Errors
    /// [`Error::Invalid`] for no role or when `target` is `who`; [`Error::Forbidden`] or
    /// [`Error::NotMember`] for anyone but the owner; [`Error::MemberNotFound`]; [`Error::RoomNotFound`].
    pub async fn set_role(&self, who: UserId, room: RoomId, target: UserId, role: Option<Role>) -> Result<(), Error> {
        let role = role.ok_or_else(|| invalid("role", "must be ROLE_OWNER, ROLE_ADMIN or ROLE_MEMBER"))?;
        if target == who {
            return Err(invalid("user_id", "is you; to give up ownership, make another member ROLE_OWNER"));
        }
        self.visible(who, room).await?;
        let may_set = |actor: Option<Role>, _subject: Option<Role>| match actor {
            None => Err(Error::NotMember),
            Some(Role::Owner) => Ok(()),
            Some(_) => Err(Error::Forbidden("only the room's owner may change roles")),
        };
        let outcome =
            store::set_role(&mut self.db.write().await?, room, who, target, role, Millis::now(), may_set).await;
        let change = not_found_is_room(outcome)??.ok_or(Error::MemberNotFound)?;
        self.published(&change, None);
        tracing::info!(room_id = %room, member = %target, ?role, "role changed");
        Ok(())
    }

    /// One page of a room's members, in the order they joined; `who` must be a member.
    ///
    /// # Errors
    /// As [`Rooms::access`]; [`Error::Invalid`] for a bad page size or token.
    pub async fn members(
        &self,
        who: UserId,
        room: RoomId,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Member>, Option<String>), Error> {
        let limit = page::size("page_size", page_size)?;
        let listing = format!("members {room}");
        let after = match page::decode(&listing, page_token)? {
            Some(key) => key
                .parse::<i64>()
                .map_err(|_| invalid("page_token", "is not a token from a previous page of this listing"))?,
            None => 0,
        };
        self.access(who, room).await?;
        let (members, more) = store::members(&mut self.db.read().await?, room, after, limit).await?;
        let next = if more { members.last().map(|(_, seq)| page::encode(&listing, &seq.to_string())) } else { None };
        Ok((members.into_iter().map(|(m, _)| m).collect(), next))
    }

    /// The direct room of `who` and `username`, created on first use.
    ///
    /// # Errors
    /// [`Error::UserNotFound`]; [`Error::Invalid`] when `username` is `who`.
    pub async fn direct(&self, who: UserId, username: &str) -> Result<RoomView, Error> {
        let peer = self.user_by_name(username).await?;
        if peer.id == who {
            return Err(invalid("username", "is you; a direct conversation needs another user"));
        }
        let (room, created) = store::direct(&mut self.db.write().await?, who, peer.id, Millis::now()).await?;
        if let Some(change) = created {
            self.published(&change, Some((who, Event::Joined { room_id: room.id, after_seq: 0 })));
            self.bus.publish(Topic::User(peer.id), Event::Joined { room_id: room.id, after_seq: 0 });
            tracing::info!(room_id = %room.id, "direct room created");
        }
        Ok(RoomView { room, caller_role: Some(Role::Member), direct_peer: Some(peer) })
    }

    /// The rooms `who` is a member of.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn joined_room_ids(&self, who: UserId) -> Result<Vec<RoomId>, Error> {
        Ok(store::room_ids_of(&mut self.db.read().await?, who).await?)
    }

    /// `who`'s standing in `room`, if they may see it.
    async fn visible(&self, who: UserId, room: RoomId) -> Result<Standing, Error> {
        let standing = store::standing(&mut self.db.read().await?, room, who).await?;
        standing.filter(|s| !hidden(s)).ok_or(Error::RoomNotFound)
    }

    async fn view(&self, who: UserId, room: Room, caller_role: Option<Role>) -> Result<RoomView, Error> {
        let direct_peer = if room.kind == RoomKind::Direct {
            store::other_members(&mut self.db.read().await?, who, &[room.id]).await?.pop().map(|(_, u)| u)
        } else {
            None
        };
        Ok(RoomView { room, caller_role, direct_peer })
    }

    async fn user_by_name(&self, username: &str) -> Result<User, Error> {
        let key = types::text::username_key(username);
        users::find_by_username_key(&mut self.db.read().await?, &key)
            .await?
            .ok_or_else(|| Error::UserNotFound(username.to_owned()))
    }

    /// Publishes a committed change: its entries on the room's topic, then `user_event` on that user's.
    fn published(&self, change: &Change, user_event: Option<(UserId, Event)>) {
        for entry in &change.entries {
            self.bus.publish(Topic::Room(entry.room_id), Event::Entry(Arc::new(entry.clone())));
        }
        if let Some((user, event)) = user_event {
            self.bus.publish(Topic::User(user), event);
        }
    }
}

/// Storage's "room not found" is this crate's [`Error::RoomNotFound`].
fn not_found_is_room<T>(result: Result<T, storage::Error>) -> Result<T, Error> {
    result.map_err(|e| match e {
        storage::Error::NotFound("room") => Error::RoomNotFound,
        other => Error::Storage(other),
    })
}

/// `text` with SQL `LIKE` wildcards escaped (escape character `\`).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("100%_a\\b"), "100\\%\\_a\\\\b");
    }
}
