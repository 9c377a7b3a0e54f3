//! Rooms, memberships and invitations.
//!
//! Every change of membership is one transaction that locks the room's row, checks the caller's right to
//! make the change against the state it then reads (the rule itself is a closure from the `rooms` crate, so
//! it is applied to fresh data with no race between check and change), changes the rows and appends the
//! timeline entry that records the change.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use types::{Entry, EntryKind, Member, Millis, Role, Room, RoomId, RoomKind, User, UserId, Visibility};

use crate::codes;
use crate::db::{Conn, for_each_backend, run};
use crate::error::{Error, Result, is_unique_violation};
use crate::schema::{invites, memberships, rooms, users};
use crate::timeline::{NewEntry, TimelineTx as _};
use crate::users::{USER_COLUMNS, UserRow, user_from_row};

/// A group room to create.
#[derive(Debug, Clone, Copy)]
pub struct NewRoom<'a> {
    /// 1 to 100 characters.
    pub name: &'a str,
    /// The name as the directory's filter compares it (case folded).
    pub name_key: &'a str,
    /// At most 1000 characters.
    pub topic: &'a str,
    /// Public or private.
    pub visibility: Visibility,
}

/// A user's standing in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The room.
    pub room: Room,
    /// The user's role, if a member.
    pub role: Option<Role>,
    /// Whether the user holds an invitation.
    pub invited: bool,
}

/// The result of a change of membership: the room afterwards and the timeline entries that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The room after the change.
    pub room: Room,
    /// The entries appended, in seq order.
    pub entries: Vec<Entry>,
}

/// The outcome of a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The user is now a member.
    Joined(Change),
    /// The user was a member already; nothing changed.
    AlreadyMember(Room),
}

/// The outcome of an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invited {
    /// The invitation is recorded.
    Invited(Change),
    /// The user was invited already; nothing changed.
    AlreadyInvited,
    /// The user is a member; nothing changed.
    AlreadyMember,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rooms)]
struct RoomRow {
    id: Vec<u8>,
    name: String,
    topic: String,
    visibility: i16,
    kind: i16,
    owner_id: Option<Vec<u8>>,
    created_at: i64,
    member_count: i64,
    last_seq: i64,
}

impl RoomRow {
    fn into_room(self) -> Result<Room> {
        Ok(Room {
            id: RoomId::from_slice(&self.id)?,
            name: self.name,
            topic: self.topic,
            visibility: codes::to_visibility(self.visibility)?,
            kind: codes::to_room_kind(self.kind)?,
            owner_id: self.owner_id.as_deref().map(UserId::from_slice).transpose()?,
            created_at: Millis(self.created_at),
            member_count: self.member_count,
            last_seq: self.last_seq,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = rooms)]
#[diesel(treat_none_as_default_value = false)]
struct NewRoomRow<'a> {
    id: &'a [u8],
    name: &'a str,
    name_key: &'a str,
    topic: &'a str,
    visibility: i16,
    kind: i16,
    owner_id: Option<&'a [u8]>,
    direct_key: Option<&'a str>,
    created_at: i64,
    member_count: i64,
    last_seq: i64,
}

#[derive(Insertable)]
#[diesel(table_name = memberships)]
struct MembershipRow<'a> {
    room_id: &'a [u8],
    user_id: &'a [u8],
    role: i16,
    joined_at: i64,
    joined_seq: i64,
}

/// Helpers shared by this module's transactions.
pub(crate) trait RoomTx {
    async fn room(&mut self, room: RoomId) -> Result<Room>;
    async fn role(&mut self, room: RoomId, user: UserId) -> Result<Option<Role>>;
    async fn is_invited(&mut self, room: RoomId, user: UserId) -> Result<bool>;
    async fn add_member(&mut self, room: RoomId, user: UserId, role: Role, entry: &Entry) -> Result<()>;
    async fn set_owner(&mut self, room: RoomId, owner: Option<UserId>) -> Result<()>;
    async fn set_role(&mut self, room: RoomId, user: UserId, role: Role) -> Result<()>;
    async fn delete_member(&mut self, room: RoomId, user: UserId) -> Result<()>;
    async fn delete_invite(&mut self, room: RoomId, user: UserId) -> Result<()>;
    async fn successor(&mut self, room: RoomId) -> Result<Option<UserId>>;
}

