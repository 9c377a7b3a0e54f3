//! Rooms' timelines: the `messages` table, numbered per room by `seq`.
//!
//! **Invariant:** within a room, seq is 1, 2, 3… with no gaps and no repeats. Every append happens in a
//! transaction that first locks the room's row (MySQL: the row lock; SQLite: the single writer), reads
//! `rooms.last_seq`, writes the entries with the next numbers and stores the new `last_seq`, so concurrent
//! appends (on any node) queue on the lock and a rolled-back append leaves no hole.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use types::{Entry, EntryId, EntryKind, Millis, Role, RoomId, Subject, UserId};

use crate::codes;
use crate::db::{Conn, for_each_backend, run};
use crate::error::{Error, Result};
use crate::schema::{messages, rooms, users};

/// An entry to append; its seq, id and time are assigned when it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// What it records.
    pub kind: EntryKind,
    /// Who sent it or made the change.
    pub sender_id: UserId,
    /// For membership entries: whom it is about, and their role after the change.
    pub subject: Option<(UserId, Option<Role>)>,
    /// Text of a text entry.
    pub body: String,
    /// Idempotency key of a text entry.
    pub client_message_id: Option<String>,
}

impl NewEntry {
    /// A membership entry.
    pub fn membership(kind: EntryKind, sender_id: UserId, subject: UserId, role: Option<Role>) -> Self {
        Self { kind, sender_id, subject: Some((subject, role)), body: String::new(), client_message_id: None }
    }
}

/// Which page of a timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest entries.
    Latest,
    /// Entries with seq below this.
    Before(i64),
    /// Entries with seq above this.
    After(i64),
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
pub(crate) struct EntryRow {
    room_id: Vec<u8>,
    seq: i64,
    id: Vec<u8>,
    kind: i16,
    sender_id: Vec<u8>,
    subject_id: Option<Vec<u8>>,
    subject_role: Option<i16>,
    body: String,
    client_message_id: Option<String>,
    created_at: i64,
}

impl EntryRow {
    fn user_ids(&self) -> Result<Vec<UserId>> {
        let mut ids = vec![UserId::from_slice(&self.sender_id)?];
        if let Some(subject) = &self.subject_id {
            ids.push(UserId::from_slice(subject)?);
        }
        Ok(ids)
    }

    fn into_entry(self, names: &HashMap<UserId, String>) -> Result<Entry> {
        let name = |id: &UserId| names.get(id).cloned().unwrap_or_default();
        let sender_id = UserId::from_slice(&self.sender_id)?;
        let subject = match self.subject_id {
            Some(id) => {
                let user_id = UserId::from_slice(&id)?;
                Some(Subject {
                    username: name(&user_id),
                    user_id,
                    role: self.subject_role.map(codes::to_role).transpose()?,
                })
            }
            None => None,
        };
        Ok(Entry {
            id: EntryId::from_slice(&self.id)?,
            room_id: RoomId::from_slice(&self.room_id)?,
            seq: self.seq,
            kind: codes::to_entry_kind(self.kind)?,
            sender_username: name(&sender_id),
            sender_id,
            subject,
            body: self.body,
            client_message_id: self.client_message_id,
            created_at: Millis(self.created_at),
        })
    }
}

#[derive(Insertable, Clone)]
#[diesel(table_name = messages)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewEntryRow {
    pub(crate) room_id: Vec<u8>,
    pub(crate) seq: i64,
    pub(crate) id: Vec<u8>,
    pub(crate) kind: i16,
    pub(crate) sender_id: Vec<u8>,
    pub(crate) subject_id: Option<Vec<u8>>,
    pub(crate) subject_role: Option<i16>,
    pub(crate) body: String,
    pub(crate) client_message_id: Option<String>,
    pub(crate) created_at: i64,
}

/// Inserting many rows at once: the one place where the backends need different code. MySQL takes one
/// multi-row INSERT; diesel-async cannot build that for SQLite, so there diesel's own batch insert (one
/// prepared statement per row, no round trips) runs on the connection's blocking thread.
pub(crate) trait InsertRows {
    async fn insert_rows(&mut self, rows: Vec<NewEntryRow>) -> Result<()>;
}

