//! Rooms, memberships and invitations: the rows, and the small reads and writes that the `rooms` crate
//! composes into transactions. Who may do what, who becomes owner and when, is decided there.

use std::collections::HashMap;

use diesel::prelude::*;
use types::{Member, Millis, ReadState, Role, Room, RoomId, RoomKind, User, UserId, Visibility};

use crate::codes;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result, is_unique_violation};
use crate::schema::{
    invites, memberships, mentions, message_search, messages, reactions, rooms, search_progress, users,
};
use crate::users::{UserRow, user_columns, user_from_row};

/// A room to create.
#[derive(Debug, Clone, Copy)]
pub struct NewRoom<'a> {
    /// Its id.
    pub id: RoomId,
    /// 1 to 100 characters; empty for direct rooms.
    pub name: &'a str,
    /// The name as the directory's filter compares it (case folded).
    pub name_key: &'a str,
    /// At most 1000 characters.
    pub topic: &'a str,
    /// Public or private.
    pub visibility: Visibility,
    /// Group or direct.
    pub kind: RoomKind,
    /// The owner, if any.
    pub owner: Option<UserId>,
    /// For direct rooms, the pair's key; unique.
    pub direct_key: Option<&'a str>,
    /// Now.
    pub created_at: Millis,
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

/// The columns of a [`Room`], in the order of [`RoomRow`]. (Queries name their columns rather than use
/// `as_select()`, whose selection is tied to one backend: a query written once must compile for both.)
#[diesel::dsl::auto_type]
fn room_columns() -> _ {
    (
        rooms::id,
        rooms::name,
        rooms::topic,
        rooms::visibility,
        rooms::kind,
        rooms::owner_id,
        rooms::created_at,
        rooms::member_count,
        rooms::last_seq,
        rooms::last_message_at,
    )
}

#[derive(Queryable)]
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
    last_message_at: Option<i64>,
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
            last_message_at: self.last_message_at.map(Millis),
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
    text_count: i64,
    last_message_at: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = memberships)]
struct MembershipRow<'a> {
    room_id: &'a [u8],
    user_id: &'a [u8],
    role: i16,
    joined_at: i64,
    joined_seq: i64,
    last_read_seq: i64,
    read_count: i64,
}

#[derive(Insertable)]
#[diesel(table_name = invites)]
struct InviteRow<'a> {
    room_id: &'a [u8],
    user_id: &'a [u8],
    invited_by: &'a [u8],
    created_at: i64,
}

fn keys(rooms: &[RoomId]) -> Vec<&[u8]> {
    rooms.iter().map(|r| r.as_bytes().as_slice()).collect()
}

fn member_key(room: RoomId, user: UserId) -> (Vec<u8>, Vec<u8>) {
    (room.to_vec(), user.to_vec())
}

