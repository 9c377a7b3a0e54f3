//! Rooms and who belongs to them: creating rooms, the public directory, private rooms that only members and
//! invitees can see, invitations, roles and removal, ownership hand-over, and direct conversations.
//!
//! **Invariants** (each decided here, in plain code between the storage steps of one transaction, and shown
//! by this crate's tests on both backends):
//! - A private room is indistinguishable from a room that does not exist for anyone who is neither a member
//!   nor invited: every operation answers [`Error::RoomNotFound`] with the same message.
//! - A group room has at most one owner; when the owner leaves, the longest-standing admin, else the
//!   longest-standing member, becomes owner; an empty room keeps its history and has no owner, and whoever
//!   joins it next becomes its owner.
//! - Every change of membership takes the room's lock, checks the caller's right against what it then
//!   reads, and appends a timeline entry in the same transaction; it is published on the bus only after
//!   the commit, so history and live subscribers see the same thing.
//!
//! **Never:** see gRPC types, or let storage decide a rule. Errors: [`Error`], mapped to codes and reasons
//! through [`types::DomainError`].

mod error;
mod membership;

use std::collections::HashMap;
use std::sync::Arc;

use bus::{Bus, Event, Topic};
use storage::rooms::Listing;
use storage::{Conn, Db};
use types::page::{decode_token, encode_token};
use types::{Entry, Member, PageSize, ReadState, Role, Room, RoomId, RoomKind, User, UserId, Visibility};

pub use error::Error;
use error::invalid;

/// The longest page token this crate issues is well under this many bytes.
const MAX_TOKEN: usize = 256;

/// A room as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    /// The room.
    pub room: Room,
    /// The viewer's role; `None` when not a member.
    pub caller_role: Option<Role>,
    /// For direct rooms: the other participant.
    pub direct_peer: Option<User>,
    /// The viewer's read state; `None` when not a member.
    pub read: Option<ReadState>,
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

/// A user's standing in a room, as read (under the room's lock, inside a change).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Standing {
    room: Room,
    role: Option<Role>,
    invited: bool,
}

impl Standing {
    /// The room and `user`'s standing in it, or `None` if there is no such room.
    async fn read(conn: &mut Conn, room: RoomId, user: UserId) -> Result<Option<Self>, storage::Error> {
        let Some(found) = conn.room(room).await? else { return Ok(None) };
        let role = conn.role(room, user).await?;
        let invited = conn.is_invited(room, user).await?;
        Ok(Some(Self { room: found, role, invited }))
    }

    /// Whether the room is hidden from the user: private, and the user neither a member nor invited.
    fn hidden(&self) -> bool {
        self.room.visibility == Visibility::Private && self.role.is_none() && !self.invited
    }
}

/// A committed change of membership: the room afterwards and the timeline entries that record it.
#[derive(Debug)]
struct Change {
    room: Room,
    entries: Vec<Entry>,
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

    /// The room as `who` sees it.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] when it does not exist or is hidden from `who`.
    pub async fn get(&self, who: UserId, room: RoomId) -> Result<RoomView, Error> {
        let standing = self.visible(who, room).await?;
        self.view(who, standing.room, standing.role).await
    }