for_each_backend!(impl RoomTx {
    async fn room(&mut self, room: RoomId) -> Result<Room> {
        rooms::table
            .find(room.as_bytes().as_slice())
            .select(RoomRow::as_select())
            .first(self)
            .await
            .optional()?
            .ok_or(Error::NotFound("room"))?
            .into_room()
    }

    async fn role(&mut self, room: RoomId, user: UserId) -> Result<Option<Role>> {
        memberships::table
            .find((room.as_bytes().as_slice(), user.as_bytes().as_slice()))
            .select(memberships::role)
            .first::<i16>(self)
            .await
            .optional()?
            .map(codes::to_role)
            .transpose()
    }

    async fn is_invited(&mut self, room: RoomId, user: UserId) -> Result<bool> {
        let n: i64 = invites::table
            .find((room.as_bytes().as_slice(), user.as_bytes().as_slice()))
            .count()
            .get_result(self)
            .await?;
        Ok(n > 0)
    }

    async fn add_member(&mut self, room: RoomId, user: UserId, role: Role, entry: &Entry) -> Result<()> {
        diesel::insert_into(memberships::table)
            .values(MembershipRow {
                room_id: room.as_bytes(),
                user_id: user.as_bytes(),
                role: codes::role(role),
                joined_at: entry.created_at.0,
                joined_seq: entry.seq,
            })
            .execute(self)
            .await?;
        Ok(())
    }

    async fn set_owner(&mut self, room: RoomId, owner: Option<UserId>) -> Result<()> {
        diesel::update(rooms::table.find(room.as_bytes().as_slice()))
            .set(rooms::owner_id.eq(owner.map(|o| o.to_vec())))
            .execute(self)
            .await?;
        Ok(())
    }

    async fn set_role(&mut self, room: RoomId, user: UserId, role: Role) -> Result<()> {
        diesel::update(memberships::table.find((room.as_bytes().as_slice(), user.as_bytes().as_slice())))
            .set(memberships::role.eq(codes::role(role)))
            .execute(self)
            .await?;
        Ok(())
    }

    async fn delete_member(&mut self, room: RoomId, user: UserId) -> Result<()> {
        diesel::delete(memberships::table.find((room.as_bytes().as_slice(), user.as_bytes().as_slice())))
            .execute(self)
            .await?;
        Ok(())
    }

    async fn delete_invite(&mut self, room: RoomId, user: UserId) -> Result<()> {
        diesel::delete(invites::table.find((room.as_bytes().as_slice(), user.as_bytes().as_slice())))
            .execute(self)
            .await?;
        Ok(())
    }

    async fn successor(&mut self, room: RoomId) -> Result<Option<UserId>> {
        // The longest-standing admin, else the longest-standing member.
        let admin = codes::role(Role::Admin);
        let candidates: Vec<(Vec<u8>, i16)> = memberships::table
            .filter(memberships::room_id.eq(room.as_bytes().as_slice()))
            .filter(memberships::role.ne(codes::role(Role::Owner)))
            .order(memberships::joined_seq.asc())
            .select((memberships::user_id, memberships::role))
            .load(self)
            .await?;
        let pick = candidates.iter().find(|(_, role)| *role == admin).or_else(|| <[_]>::first(&candidates));
        pick.map(|(id, _)| UserId::from_slice(id)).transpose().map_err(Error::from)
    }
});

/// Creates a group room with `owner` as its owner and first member.
///
/// # Errors
/// Database errors only.
pub async fn create(conn: &mut Conn, new: &NewRoom<'_>, owner: UserId, now: Millis) -> Result<Change> {
    let id = RoomId::new();
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            diesel::insert_into(rooms::table)
                .values(NewRoomRow {
                    id: id.as_bytes(),
                    name: new.name,
                    name_key: new.name_key,
                    topic: new.topic,
                    visibility: codes::visibility(new.visibility),
                    kind: codes::room_kind(RoomKind::Group),
                    owner_id: Some(owner.as_bytes()),
                    direct_key: None,
                    created_at: now.0,
                    member_count: 0,
                    last_seq: 0,
                })
                .execute(tx)
                .await?;
            let joined = NewEntry::membership(EntryKind::MemberJoined, owner, owner, Some(Role::Owner));
            let entries = tx.append(id, 0, &[joined], 1, now).await?;
            tx.add_member(id, owner, Role::Owner, &entries[0]).await?;
            Ok(Change { room: tx.room(id).await?, entries })
        })
        .await)
}

