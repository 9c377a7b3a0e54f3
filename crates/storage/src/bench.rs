//! Helpers for the benchmark harness (`bins/parley-bench`) only: the references its measurements are
//! compared against, and bulk loading. They live here because only this crate may know Diesel, and only
//! with the `bench` feature, which the server never enables.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use types::{EntryId, EntryKind, Millis, RoomId, TimelinePage, UserId};

use crate::codes;
use crate::db::{Conn, Db};
use crate::error::{Error, Result};
use crate::schema::{messages, reactions, rooms, search_progress};
use crate::timeline::{MentionRow, NewEntryRow};

fn row(room: RoomId, seq: i64, sender: UserId, body: &str, now: i64) -> NewEntryRow {
    NewEntryRow {
        room_id: room.to_vec(),
        seq,
        id: EntryId::new().to_vec(),
        kind: codes::entry_kind(EntryKind::Text),
        sender_id: sender.to_vec(),
        subject_id: None,
        subject_role: None,
        body: body.to_owned(),
        client_message_id: Some(format!("bench-{seq}")),
        created_at: now,
        reply_to_seq: None,
        target_seq: None,
        emoji: None,
        emoji_count: None,
    }
}

/// The reference for durable sends: `tasks` concurrent loops, each inserting one message row per
/// autocommit transaction (so each insert is its own durable commit, with the same settings as the server),
/// into `rooms[i % rooms.len()]` at seqs far above the rooms' own, for `duration`. Returns the rows inserted.
///
/// # Errors
/// The first database error of any loop.
pub async fn insert_loop(
    db: &Db,
    rooms: &[RoomId],
    sender: UserId,
    body: &str,
    tasks: usize,
    duration: Duration,
) -> Result<u64> {
    let inserted = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut loops = Vec::new();
    for task in 0..tasks {
        let (db, inserted, body) = (db.clone(), inserted.clone(), body.to_owned());
        let room = rooms[task % rooms.len()];
        // Seqs far apart per task, so that tasks sharing a room never collide.
        let mut seq = 1_000_000_000 * (task as i64 + 1);
        loops.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                seq += 1;
                let mut conn = db.write().await?;
                let now = Millis::now().0;
                conn.execute(diesel::insert_into(messages::table).values(&row(room, seq, sender, &body, now))).await?;
                inserted.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, Error>(())
        }));
    }
    for handle in loops {
        match handle.await {
            Ok(result) => result?,
            Err(e) => return Err(Error::Corrupt(format!("insert loop panicked: {e}"))),
        }
    }
    Ok(AtomicU64::load(&inserted, Ordering::Relaxed))
}

/// The seq ranges (first, last) of `count` new entries of `room`, `batch` at a time, after its last seq.
async fn batches(conn: &mut Conn, room: RoomId, count: u64, batch: usize) -> Result<Vec<(i64, i64)>> {
    let query = rooms::table.find(room.as_bytes().as_slice()).select(rooms::last_seq);
    let mut last: i64 = conn.first(query).await?.ok_or(Error::NotFound("room"))?;
    let target = last + i64::try_from(count).unwrap_or(i64::MAX);
    let mut ranges = Vec::new();
    while last < target {
        let upto = (last + i64::try_from(batch).unwrap_or(i64::MAX)).min(target);
        ranges.push((last + 1, upto));
        last = upto;
    }
    Ok(ranges)
}

/// Appends `count` entries from `sender` to `room` as fast as possible, `batch` rows a transaction,
/// bypassing every rule (for building a large history). Mostly text messages, with what a lived-in room
/// has mixed in: every tenth entry an edit of the message before it, every tenth a reaction to a recent
/// message (with its `reactions` row), every twentieth message mentions the sender and every fiftieth is
/// a reply. Calls `progress` with the number of entries appended so far after each transaction. Returns the
/// new last seq.
///
/// # Errors
/// Database errors.
pub async fn bulk_load(
    db: &Db,
    room: RoomId,
    sender: UserId,
    count: u64,
    batch: usize,
    body: &str,
    mut progress: impl FnMut(u64),
) -> Result<i64> {
    let mut conn = db.write().await?;
    let mut last = 0;
    let ranges = batches(&mut conn, room, count, batch).await?;
    let start = ranges.first().map_or(0, |(first, _)| first - 1);
    for (first, upto) in ranges {
        let now = Millis::now().0;
        let (mut entries, mut reacted, mut named) = (Vec::new(), Vec::new(), Vec::new());
        for seq in first..=upto {
            let mut entry = row(room, seq, sender, body, now);
            match seq % 10 {
                4 if seq > 1 => {
                    entry.kind = codes::entry_kind(EntryKind::Edit);
                    entry.target_seq = Some(seq - 1);
                    entry.client_message_id = None;
                }
                9 if seq > 2 => {
                    entry.kind = codes::entry_kind(EntryKind::ReactionAdded);
                    (entry.body, entry.target_seq, entry.client_message_id) = (String::new(), Some(seq - 2), None);
                    (entry.emoji, entry.emoji_count) = (Some("👍".to_owned()), Some(1));
                    reacted.push((
                        reactions::room_id.eq(room.to_vec()),
                        reactions::seq.eq(seq - 2),
                        reactions::emoji.eq("👍"),
                        reactions::user_id.eq(sender.to_vec()),
                        reactions::created_at.eq(now),
                    ));
                }
                _ if seq % 20 == 7 => {
                    entry.body = format!("@someone {body}");
                    named.push(MentionRow { room, seq, user: sender });
                }
                _ if seq % 50 == 21 => entry.reply_to_seq = Some(seq - 1),
                _ => {}
            }
            entries.push(entry);
        }
        conn.transaction(async |tx| {
            tx.insert_entry_rows(entries).await?;
            if !reacted.is_empty() {
                tx.insert_all(reactions::table, reacted).await?;
            }
            tx.insert_mentions(&named).await?;
            tx.set_last_seq(room, upto).await
        })
        .await?;
        last = upto;
        progress(u64::try_from(upto - start).unwrap_or(0));
    }
    Ok(last)
}