impl InsertRows for diesel_async::AsyncMysqlConnection {
    async fn insert_rows(&mut self, rows: Vec<NewEntryRow>) -> Result<()> {
        diesel::insert_into(messages::table).values(&rows).execute(self).await?;
        Ok(())
    }
}

impl InsertRows for crate::db::SqliteConn {
    async fn insert_rows(&mut self, rows: Vec<NewEntryRow>) -> Result<()> {
        self.spawn_blocking(move |conn| {
            diesel::RunQueryDsl::execute(diesel::insert_into(messages::table).values(&rows), conn)
        })
        .await?;
        Ok(())
    }
}

/// Helpers that every timeline-writing transaction uses.
pub(crate) trait TimelineTx {
    /// Locks the room's row until the transaction ends and returns its `last_seq`, or `None` if there is no
    /// such room.
    async fn lock_room(&mut self, room: RoomId) -> Result<Option<i64>>;

    /// Stores `entries` after `last_seq` (read under [`TimelineTx::lock_room`] in this transaction), moves
    /// `last_seq` and `member_count` on, and returns the stored entries.
    async fn append(
        &mut self,
        room: RoomId,
        last_seq: i64,
        entries: &[NewEntry],
        member_delta: i64,
        now: Millis,
    ) -> Result<Vec<Entry>>;

    /// Usernames of these users.
    async fn usernames(&mut self, ids: &[UserId]) -> Result<HashMap<UserId, String>>;

    /// Turns rows into entries, with usernames.
    async fn entries(&mut self, rows: Vec<EntryRow>) -> Result<Vec<Entry>>;
}

for_each_backend!(impl TimelineTx {
    async fn lock_room(&mut self, room: RoomId) -> Result<Option<i64>> {
        let key = room.as_bytes().as_slice();
        // A write that changes nothing still takes the row's exclusive lock (InnoDB), and makes SQLite's
        // transaction a write transaction from its first statement.
        diesel::update(rooms::table.find(key)).set(rooms::last_seq.eq(rooms::last_seq)).execute(self).await?;
        Ok(rooms::table.find(key).select(rooms::last_seq).first(self).await.optional()?)
    }

    async fn append(
        &mut self,
        room: RoomId,
        last_seq: i64,
        entries: &[NewEntry],
        member_delta: i64,
        now: Millis,
    ) -> Result<Vec<Entry>> {
        let room_key = room.as_bytes().as_slice();
        let count = i64::try_from(entries.len()).map_err(|_| Error::Corrupt("too many entries".into()))?;
        let entry_ids: Vec<EntryId> = entries.iter().map(|_| EntryId::new()).collect();
        let rows: Vec<NewEntryRow> = entries
            .iter()
            .zip(1..)
            .zip(&entry_ids)
            .map(|((e, offset), id)| NewEntryRow {
                room_id: room_key.to_vec(),
                seq: last_seq + offset,
                id: id.to_vec(),
                kind: codes::entry_kind(e.kind),
                sender_id: e.sender_id.to_vec(),
                subject_id: e.subject.map(|(id, _)| id.to_vec()),
                subject_role: e.subject.and_then(|(_, role)| role).map(codes::role),
                body: e.body.clone(),
                client_message_id: e.client_message_id.clone(),
                created_at: now.0,
            })
            .collect();
        if !rows.is_empty() {
            self.insert_rows(rows).await?;
        }
        diesel::update(rooms::table.find(room_key))
            .set((rooms::last_seq.eq(last_seq + count), rooms::member_count.eq(rooms::member_count + member_delta)))
            .execute(self)
            .await?;
        let mut ids: Vec<UserId> = entries.iter().map(|e| e.sender_id).collect();
        ids.extend(entries.iter().filter_map(|e| e.subject.map(|(id, _)| id)));
        let names = self.usernames(&ids).await?;
        let name = |id: &UserId| names.get(id).cloned().unwrap_or_default();
        Ok(entry_ids
            .into_iter()
            .zip(entries)
            .zip(1..)
            .map(|((id, e), offset)| Entry {
                    id,
                    room_id: room,
                    seq: last_seq + offset,
                    kind: e.kind,
                    sender_id: e.sender_id,
                    sender_username: name(&e.sender_id),
                    subject: e.subject.map(|(user_id, role)| Subject { username: name(&user_id), user_id, role }),
                    body: e.body.clone(),
                    client_message_id: e.client_message_id.clone(),
                    created_at: now,
            })
            .collect())
    }

    async fn usernames(&mut self, ids: &[UserId]) -> Result<HashMap<UserId, String>> {
        let mut keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(Vec<u8>, String)> = users::table
            .filter(users::id.eq_any(&keys))
            .select((users::id, users::username))
            .load(self)
            .await?;
        rows.into_iter().map(|(id, name)| Ok((UserId::from_slice(&id)?, name))).collect()
    }

    async fn entries(&mut self, rows: Vec<EntryRow>) -> Result<Vec<Entry>> {
        let mut ids = Vec::with_capacity(rows.len() * 2);
        for row in &rows {
            ids.extend(row.user_ids()?);
        }
        let names = self.usernames(&ids).await?;
        rows.into_iter().map(|row| row.into_entry(&names)).collect()
    }
});