/// The room with this id.
///
/// # Errors
/// Database errors only.
pub async fn get(conn: &mut Conn, room: RoomId) -> Result<Option<Room>> {
    match run!(conn, |c| c.room(room).await) {
        Ok(room) => Ok(Some(room)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The room and the user's standing in it, or `None` if there is no such room.
///
/// # Errors
/// Database errors only.
pub async fn standing(conn: &mut Conn, room: RoomId, user: UserId) -> Result<Option<Standing>> {
    let Some(found) = get(conn, room).await? else {
        return Ok(None);
    };
    let (role, invited) = run!(conn, |c| (c.role(room, user).await?, c.is_invited(room, user).await?));
    Ok(Some(Standing { room: found, role, invited }))
}

/// Makes `user` a member if `may_join` allows it, given the user's standing read under the room's lock.
/// The first member of a group room without an owner becomes its owner.
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist; `Ok(Err(e))` when `may_join` refuses.
pub async fn join<E: Send>(
    conn: &mut Conn,
    room: RoomId,
    user: UserId,
    now: Millis,
    may_join: impl FnOnce(&Standing) -> Result<(), E> + Send,
) -> Result<Result<Joined, E>> {
    let outcome = run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            let standing = Standing {
                room: tx.room(room).await?,
                role: tx.role(room, user).await?,
                invited: tx.is_invited(room, user).await?,
            };
            if standing.role.is_some() {
                return Ok(Ok(Joined::AlreadyMember(standing.room)));
            }
            if let Err(e) = may_join(&standing) {
                return Ok(Err(e));
            }
            let becomes_owner = standing.room.kind == RoomKind::Group && standing.room.owner_id.is_none();
            let role = if becomes_owner { Role::Owner } else { Role::Member };
            let joined = NewEntry::membership(EntryKind::MemberJoined, user, user, Some(role));
            let entries = tx.append(room, last, &[joined], 1, now).await?;
            tx.add_member(room, user, role, &entries[0]).await?;
            tx.delete_invite(room, user).await?;
            if becomes_owner {
                tx.set_owner(room, Some(user)).await?;
            }
            Ok(Ok(Joined::Joined(Change { room: tx.room(room).await?, entries })))
        })
        .await);
    match outcome {
        // Two joins raced past each other's check (possible only if the lock were bypassed): one membership.
        Err(Error::Query(e)) if is_unique_violation(&e, "PRIMARY") || is_unique_violation(&e, "memberships.") => {
            Ok(Ok(Joined::AlreadyMember(get(conn, room).await?.ok_or(Error::NotFound("room"))?)))
        }
        other => other,
    }
}

/// Ends `user`'s membership. If they owned the room, ownership passes to the longest-standing admin, else
/// the longest-standing member; if they were the last member, the room is left without owner or members
/// and keeps its history. Returns `None` when the user was not a member.
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist.
pub async fn leave(conn: &mut Conn, room: RoomId, user: UserId, now: Millis) -> Result<Option<Change>> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            let Some(role) = tx.role(room, user).await? else {
                return Ok(None);
            };
            tx.delete_member(room, user).await?;
            let mut changes = vec![NewEntry::membership(EntryKind::MemberLeft, user, user, None)];
            if role == Role::Owner {
                let heir = tx.successor(room).await?;
                if let Some(heir) = heir {
                    tx.set_role(room, heir, Role::Owner).await?;
                    changes.push(NewEntry::membership(EntryKind::MemberRoleChanged, user, heir, Some(Role::Owner)));
                }
                tx.set_owner(room, heir).await?;
            }
            let entries = tx.append(room, last, &changes, -1, now).await?;
            Ok(Some(Change { room: tx.room(room).await?, entries }))
        })
        .await)
}