impl Conn {
    /// The room with this id.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn room(&mut self, id: RoomId) -> Result<Option<Room>> {
        let query = rooms::table.find(id.as_bytes().as_slice()).select(room_columns());
        self.first(query).await?.map(RoomRow::into_room).transpose()
    }

    /// The direct room whose pair key is `key`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn direct_room(&mut self, key: &str) -> Result<Option<Room>> {
        let query = rooms::table.filter(rooms::direct_key.eq(key)).select(room_columns()).limit(1);
        self.first(query).await?.map(RoomRow::into_room).transpose()
    }

    /// The user's role in the room, if a member.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn role(&mut self, room: RoomId, user: UserId) -> Result<Option<Role>> {
        let query = memberships::table.find(member_key(room, user)).select(memberships::role);
        self.first::<i16, _>(query).await?.map(codes::to_role).transpose()
    }

    /// Whether the user holds an invitation to the room.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn is_invited(&mut self, room: RoomId, user: UserId) -> Result<bool> {
        let query = invites::table.find(member_key(room, user)).select(invites::created_at);
        Ok(self.first::<i64, _>(query).await?.is_some())
    }

    /// The member with `role` whose latest join is the oldest (the longest-standing), if any.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn longest_standing(&mut self, room: RoomId, role: Role) -> Result<Option<UserId>> {
        let query = memberships::table
            .filter(memberships::room_id.eq(room.as_bytes().as_slice()))
            .filter(memberships::role.eq(codes::role(role)))
            .order(memberships::joined_seq.asc())
            .select(memberships::user_id)
            .limit(1);
        self.first::<Vec<u8>, _>(query).await?.map(|id| Ok(UserId::from_slice(&id)?)).transpose()
    }

    /// One page of rooms ordered by id (creation), after `after`, whose name key matches the SQL `LIKE`
    /// pattern `name_like` (escape character `\`) if given; and whether more follow.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn list_rooms(
        &mut self,
        listing: Listing,
        after: Option<RoomId>,
        name_like: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Room>, bool)> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let after = after.map(|a| a.to_vec()).unwrap_or_default();
        // Without a filter the pattern matches every name, the empty names of direct rooms included, so
        // that each listing is one query shape.
        let pattern = name_like.unwrap_or("%").to_owned();
        let base = rooms::table
            .filter(rooms::id.gt(after))
            .filter(rooms::name_key.like(pattern).escape('\\'))
            .order(rooms::id.asc())
            .limit(fetch)
            .select(room_columns());
        let rows: Vec<RoomRow> = match listing {
            Listing::Joined(user) => {
                let mine =
                    memberships::table.filter(memberships::user_id.eq(user.to_vec())).select(memberships::room_id);
                self.load(base.filter(rooms::id.eq_any(mine))).await?
            }
            Listing::Invited(user) => {
                let mine = invites::table.filter(invites::user_id.eq(user.to_vec())).select(invites::room_id);
                self.load(base.filter(rooms::id.eq_any(mine))).await?
            }
            Listing::Public => {
                self.load(base.filter(rooms::visibility.eq(codes::visibility(Visibility::Public)))).await?
            }
        };
        let has_more = rows.len() > limit;
        let rooms = rows.into_iter().take(limit).map(RoomRow::into_room).collect::<Result<_>>()?;
        Ok((rooms, has_more))
    }

    /// The user's role in each of these rooms where they are a member.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn roles(&mut self, user: UserId, rooms: &[RoomId]) -> Result<HashMap<RoomId, Role>> {
        if rooms.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = keys(rooms);
        let query = memberships::table
            .filter(memberships::user_id.eq(user.as_bytes().as_slice()))
            .filter(memberships::room_id.eq_any(&keys))
            .select((memberships::room_id, memberships::role));
        let rows: Vec<(Vec<u8>, i16)> = self.load(query).await?;
        rows.into_iter().map(|(room, role)| Ok((RoomId::from_slice(&room)?, codes::to_role(role)?))).collect()
    }

    /// For each of these rooms, its members other than `user` (for direct rooms: the peer).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn other_members(&mut self, user: UserId, rooms: &[RoomId]) -> Result<Vec<(RoomId, User)>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys(rooms);
        let query = memberships::table
            .inner_join(users::table)
            .filter(memberships::room_id.eq_any(&keys))
            .filter(memberships::user_id.ne(user.as_bytes().as_slice()))
            .select((memberships::room_id, user_columns()));
        let rows: Vec<(Vec<u8>, UserRow)> = self.load(query).await?;
        rows.into_iter().map(|(room, u)| Ok((RoomId::from_slice(&room)?, user_from_row(u)?))).collect()
    }

    /// One page of a room's members in the order they joined, after the member whose join had seq
    /// `after_seq`, each with that seq; and whether more follow.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn members(&mut self, room: RoomId, after_seq: i64, limit: usize) -> Result<(Vec<(Member, i64)>, bool)> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let query = memberships::table
            .inner_join(users::table)
            .filter(memberships::room_id.eq(room.as_bytes().as_slice()))
            .filter(memberships::joined_seq.gt(after_seq))
            .order(memberships::joined_seq.asc())
            .limit(fetch)
            .select((
                user_columns(),
                memberships::role,
                memberships::joined_at,
                memberships::joined_seq,
                memberships::last_read_seq,
            ));
        let rows: Vec<(UserRow, i16, i64, i64, i64)> = self.load(query).await?;
        let has_more = rows.len() > limit;
        let members = rows
            .into_iter()
            .take(limit)
            .map(|(user, role, joined_at, seq, last_read_seq)| {
                let member = Member {
                    user: user_from_row(user)?,
                    role: codes::to_role(role)?,
                    joined_at: Millis(joined_at),
                    last_read_seq,
                };
                Ok((member, seq))
            })
            .collect::<Result<_>>()?;
        Ok((members, has_more))
    }

    /// `user`'s read state in each of these rooms where they are a member: two small queries whatever the
    /// number of rooms, the first reading one membership row and one room row per room (the counts are kept,
    /// not counted), the second counting only the unread messages that mention `user` (by the `mentions`
    /// index on user).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn read_states(&mut self, user: UserId, rooms: &[RoomId]) -> Result<HashMap<RoomId, ReadState>> {
        if rooms.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = keys(rooms);
        let query = memberships::table
            .inner_join(rooms::table)
            .filter(memberships::user_id.eq(user.as_bytes().as_slice()))
            .filter(memberships::room_id.eq_any(&keys))
            .select((memberships::room_id, memberships::last_read_seq, rooms::text_count, memberships::read_count));
        let rows: Vec<(Vec<u8>, i64, i64, i64)> = self.load(query).await?;
        let mut states = rows
            .into_iter()
            .map(|(room, last_read_seq, texts, read)| {
                let unread_count = (texts - read).max(0);
                Ok((RoomId::from_slice(&room)?, ReadState { last_read_seq, unread_count, mention_count: 0 }))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        // Mentions of `user` after their marker in text messages (an edit entry's own mention rows are not
        // a message of their own).
        let named = mentions::table
            .inner_join(
                memberships::table.on(memberships::room_id
                    .eq(mentions::room_id)
                    .and(memberships::user_id.eq(mentions::user_id))
                    .and(mentions::seq.gt(memberships::last_read_seq))),
            )
            .inner_join(
                messages::table.on(messages::room_id.eq(mentions::room_id).and(messages::seq.eq(mentions::seq))),
            )
            .filter(mentions::user_id.eq(user.as_bytes().as_slice()))
            .filter(mentions::room_id.eq_any(&keys))
            .filter(messages::kind.eq(codes::entry_kind(types::EntryKind::Text)))
            .group_by(mentions::room_id)
            .select((mentions::room_id, diesel::dsl::count_star()));
        let counts: Vec<(Vec<u8>, i64)> = self.load(named).await?;
        for (room, count) in counts {
            if let Some(state) = states.get_mut(&RoomId::from_slice(&room)?) {
                state.mention_count = count;
            }
        }
        Ok(states)
    }

    /// `user`'s read marker in `room`, if a member.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn read_marker(&mut self, room: RoomId, user: UserId) -> Result<Option<i64>> {
        self.first(memberships::table.find(member_key(room, user)).select(memberships::last_read_seq)).await
    }

    /// The rooms `user` is a member of.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn room_ids_of(&mut self, user: UserId) -> Result<Vec<RoomId>> {
        let query =
            memberships::table.filter(memberships::user_id.eq(user.as_bytes().as_slice())).select(memberships::room_id);
        let rows: Vec<Vec<u8>> = self.load(query).await?;
        rows.iter().map(|r| Ok(RoomId::from_slice(r)?)).collect()
    }

    /// The members of a room.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn member_ids(&mut self, room: RoomId) -> Result<Vec<UserId>> {
        let query =
            memberships::table.filter(memberships::room_id.eq(room.as_bytes().as_slice())).select(memberships::user_id);
        let rows: Vec<Vec<u8>> = self.load(query).await?;
        rows.iter().map(|r| Ok(UserId::from_slice(r)?)).collect()
    }

    /// Everyone who shares at least one room with `user`, `user` included if they are in any room.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn co_member_ids(&mut self, user: UserId) -> Result<Vec<UserId>> {
        let rooms = self.room_ids_of(user).await?;
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys(&rooms);
        let query =
            memberships::table.filter(memberships::room_id.eq_any(&keys)).select(memberships::user_id).distinct();
        let rows: Vec<Vec<u8>> = self.load(query).await?;
        rows.iter().map(|r| Ok(UserId::from_slice(r)?)).collect()
    }
}