/// One page of a room's timeline in ascending seq, and whether more lie beyond it in the direction asked.
///
/// # Errors
/// Database errors only.
pub async fn page(conn: &mut Conn, room: RoomId, page: Page, limit: usize) -> Result<(Vec<Entry>, bool)> {
    let key = room.as_bytes().as_slice();
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    run!(conn, |c| {
        let base = messages::table.filter(messages::room_id.eq(key)).select(EntryRow::as_select());
        let mut rows: Vec<EntryRow> = match page {
            Page::Latest => base.order(messages::seq.desc()).limit(fetch).load(c).await?,
            Page::Before(seq) => {
                base.filter(messages::seq.lt(seq)).order(messages::seq.desc()).limit(fetch).load(c).await?
            }
            Page::After(seq) => {
                base.filter(messages::seq.gt(seq)).order(messages::seq.asc()).limit(fetch).load(c).await?
            }
        };
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        if !matches!(page, Page::After(_)) {
            rows.reverse();
        }
        Ok((c.entries(rows).await?, has_more))
    })
}

/// The entries with `after < seq <= up_to`, at most `limit` of them, ascending.
///
/// # Errors
/// Database errors only.
pub async fn range(conn: &mut Conn, room: RoomId, after: i64, up_to: i64, limit: usize) -> Result<Vec<Entry>> {
    let key = room.as_bytes().as_slice();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    run!(conn, |c| {
        let rows: Vec<EntryRow> = messages::table
            .filter(messages::room_id.eq(key))
            .filter(messages::seq.gt(after))
            .filter(messages::seq.le(up_to))
            .order(messages::seq.asc())
            .limit(limit)
            .select(EntryRow::as_select())
            .load(c)
            .await?;
        c.entries(rows).await
    })
}

/// The newest seq of each of these rooms (rooms that do not exist are left out).
///
/// # Errors
/// Database errors only.
pub async fn last_seqs(conn: &mut Conn, rooms: &[RoomId]) -> Result<Vec<(RoomId, i64)>> {
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&[u8]> = rooms.iter().map(|r| r.as_bytes().as_slice()).collect();
    let rows: Vec<(Vec<u8>, i64)> = run!(conn, |c| rooms::table
        .filter(rooms::id.eq_any(&keys))
        .select((rooms::id, rooms::last_seq))
        .load(c)
        .await)?;
    rows.into_iter().map(|(id, seq)| Ok((RoomId::from_slice(&id)?, seq))).collect()
}

/// Appends a single entry in its own transaction (used by tests and tools; the send path batches).
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist.
pub async fn append_one(conn: &mut Conn, room: RoomId, entry: &NewEntry) -> Result<Entry> {
    let now = Millis::now();
    let mut stored = run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
            tx.append(room, last, std::slice::from_ref(entry), 0, now).await
        })
        .await)?;
    stored.pop().ok_or(Error::Corrupt("append stored nothing".into()))
}