/// Invites `invitee` on behalf of `inviter`, if `may_invite` allows it given the inviter's standing.
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist; `Ok(Err(e))` when `may_invite` refuses.
pub async fn invite<E: Send>(
    conn: &mut Conn,
    room: RoomId,
    inviter: UserId,
    invitee: UserId,
    now: Millis,
    may_invite: impl FnOnce(&Standing) -> Result<(), E> + Send,
) -> Result<Result<Invited, E>> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            let standing = Standing {
                room: tx.room(room).await?,
                role: tx.role(room, inviter).await?,
                invited: tx.is_invited(room, inviter).await?,
            };
            if let Err(e) = may_invite(&standing) {
                return Ok(Err(e));
            }
            if tx.role(room, invitee).await?.is_some() {
                return Ok(Ok(Invited::AlreadyMember));
            }
            if tx.is_invited(room, invitee).await? {
                return Ok(Ok(Invited::AlreadyInvited));
            }
            diesel::insert_into(invites::table)
                .values((
                    invites::room_id.eq(room.as_bytes().as_slice()),
                    invites::user_id.eq(invitee.as_bytes().as_slice()),
                    invites::invited_by.eq(inviter.as_bytes().as_slice()),
                    invites::created_at.eq(now.0),
                ))
                .execute(tx)
                .await?;
            let entry = NewEntry::membership(EntryKind::MemberInvited, inviter, invitee, None);
            let entries = tx.append(room, last, &[entry], 0, now).await?;
            Ok(Ok(Invited::Invited(Change { room: tx.room(room).await?, entries })))
        })
        .await)
}

/// Ends `user`'s pending invitation to `room` without a membership, and records that in the timeline.
/// Returns `None` when the user holds no invitation.
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist.
pub async fn decline(conn: &mut Conn, room: RoomId, user: UserId, now: Millis) -> Result<Option<Change>> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            if !tx.is_invited(room, user).await? {
                return Ok(None);
            }
            tx.delete_invite(room, user).await?;
            let entry = NewEntry::membership(EntryKind::InvitationDeclined, user, user, None);
            let entries = tx.append(room, last, &[entry], 0, now).await?;
            Ok(Some(Change { room: tx.room(room).await?, entries }))
        })
        .await)
}

/// Removes `target` on behalf of `actor`, if `may_remove` allows it given both their roles (read under the
/// room's lock). Also withdraws any invitation of the target. Returns `Ok(Ok(None))` when the target is not
/// a member.
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist; `Ok(Err(e))` when `may_remove` refuses.
pub async fn remove<E: Send>(
    conn: &mut Conn,
    room: RoomId,
    actor: UserId,
    target: UserId,
    now: Millis,
    may_remove: impl FnOnce(Option<Role>, Option<Role>) -> Result<(), E> + Send,
) -> Result<Result<Option<Change>, E>> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            let actor_role = tx.role(room, actor).await?;
            let target_role = tx.role(room, target).await?;
            if let Err(e) = may_remove(actor_role, target_role) {
                return Ok(Err(e));
            }
            if target_role.is_none() {
                return Ok(Ok(None));
            }
            tx.delete_member(room, target).await?;
            tx.delete_invite(room, target).await?;
            let entry = NewEntry::membership(EntryKind::MemberRemoved, actor, target, None);
            let entries = tx.append(room, last, &[entry], -1, now).await?;
            Ok(Ok(Some(Change { room: tx.room(room).await?, entries })))
        })
        .await)
}

/// Gives `target` the role `role` on behalf of `actor`, if `may_set` allows it given both their roles (read
/// under the room's lock). Making someone the owner hands ownership over: the actor becomes an admin.
/// Returns `Ok(Ok(None))` when the target is not a member.
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist; `Ok(Err(e))` when `may_set` refuses.
pub async fn set_role<E: Send>(
    conn: &mut Conn,
    room: RoomId,
    actor: UserId,
    target: UserId,
    role: Role,
    now: Millis,
    may_set: impl FnOnce(Option<Role>, Option<Role>) -> Result<(), E> + Send,
) -> Result<Result<Option<Change>, E>> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            let actor_role = tx.role(room, actor).await?;
            let target_role = tx.role(room, target).await?;
            if let Err(e) = may_set(actor_role, target_role) {
                return Ok(Err(e));
            }
            if target_role.is_none() {
                return Ok(Ok(None));
            }
            if target_role == Some(role) {
                return Ok(Ok(Some(Change { room: tx.room(room).await?, entries: Vec::new() })));
            }
            let mut changes = vec![NewEntry::membership(EntryKind::MemberRoleChanged, actor, target, Some(role))];
            tx.set_role(room, target, role).await?;
            if role == Role::Owner {
                tx.set_role(room, actor, Role::Admin).await?;
                tx.set_owner(room, Some(target)).await?;
                changes.push(NewEntry::membership(EntryKind::MemberRoleChanged, actor, actor, Some(Role::Admin)));
            }
            let entries = tx.append(room, last, &changes, 0, now).await?;
            Ok(Ok(Some(Change { room: tx.room(room).await?, entries })))
        })
        .await)
}