impl Tx<'_> {
    /// Deletes a room and every row that belongs to it: its timeline (with reactions, mentions and search
    /// rows), invitations and memberships. Returns whether there was such a room.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn delete_room(&mut self, room: RoomId) -> Result<bool> {
        let key = room.as_bytes().as_slice();
        self.execute(diesel::delete(reactions::table.filter(reactions::room_id.eq(key)))).await?;
        self.execute(diesel::delete(mentions::table.filter(mentions::room_id.eq(key)))).await?;
        self.execute(diesel::delete(message_search::table.filter(message_search::room_id.eq(key)))).await?;
        self.execute(diesel::delete(search_progress::table.find(key))).await?;
        self.execute(diesel::delete(messages::table.filter(messages::room_id.eq(key)))).await?;
        self.execute(diesel::delete(invites::table.filter(invites::room_id.eq(key)))).await?;
        self.execute(diesel::delete(memberships::table.filter(memberships::room_id.eq(key)))).await?;
        Ok(self.execute(diesel::delete(rooms::table.find(key))).await? == 1)
    }

    /// Creates a room, without members (its first entries and members are added in the same transaction).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] with `"direct room"` when the pair already has a direct room.
    pub async fn insert_room(&mut self, new: &NewRoom<'_>) -> Result<()> {
        let row = NewRoomRow {
            id: new.id.as_bytes(),
            name: new.name,
            name_key: new.name_key,
            topic: new.topic,
            visibility: codes::visibility(new.visibility),
            kind: codes::room_kind(new.kind),
            owner_id: new.owner.as_ref().map(|o| o.as_bytes().as_slice()),
            direct_key: new.direct_key,
            created_at: new.created_at.0,
            member_count: 0,
            last_seq: 0,
            text_count: 0,
            last_message_at: None,
        };
        match self.execute(diesel::insert_into(rooms::table).values(row)).await {
            Err(Error::Query(e)) if is_unique_violation(&e, "direct_key") => Err(Error::AlreadyExists("direct room")),
            other => other.map(|_| ()),
        }?;
        let progress = (search_progress::room_id.eq(new.id.as_bytes().as_slice()), search_progress::indexed_seq.eq(0));
        self.execute(diesel::insert_into(search_progress::table).values(progress)).await.map(|_| ())
    }

    /// Makes `user` a member with `role`, joined at `joined_at` by the timeline entry `joined_seq`, with
    /// everything before the join read. (The room's `member_count` moves with the entry: see
    /// [`Tx::append`].) Call it under the room's lock ([`Tx::lock_room`]), which keeps the room's count of
    /// messages, copied here, from moving meanwhile.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn insert_membership(
        &mut self,
        room: RoomId,
        user: UserId,
        role: Role,
        joined_at: Millis,
        joined_seq: i64,
    ) -> Result<()> {
        let texts = rooms::table.find(room.as_bytes().as_slice()).select(rooms::text_count);
        let read_count = self.first::<i64, _>(texts).await?.unwrap_or(0);
        let row = MembershipRow {
            room_id: room.as_bytes(),
            user_id: user.as_bytes(),
            role: codes::role(role),
            joined_at: joined_at.0,
            joined_seq,
            last_read_seq: joined_seq,
            read_count,
        };
        self.execute(diesel::insert_into(memberships::table).values(row)).await?;
        Ok(())
    }

    /// Ends `user`'s membership.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<()> {
        self.execute(diesel::delete(memberships::table.find(member_key(room, user)))).await?;
        Ok(())
    }

    /// Gives a member a role.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_role(&mut self, room: RoomId, user: UserId, role: Role) -> Result<()> {
        let update = diesel::update(memberships::table.find(member_key(room, user)))
            .set(memberships::role.eq(codes::role(role)));
        self.execute(update).await?;
        Ok(())
    }

    /// Records the room's owner (`None`: no owner).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_owner(&mut self, room: RoomId, owner: Option<UserId>) -> Result<()> {
        let update = diesel::update(rooms::table.find(room.as_bytes().as_slice()))
            .set(rooms::owner_id.eq(owner.map(|o| o.to_vec())));
        self.execute(update).await?;
        Ok(())
    }

    /// Records that `by` invited `user`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn insert_invite(&mut self, room: RoomId, user: UserId, by: UserId, now: Millis) -> Result<()> {
        let row = InviteRow {
            room_id: room.as_bytes(),
            user_id: user.as_bytes(),
            invited_by: by.as_bytes(),
            created_at: now.0,
        };
        self.execute(diesel::insert_into(invites::table).values(row)).await?;
        Ok(())
    }

    /// Ends `user`'s invitation, if there is one; whether there was.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn delete_invite(&mut self, room: RoomId, user: UserId) -> Result<bool> {
        Ok(self.execute(diesel::delete(invites::table.find(member_key(room, user)))).await? > 0)
    }

    /// Moves `user`'s read marker in `room` to `seq`, with `read_count` the room's text messages not
    /// deleted up to it (see [`Conn::read_states`]). The caller holds the room's lock and has checked that
    /// the marker moves forward.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_read_marker(&mut self, room: RoomId, user: UserId, seq: i64, read_count: i64) -> Result<()> {
        let update = diesel::update(memberships::table.find(member_key(room, user)))
            .set((memberships::last_read_seq.eq(seq), memberships::read_count.eq(read_count)));
        self.execute(update).await?;
        Ok(())
    }

    /// How many text messages of `room` are not deleted (kept in `rooms.text_count`).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn text_count(&mut self, room: RoomId) -> Result<i64> {
        let query = rooms::table.find(room.as_bytes().as_slice()).select(rooms::text_count);
        Ok(self.first(query).await?.unwrap_or(0))
    }

    /// How many text messages of `room` after `seq` are not deleted: one range of the primary key, from
    /// `seq` to the end (a marker usually moves to or near the end).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn live_texts_after(&mut self, room: RoomId, seq: i64) -> Result<i64> {
        let query = messages::table
            .filter(messages::room_id.eq(room.as_bytes().as_slice()))
            .filter(messages::seq.gt(seq))
            .filter(messages::kind.eq(codes::entry_kind(types::EntryKind::Text)))
            .filter(messages::deleted_at.is_null())
            .count();
        Ok(self.first(query).await?.unwrap_or(0))
    }
}