/// A text message to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The sender.
    pub sender_id: UserId,
    /// The text.
    pub body: String,
    /// The sender's idempotency key.
    pub client_message_id: String,
}

/// What became of one [`Draft`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now.
    Stored(Entry),
    /// The sender had sent this `client_message_id` to this room before: the original entry.
    Duplicate(Entry),
    /// The sender is not a member of the room.
    NotMember,
    /// The room does not exist.
    NoRoom,
}

/// Whether [`append_messages`] looks for earlier copies of the drafts before it inserts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Insert straight away. An earlier copy of a draft (a retried send) makes the insert violate the
    /// unique key (room, sender, `client_message_id`): the whole batch fails with a conflict
    /// ([`Error::is_conflict`]) and nothing is stored, and the caller runs it again with [`Dedup::LookUp`].
    /// Retries are rare, so most batches save a query.
    Optimistic,
    /// Look every draft up by the unique key first, and answer a repeat with the original entry.
    LookUp,
}

/// Appends text messages to several rooms in one transaction (group commit), and reports what became of
/// each draft, in the order given: drafts from non-members are refused, a draft whose (sender,
/// `client_message_id`) is stored already (with [`Dedup::LookUp`]) or repeated within the batch yields the
/// original entry, and the rest are stored with each room's next seqs.
///
/// The cost is three statements whatever the batch size: one `UPDATE` moves every room's `last_seq` on by
/// its number of new drafts (taking the rooms' row locks, in key order, so concurrent batches cannot
/// deadlock), one `SELECT` reads the new `last_seq`s with which senders are members and their names, and
/// one `INSERT` stores all rows. With [`Dedup::LookUp`] a query for earlier copies (by the full unique key,
/// so it never scans a room) comes first; a room where a sender turns out not to be a member costs one more
/// `UPDATE`, to give back the numbers reserved for those drafts. A copy stored concurrently by another node
/// between lookup and insert makes the insert violate the unique key: the batch then fails as a whole with
/// a conflict and the caller retries it.
///
/// # Errors
/// Database errors; the whole batch is then rolled back and nothing is stored.
pub async fn append_messages(
    conn: &mut Conn,
    batch: &[(RoomId, Vec<Draft>)],
    dedup: Dedup,
    now: Millis,
) -> Result<Vec<Vec<Appended>>> {
    run!(conn, |c| c.transaction::<_, Error, _>(async |tx| tx.append_batch(batch, dedup, now).await).await)
}

pub(crate) trait DraftTx {
    async fn append_batch(
        &mut self,
        batch: &[(RoomId, Vec<Draft>)],
        dedup: Dedup,
        now: Millis,
    ) -> Result<Vec<Vec<Appended>>>;
}

/// What to do with one draft, decided before anything is written.
enum Plan {
    Done(Appended),
    /// The `n`th new entry of its room.
    New(usize),
    /// A repeat, within this batch, of the `n`th new entry of its room.
    SameAs(usize),
}

/// Decides each of a room's drafts: refused (the sender is not a member), answered with an earlier copy,
/// a repeat within the batch, or new; returns the plans and the drafts to store, in order.
fn plan_room<'d>(
    room: RoomId,
    drafts: &'d [Draft],
    is_member: impl Fn(UserId) -> bool,
    stored: &HashMap<(RoomId, UserId, String), Entry>,
) -> (Vec<Plan>, Vec<&'d Draft>) {
    let mut first_in_batch: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut new = Vec::new();
    let plans = drafts
        .iter()
        .map(|d| {
            if !is_member(d.sender_id) {
                return Plan::Done(Appended::NotMember);
            }
            if !stored.is_empty()
                && let Some(entry) = stored.get(&(room, d.sender_id, d.client_message_id.clone()))
            {
                return Plan::Done(Appended::Duplicate(entry.clone()));
            }
            if let Some(&i) = first_in_batch.get(&(d.sender_id, d.client_message_id.as_str())) {
                return Plan::SameAs(i);
            }
            first_in_batch.insert((d.sender_id, d.client_message_id.as_str()), new.len());
            new.push(d);
            Plan::New(new.len() - 1)
        })
        .collect();
    (plans, new)
}