/// The direct room of `a` and `b`, created (with both as members) if it does not exist yet. The second
/// value is the change when this call created it. Concurrent calls for one pair make one room.
///
/// # Errors
/// Database errors only.
pub async fn direct(conn: &mut Conn, a: UserId, b: UserId, now: Millis) -> Result<(Room, Option<Change>)> {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let key = format!("{lo}:{hi}");
    for _ in 0..3 {
        let existing: Option<RoomRow> = run!(conn, |c| rooms::table
            .filter(rooms::direct_key.eq(&key))
            .select(RoomRow::as_select())
            .first(c)
            .await
            .optional())?;
        if let Some(row) = existing {
            return Ok((row.into_room()?, None));
        }
        let id = RoomId::new();
        let created = run!(conn, |c| c
            .transaction::<_, Error, _>(async |tx| {
                diesel::insert_into(rooms::table)
                    .values(NewRoomRow {
                        id: id.as_bytes(),
                        name: "",
                        name_key: "",
                        topic: "",
                        visibility: codes::visibility(Visibility::Private),
                        kind: codes::room_kind(RoomKind::Direct),
                        owner_id: None,
                        direct_key: Some(&key),
                        created_at: now.0,
                        member_count: 0,
                        last_seq: 0,
                    })
                    .execute(tx)
                    .await?;
                let joins = [
                    NewEntry::membership(EntryKind::MemberJoined, a, a, Some(Role::Member)),
                    NewEntry::membership(EntryKind::MemberJoined, b, b, Some(Role::Member)),
                ];
                let entries = tx.append(id, 0, &joins, 2, now).await?;
                tx.add_member(id, a, Role::Member, &entries[0]).await?;
                tx.add_member(id, b, Role::Member, &entries[1]).await?;
                Ok(Change { room: tx.room(id).await?, entries })
            })
            .await);
        match created {
            Ok(change) => return Ok((change.room.clone(), Some(change))),
            // Another call created it first: read theirs.
            Err(Error::Query(e)) if is_unique_violation(&e, "direct_key") => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Corrupt(format!("direct room {key} neither found nor created")))
}

/// Which rooms to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Rooms the user is a member of.
    Joined(UserId),
    /// Rooms the user is invited to.
    Invited(UserId),
    /// Every public room.
    Public,
}

/// One page of rooms ordered by id (creation), after `after`, whose name key matches the SQL `LIKE`
/// pattern `name_like` (escape character `\`) if given; and whether more follow.
///
/// # Errors
/// Database errors only.
pub async fn list(
    conn: &mut Conn,
    listing: Listing,
    after: Option<RoomId>,
    name_like: Option<&str>,
    limit: usize,
) -> Result<(Vec<Room>, bool)> {
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let after = after.map(|a| a.to_vec()).unwrap_or_default();
    let rows: Vec<RoomRow> = run!(conn, |c| {
        let mut query = rooms::table
            .filter(rooms::id.gt(&after))
            .order(rooms::id.asc())
            .limit(fetch)
            .select(RoomRow::as_select())
            .into_boxed();
        query = match listing {
            Listing::Joined(user) => query.filter(rooms::id.eq_any(
                memberships::table.filter(memberships::user_id.eq(user.to_vec())).select(memberships::room_id),
            )),
            Listing::Invited(user) => query.filter(
                rooms::id.eq_any(invites::table.filter(invites::user_id.eq(user.to_vec())).select(invites::room_id)),
            ),
            Listing::Public => query.filter(rooms::visibility.eq(codes::visibility(Visibility::Public))),
        };
        if let Some(pattern) = name_like {
            query = query.filter(rooms::name_key.like(pattern.to_owned()).escape('\\'));
        }
        query.load(c).await
    })?;
    let has_more = rows.len() > limit;
    let rooms = rows.into_iter().take(limit).map(RoomRow::into_room).collect::<Result<_>>()?;
    Ok((rooms, has_more))
}