    /// Deletes `room` with everything in it (its timeline, memberships and invitations): the server's
    /// operator's act, not a member's, so no role is asked for. Its subscribers learn of it from the tail
    /// check of their node (`messaging`), since the deletion may come from another process.
    ///
    /// # Errors
    /// [`Error::RoomNotFound`] when there is no such room.
    pub async fn delete(&self, room: RoomId) -> Result<(), Error> {
        self.db
            .transaction(async |tx| {
                // The room's row lock first, as every append takes it: sends in flight either commit before
                // the deletion or find no room after it.
                if tx.lock_room(room).await?.is_none() {
                    return Err(Error::RoomNotFound);
                }
                tx.delete_room(room).await?;
                Ok(())
            })
            .await?;
        tracing::info!(room_id = %room, "room deleted");
        Ok(())
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
    /// [`Error::Invalid`] for a token from another listing or a filter over 100 characters.
    pub async fn list(
        &self,
        who: UserId,
        scope: Scope,
        size: PageSize,
        page_token: &str,
        name_filter: &str,
    ) -> Result<(Vec<RoomView>, Option<String>), Error> {
        if page_token.len() > MAX_TOKEN {
            return Err(invalid("page_token", "is not a token from a previous page of this listing"));
        }
        let (listing, name) = match scope {
            Scope::Joined => (Listing::Joined(who), "joined"),
            Scope::Public => (Listing::Public, "public"),
            Scope::Invited => (Listing::Invited(who), "invited"),
        };
        let after = match decode_token("page_token", name, page_token)? {
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
        let (rooms, more) = conn.list_rooms(listing, after, pattern.as_deref(), size.get()).await?;
        let ids: Vec<RoomId> = rooms.iter().map(|r| r.id).collect();
        let roles = conn.roles(who, &ids).await?;
        let direct: Vec<RoomId> = rooms.iter().filter(|r| r.kind == RoomKind::Direct).map(|r| r.id).collect();
        let peers: HashMap<RoomId, User> = conn.other_members(who, &direct).await?.into_iter().collect();
        // Kept counts, read in one statement for the page, plus the unread mentions: never a count of
        // messages per room (see `Conn::read_states`).
        let joined: Vec<RoomId> = ids.iter().filter(|id| roles.contains_key(id)).copied().collect();
        let reads = conn.read_states(who, &joined).await?;
        let next = if more { rooms.last().map(|r| encode_token(name, &r.id.to_string())) } else { None };
        let views = rooms
            .into_iter()
            .map(|room| RoomView {
                caller_role: roles.get(&room.id).copied(),
                direct_peer: peers.get(&room.id).cloned(),
                read: reads.get(&room.id).copied(),
                room,
            })
            .collect();
        Ok((views, next))
    }

    /// One page of a room's members, in the order they joined; `who` must be a member.
    ///
    /// # Errors
    /// As [`Rooms::access`]; [`Error::Invalid`] for a token from another listing.
    pub async fn members(
        &self,
        who: UserId,
        room: RoomId,
        size: PageSize,
        page_token: &str,
    ) -> Result<(Vec<Member>, Option<String>), Error> {
        if page_token.len() > MAX_TOKEN {
            return Err(invalid("page_token", "is not a token from a previous page of this listing"));
        }
        let listing = format!("members {room}");
        let after = match decode_token("page_token", &listing, page_token)? {
            Some(key) => key
                .parse::<i64>()
                .map_err(|_| invalid("page_token", "is not a token from a previous page of this listing"))?,
            None => 0,
        };
        self.access(who, room).await?;
        let (members, more) = self.db.read().await?.members(room, after, size.get()).await?;
        let next = if more { members.last().map(|(_, seq)| encode_token(&listing, &seq.to_string())) } else { None };
        Ok((members.into_iter().map(|(m, _)| m).collect(), next))
    }

    /// The rooms `who` is a member of.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn joined_room_ids(&self, who: UserId) -> Result<Vec<RoomId>, Error> {
        Ok(self.db.read().await?.room_ids_of(who).await?)
    }

    /// `who`'s standing in `room`, if they may see it.
    async fn visible(&self, who: UserId, room: RoomId) -> Result<Standing, Error> {
        let standing = Standing::read(&mut self.db.read().await?, room, who).await?;
        standing.filter(|s| !s.hidden()).ok_or(Error::RoomNotFound)
    }

    async fn view(&self, who: UserId, room: Room, caller_role: Option<Role>) -> Result<RoomView, Error> {
        let mut conn = self.db.read().await?;
        let direct_peer = if room.kind == RoomKind::Direct {
            conn.other_members(who, &[room.id]).await?.pop().map(|(_, u)| u)
        } else {
            None
        };
        let read = if caller_role.is_some() { conn.read_states(who, &[room.id]).await?.remove(&room.id) } else { None };
        Ok(RoomView { room, caller_role, direct_peer, read })
    }

    async fn user_by_name(&self, username: &str) -> Result<User, Error> {
        // No username is longer; refused before it is normalised or looked up.
        if username.chars().count() > 32 {
            return Err(invalid("username", "must be at most 32 characters"));
        }
        let key = types::text::username_key(username);
        self.db.read().await?.user_by_username_key(&key).await?.ok_or_else(|| Error::UserNotFound(username.to_owned()))
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