/// A room's `last_seq`, with one of the batch's senders who is a member and their name (both `None` when
/// no sender is).
type RoomTailRow = (Vec<u8>, i64, Option<Vec<u8>>, Option<String>);

/// `UPDATE rooms SET last_seq = last_seq + n` for several rooms, each with its own `n`, in one statement;
/// InnoDB locks the rows in key order. (Plain SQL: the per-row amount is a `CASE` over a list of any
/// length, which the query builder cannot box.)
fn advance_rooms_sql(rooms: usize) -> String {
    let mut sql = String::from("UPDATE rooms SET last_seq = last_seq + CASE id");
    sql.push_str(&" WHEN ? THEN ?".repeat(rooms));
    sql.push_str(" ELSE 0 END WHERE id IN (");
    sql.push_str(&vec!["?"; rooms].join(", "));
    sql.push(')');
    sql
}

for_each_backend!(impl DraftTx {
    async fn append_batch(
        &mut self,
        batch: &[(RoomId, Vec<Draft>)],
        dedup: Dedup,
        now: Millis,
    ) -> Result<Vec<Vec<Appended>>> {
        use diesel::sql_types::{BigInt, Binary};

        use crate::schema::memberships;
        let room_keys: Vec<&[u8]> = batch.iter().map(|(room, _)| room.as_bytes().as_slice()).collect();
        let mut senders: Vec<&[u8]> =
            batch.iter().flat_map(|(_, drafts)| drafts.iter().map(|d| d.sender_id.as_bytes().as_slice())).collect();
        senders.sort_unstable();
        senders.dedup();

        // Copies stored earlier: point lookups on the unique key (room, sender, client_message_id).
        let mut stored: HashMap<(RoomId, UserId, String), Entry> = HashMap::new();
        if dedup == Dedup::LookUp {
            let keys: Vec<(&[u8], &[u8], &str)> = batch
                .iter()
                .flat_map(|(room, drafts)| {
                    drafts.iter().map(move |d| (room.as_bytes().as_slice(), d.sender_id.as_bytes().as_slice(), d.client_message_id.as_str()))
                })
                .collect();
            for chunk in keys.chunks(200) {
                let mut query = messages::table.select(EntryRow::as_select()).into_boxed();
                for (room, sender, cmid) in chunk {
                    query = query.or_filter(
                        messages::room_id.eq(*room).and(messages::sender_id.eq(*sender)).and(messages::client_message_id.eq(*cmid)),
                    );
                }
                let rows = query.load(self).await?;
                for entry in self.entries(rows).await? {
                    if let Some(cmid) = entry.client_message_id.clone() {
                        stored.insert((entry.room_id, entry.sender_id, cmid), entry);
                    }
                }
            }
        }

        // Reserve each room's numbers under its row lock, counting every sender as a member (the usual
        // case); the read below corrects a room where one is not.
        let reserved: Vec<i64> = batch
            .iter()
            .map(|(room, drafts)| i64::try_from(plan_room(*room, drafts, |_| true, &stored).1.len()).unwrap_or(i64::MAX))
            .collect();
        let advancing: Vec<(&[u8], i64)> =
            room_keys.iter().zip(&reserved).filter(|(_, n)| **n > 0).map(|(key, n)| (*key, *n)).collect();
        if !advancing.is_empty() {
            let mut update = diesel::sql_query(advance_rooms_sql(advancing.len())).into_boxed();
            for (key, n) in &advancing {
                update = update.bind::<Binary, _>(*key).bind::<BigInt, _>(*n);
            }
            for (key, _) in &advancing {
                update = update.bind::<Binary, _>(*key);
            }
            update.execute(self).await?;
        }

        // One read for the rest: each room's new last_seq, which senders are members, and their names. (A
        // join's condition must own its values.)
        let sender_ids: Vec<Vec<u8>> = senders.iter().map(|s| s.to_vec()).collect();
        let rows: Vec<RoomTailRow> = rooms::table
            .left_join(
                memberships::table
                    .on(memberships::room_id.eq(rooms::id).and(memberships::user_id.eq_any(sender_ids))),
            )
            .left_join(users::table.on(users::id.nullable().eq(memberships::user_id.nullable())))
            .filter(rooms::id.eq_any(&room_keys))
            .select((rooms::id, rooms::last_seq, memberships::user_id.nullable(), users::username.nullable()))
            .load(self)
            .await?;
        let mut tails: HashMap<RoomId, i64> = HashMap::new();
        let mut members: std::collections::HashSet<(RoomId, UserId)> = std::collections::HashSet::new();
        let mut names: HashMap<UserId, String> = HashMap::new();
        for (room, last_seq, user, name) in rows {
            let room = RoomId::from_slice(&room)?;
            tails.insert(room, last_seq);
            if let (Some(user), Some(name)) = (user, name) {
                let user = UserId::from_slice(&user)?;
                members.insert((room, user));
                names.insert(user, name);
            }
        }

        // Decide each draft, and give back the numbers reserved for drafts of non-members.
        let mut plans: Vec<Vec<Plan>> = Vec::with_capacity(batch.len());
        let mut fresh: Vec<Vec<&Draft>> = Vec::with_capacity(batch.len());
        for ((room, drafts), reserved) in batch.iter().zip(&reserved) {
            let (room_plans, new_entries) = plan_room(*room, drafts, |user| members.contains(&(*room, user)), &stored);
            let unused = reserved - i64::try_from(new_entries.len()).unwrap_or(i64::MAX);
            if let Some(tail) = tails.get_mut(room).filter(|_| unused > 0) {
                *tail -= unused;
                diesel::update(rooms::table.find(room.as_bytes().as_slice()))
                    .set(rooms::last_seq.eq(*tail))
                    .execute(self)
                    .await?;
            }
            plans.push(room_plans);
            fresh.push(new_entries);
        }

        let mut rows = Vec::new();
        let mut appended: Vec<Vec<Entry>> = Vec::with_capacity(batch.len());
        for ((room, _), new_entries) in batch.iter().zip(&fresh) {
            let Some(&tail) = tails.get(room) else {
                appended.push(Vec::new());
                continue;
            };
            let first = tail - i64::try_from(new_entries.len()).unwrap_or(0);
            let entries: Vec<Entry> = new_entries
                .iter()
                .zip(first + 1..)
                .map(|(d, seq)| Entry {
                    id: EntryId::new(),
                    room_id: *room,
                    seq,
                    kind: EntryKind::Text,
                    sender_id: d.sender_id,
                    sender_username: names.get(&d.sender_id).cloned().unwrap_or_default(),
                    subject: None,
                    body: d.body.clone(),
                    client_message_id: Some(d.client_message_id.clone()),
                    created_at: now,
                })
                .collect();
            rows.extend(entries.iter().map(|e| NewEntryRow {
                room_id: e.room_id.to_vec(),
                seq: e.seq,
                id: e.id.to_vec(),
                kind: codes::entry_kind(e.kind),
                sender_id: e.sender_id.to_vec(),
                subject_id: None,
                subject_role: None,
                body: e.body.clone(),
                client_message_id: e.client_message_id.clone(),
                created_at: now.0,
            }));
            appended.push(entries);
        }
        if !rows.is_empty() {
            self.insert_rows(rows).await?;
        }

        Ok(batch
            .iter()
            .zip(plans)
            .zip(appended)
            .map(|(((room, _), room_plans), entries)| {
                room_plans
                    .into_iter()
                    .map(|plan| match plan {
                        Plan::Done(outcome) => outcome,
                        _ if !tails.contains_key(room) => Appended::NoRoom,
                        Plan::New(i) => Appended::Stored(entries[i].clone()),
                        Plan::SameAs(i) => Appended::Duplicate(entries[i].clone()),
                    })
                    .collect()
            })
            .collect())
    }
});