/// The user's role in each of these rooms where they are a member.
///
/// # Errors
/// Database errors only.
pub async fn roles(conn: &mut Conn, user: UserId, rooms: &[RoomId]) -> Result<HashMap<RoomId, Role>> {
    if rooms.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<&[u8]> = rooms.iter().map(|r| r.as_bytes().as_slice()).collect();
    let rows: Vec<(Vec<u8>, i16)> = run!(conn, |c| memberships::table
        .filter(memberships::user_id.eq(user.as_bytes().as_slice()))
        .filter(memberships::room_id.eq_any(&keys))
        .select((memberships::room_id, memberships::role))
        .load(c)
        .await)?;
    rows.into_iter().map(|(room, role)| Ok((RoomId::from_slice(&room)?, codes::to_role(role)?))).collect()
}

/// For each of these rooms, its members other than `user` (for direct rooms: the peer).
///
/// # Errors
/// Database errors only.
pub async fn other_members(conn: &mut Conn, user: UserId, rooms: &[RoomId]) -> Result<Vec<(RoomId, User)>> {
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&[u8]> = rooms.iter().map(|r| r.as_bytes().as_slice()).collect();
    let rows: Vec<(Vec<u8>, UserRow)> = run!(conn, |c| memberships::table
        .inner_join(users::table)
        .filter(memberships::room_id.eq_any(&keys))
        .filter(memberships::user_id.ne(user.as_bytes().as_slice()))
        .select((memberships::room_id, USER_COLUMNS))
        .load(c)
        .await)?;
    rows.into_iter().map(|(room, u)| Ok((RoomId::from_slice(&room)?, user_from_row(u)?))).collect()
}

/// One page of a room's members in the order they joined, after the member whose join had seq
/// `after_seq`, each with that seq; and whether more follow.
///
/// # Errors
/// Database errors only.
pub async fn members(
    conn: &mut Conn,
    room: RoomId,
    after_seq: i64,
    limit: usize,
) -> Result<(Vec<(Member, i64)>, bool)> {
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let rows: Vec<(UserRow, i16, i64, i64)> = run!(conn, |c| memberships::table
        .inner_join(users::table)
        .filter(memberships::room_id.eq(room.as_bytes().as_slice()))
        .filter(memberships::joined_seq.gt(after_seq))
        .order(memberships::joined_seq.asc())
        .limit(fetch)
        .select((USER_COLUMNS, memberships::role, memberships::joined_at, memberships::joined_seq))
        .load(c)
        .await)?;
    let has_more = rows.len() > limit;
    let members = rows
        .into_iter()
        .take(limit)
        .map(|(user, role, joined_at, seq)| {
            Ok((Member { user: user_from_row(user)?, role: codes::to_role(role)?, joined_at: Millis(joined_at) }, seq))
        })
        .collect::<Result<_>>()?;
    Ok((members, has_more))
}

/// The rooms `user` is a member of.
///
/// # Errors
/// Database errors only.
pub async fn room_ids_of(conn: &mut Conn, user: UserId) -> Result<Vec<RoomId>> {
    let rows: Vec<Vec<u8>> = run!(conn, |c| memberships::table
        .filter(memberships::user_id.eq(user.as_bytes().as_slice()))
        .select(memberships::room_id)
        .load(c)
        .await)?;
    rows.iter().map(|r| Ok(RoomId::from_slice(r)?)).collect()
}

/// The members of a room.
///
/// # Errors
/// Database errors only.
pub async fn member_ids(conn: &mut Conn, room: RoomId) -> Result<Vec<UserId>> {
    let rows: Vec<Vec<u8>> = run!(conn, |c| memberships::table
        .filter(memberships::room_id.eq(room.as_bytes().as_slice()))
        .select(memberships::user_id)
        .load(c)
        .await)?;
    rows.iter().map(|r| Ok(UserId::from_slice(r)?)).collect()
}

/// Everyone who shares at least one room with `user`, `user` included if they are in any room.
///
/// # Errors
/// Database errors only.
pub async fn co_member_ids(conn: &mut Conn, user: UserId) -> Result<Vec<UserId>> {
    let rooms = room_ids_of(conn, user).await?;
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&[u8]> = rooms.iter().map(|r| r.as_bytes().as_slice()).collect();
    let rows: Vec<Vec<u8>> = run!(conn, |c| memberships::table
        .filter(memberships::room_id.eq_any(&keys))
        .select(memberships::user_id)
        .distinct()
        .load(c)
        .await)?;
    rows.iter().map(|r| Ok(UserId::from_slice(r)?)).collect()
}