/// Reads one history page with exactly the query the server runs for ListMessages (the reference for the
/// history benchmark: the same SQL, with no gRPC, no auth, no access check).
///
/// # Errors
/// Database errors.
pub async fn history_page(
    conn: &mut Conn,
    room: RoomId,
    viewer: UserId,
    before_seq: Option<i64>,
    limit: usize,
) -> Result<usize> {
    let page = before_seq.map_or(TimelinePage::Latest, TimelinePage::Before);
    Ok(conn.page(room, page, limit, Some(viewer)).await?.0.len())
}

/// Appends `count` text messages from `sender` to `room`, `batch` a transaction, with their search rows
/// and the room's search progress as the server's indexer leaves them (for the search benchmark; on MySQL
/// the full-text index is dropped for the load and built again after it); message `seq` has the body
/// `body(seq)`. Calls
/// `progress` with the number of messages appended so far after each transaction. Returns the new last seq.
///
/// # Errors
/// Database errors.
pub async fn bulk_load_searchable(
    db: &Db,
    room: RoomId,
    sender: UserId,
    count: u64,
    batch: usize,
    body: impl Fn(i64) -> String,
    mut progress: impl FnMut(u64),
) -> Result<i64> {
    use crate::schema::message_search;
    let mut conn = db.write().await?;
    conn.set_timeout(Duration::from_secs(3600));
    // InnoDB builds a full-text index many times faster at once than row by row: load without it.
    let mysql = conn.backend() == crate::Backend::Mysql;
    if mysql {
        Conn::execute(&mut conn, diesel::sql_query("ALTER TABLE message_search DROP INDEX message_search_text"))
            .await?;
    }
    let mut last = 0;
    let ranges = batches(&mut conn, room, count, batch).await?;
    let start = ranges.first().map_or(0, |(first, _)| first - 1);
    for (first, upto) in ranges {
        let now = Millis::now().0;
        let entries: Vec<NewEntryRow> = (first..=upto).map(|seq| row(room, seq, sender, &body(seq), now)).collect();
        let words: Vec<_> = entries.iter().map(crate::timeline::search_row).collect();
        let added = upto - first + 1;
        conn.transaction(async |tx| {
            tx.insert_entry_rows(entries).await?;
            tx.insert_all(message_search::table, words).await?;
            tx.set_last_seq(room, upto).await?;
            let indexed =
                diesel::update(search_progress::table.find(room.to_vec())).set(search_progress::indexed_seq.eq(upto));
            tx.execute(indexed).await?;
            let texts =
                diesel::update(rooms::table.find(room.to_vec())).set(rooms::text_count.eq(rooms::text_count + added));
            tx.execute(texts).await.map(|_| ())
        })
        .await?;
        last = upto;
        progress(u64::try_from(upto - start).unwrap_or(0));
    }
    if mysql {
        let index = "ALTER TABLE message_search ADD FULLTEXT KEY message_search_text (search_text)";
        Conn::execute(&mut conn, diesel::sql_query(index)).await?;
    }
    Ok(last)
}

/// The first page of `user`'s joined rooms with their read state, by exactly the queries the server runs
/// for ListRooms (the reference for the unread benchmark). Returns how many rooms.
///
/// # Errors
/// Database errors.
pub async fn list_joined(conn: &mut Conn, user: UserId) -> Result<usize> {
    let (rooms, _) = conn.list_rooms(crate::rooms::Listing::Joined(user), None, None, 200).await?;
    let ids: Vec<RoomId> = rooms.iter().map(|r| r.id).collect();
    conn.roles(user, &ids).await?;
    Ok(conn.read_states(user, &ids).await?.len())
}

/// One page of search results for `user` from the full-text engine alone, in one statement, with no
/// statement timeout (the reference for the search benchmark: the bare SQL). Returns how many were found.
///
/// # Errors
/// Database errors.
pub async fn search(conn: &mut Conn, user: UserId, query: &str, limit: usize) -> Result<usize> {
    let terms = types::text::search_terms(query);
    conn.set_timeout(Duration::from_secs(3600));
    Ok(conn.search_one_statement(user, &terms, i64::try_from(limit).unwrap_or(i64::MAX)).await?.len())
}

/// Marks `room`'s entries as looked at by the search indexer without indexing them, so that a benchmark
/// that bulk-loaded a history does not have the indexer walk it while it measures something else (those
/// messages are then not found by search).
///
/// # Errors
/// Database errors.
pub async fn skip_indexing(db: &Db, room: RoomId) -> Result<()> {
    let mut conn = db.write().await?;
    let last: Option<i64> = conn.first(rooms::table.find(room.to_vec()).select(rooms::last_seq)).await?;
    let update = diesel::update(search_progress::table.find(room.to_vec()))
        .set(search_progress::indexed_seq.eq(last.unwrap_or(0)));
    Conn::execute(&mut conn, update).await?;
    Ok(())
}
