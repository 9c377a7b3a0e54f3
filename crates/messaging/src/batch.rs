//! The group-commit planner: what becomes of each send in a batch, decided between the storage steps of
//! one transaction.
//!
//! The rules: only members may send (a draft from anyone else is refused, and the number reserved for it
//! is given back, so the timeline stays gapless); a draft whose (room, sender, `client_message_id`) was
//! stored before, or that repeats an earlier draft of the same batch, is answered with the original entry;
//! the rest are stored with each room's next seqs, in the order they arrived.
//!
//! The cost is three statements whatever the batch size (`reserve_seqs`, `room_tails`, `insert_messages`);
//! a lookup of earlier copies is made only when the caller asks for it ([`Dedup::LookUp`]), and a room where
//! a sender turns out not to be a member costs one more statement, to give back its reserved numbers.

use std::collections::{HashMap, HashSet};

use storage::Tx;
use storage::timeline::{MentionRow, SendKey, SenderMark, TailMember};
use types::{Entry, EntryId, EntryKind, MessageState, Millis, RoomId, UserId};

use crate::mentions;

/// A text message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    pub(crate) sender_id: UserId,
    pub(crate) body: String,
    pub(crate) client_message_id: String,
    /// The message of the same room this one replies to.
    pub(crate) reply_to_seq: Option<i64>,
}

/// What became of one [`Draft`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored now.
    Stored(Entry),
    /// The sender had sent this `client_message_id` to this room before: the original entry.
    Duplicate(Entry),
    /// The sender is not a member of the room.
    NotMember,
    /// `reply_to_seq` names no text message of the room.
    BadReply,
    /// The room does not exist.
    NoRoom,
}

/// Whether a batch looks for earlier copies of its drafts before it inserts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dedup {
    /// Insert straight away. An earlier copy of a draft (a retried send) makes the insert violate the
    /// unique key: the whole batch fails with a conflict ([`storage::Error::is_conflict`]), nothing is
    /// stored, and the caller runs it again with [`Dedup::LookUp`]. Retries are rare, so most batches save
    /// a query.
    Optimistic,
    /// Look every draft up by the unique key first, and answer a repeat with the original entry.
    LookUp,
}

/// Earlier copies of drafts, by their unique key.
type Earlier = HashMap<(RoomId, UserId, String), Entry>;

/// What to do with one draft, decided before anything is written.
enum Plan {
    Done(Box<Appended>),
    /// The `n`th new entry of its room.
    New(usize),
    /// A repeat, within this batch, of the `n`th new entry of its room.
    SameAs(usize),
}

/// Stores `batch` (drafts grouped by room, rooms in id order so that concurrent batches lock them in one
/// order) in `tx`, and reports what became of each draft, in the order given.
///
/// # Errors
/// Database errors, including the conflict of [`Dedup::Optimistic`]; the caller rolls the transaction back.
pub(crate) async fn store(
    tx: &mut Tx<'_>,
    batch: &[(RoomId, Vec<Draft>)],
    dedup: Dedup,
    now: Millis,
) -> Result<Vec<Vec<Appended>>, storage::Error> {
    let earlier = match dedup {
        Dedup::LookUp => earlier_copies(tx, batch).await?,
        Dedup::Optimistic => Earlier::new(),
    };
    let replies = reply_targets(tx, batch).await?;
    // Reserve each room's numbers under its row lock, counting every sender as a member (the usual case);
    // the read that follows corrects a room where one is not.
    let reserved: Vec<(RoomId, i64)> = batch
        .iter()
        .map(|(room, drafts)| (*room, count(&plan_room(*room, drafts, |_| true, &replies, &earlier).1)))
        .collect();
    tx.reserve_seqs(&reserved, now).await?;
    let rooms: Vec<RoomId> = batch.iter().map(|(room, _)| *room).collect();
    let senders: Vec<UserId> = batch
        .iter()
        .flat_map(|(_, drafts)| drafts.iter().map(|d| d.sender_id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let tails = tx.room_tails(&rooms, &senders).await?;
    let mut last_seqs: HashMap<RoomId, i64> = tails.iter().map(|t| (t.room, t.last_seq)).collect();
    let text_counts: HashMap<RoomId, i64> = tails.iter().map(|t| (t.room, t.text_count)).collect();
    let members: HashSet<(RoomId, UserId)> =
        tails.iter().flat_map(|t| t.members.iter().map(|m| (t.room, m.user))).collect();
    let names: HashMap<UserId, &TailMember> =
        tails.iter().flat_map(|t| t.members.iter().map(|m| (m.user, m))).collect();

    let mut plans = Vec::with_capacity(batch.len());
    let mut stored = Vec::new();
    let mut marks = Vec::new();
    let mut firsts = Vec::with_capacity(batch.len());
    for ((room, drafts), (_, reserved)) in batch.iter().zip(&reserved) {
        let is_member = |user| members.contains(&(*room, user));
        let (room_plans, fresh) = plan_room(*room, drafts, is_member, &replies, &earlier);
        let Some(last_seq) = last_seqs.get_mut(room) else {
            plans.push(room_plans);
            firsts.push(stored.len());
            continue;
        };
        give_back(tx, *room, last_seq, reserved - count(&fresh), fresh.is_empty()).await?;
        firsts.push(stored.len());
        let first_seq = *last_seq - count(&fresh) + 1;
        // The room's live messages before this batch: those counted after the reservation, less the
        // batch's own (the reserved count, some of which may have been given back just now).
        let texts_before = text_counts.get(room).copied().unwrap_or(0) - reserved;
        marks.extend(sender_marks(*room, &fresh, first_seq, texts_before));
        stored.extend(fresh.iter().zip(first_seq..).map(|(d, seq)| entry(*room, seq, d, &names, now)));
        plans.push(room_plans);
    }
    tx.insert_messages(&stored).await?;
    tx.mark_senders_read(&marks).await?;
    add_mentions(tx, &mut stored).await?;
    Ok(outcomes(batch, plans, &firsts, &stored, &last_seqs))
}

/// The reply targets of the batch that are text messages of their room. (Kinds never change, so this is
/// read before the rooms are locked.)
async fn reply_targets(
    tx: &mut Tx<'_>,
    batch: &[(RoomId, Vec<Draft>)],
) -> Result<HashSet<(RoomId, i64)>, storage::Error> {
    let mut valid = HashSet::new();
    for (room, drafts) in batch {
        let seqs: Vec<i64> = drafts.iter().filter_map(|d| d.reply_to_seq).collect();
        if seqs.is_empty() {
            continue;
        }
        for (seq, kind) in tx.entry_kinds(*room, &seqs).await? {
            if kind == EntryKind::Text {
                valid.insert((*room, seq));
            }
        }
    }
    Ok(valid)
}

/// Records the members that the stored messages name (one read and one insert, only when some text has an
/// `@`), and fills in the entries' mentions.
async fn add_mentions(tx: &mut Tx<'_>, stored: &mut [Entry]) -> Result<(), storage::Error> {
    let named: Vec<Vec<String>> = stored.iter().map(|e| mentions::named_keys(&e.body)).collect();
    let mut keys: Vec<String> = named.iter().flatten().cloned().collect();
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_unstable();
    keys.dedup();
    let mut rooms: Vec<RoomId> = stored.iter().map(|e| e.room_id).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let members: HashMap<(RoomId, String), UserId> =
        tx.members_named(&rooms, &keys).await?.into_iter().map(|(room, user, key)| ((room, key), user)).collect();
    let mut rows = Vec::new();
    for (entry, keys) in stored.iter_mut().zip(named) {
        for key in keys {
            if let Some(user) = members.get(&(entry.room_id, key)) {
                entry.message.mentions.push(*user);
                rows.push(MentionRow { room: entry.room_id, seq: entry.seq, user: *user });
            }
        }
    }
    tx.insert_mentions(&rows).await
}

fn count<T>(items: &[T]) -> i64 {
    i64::try_from(items.len()).unwrap_or(i64::MAX)
}

/// The stored copies of the batch's drafts, if any (retried sends).
async fn earlier_copies(tx: &mut Tx<'_>, batch: &[(RoomId, Vec<Draft>)]) -> Result<Earlier, storage::Error> {
    let keys: Vec<SendKey<'_>> = batch
        .iter()
        .flat_map(|(room, drafts)| {
            drafts.iter().map(move |d| SendKey {
                room: *room,
                sender: d.sender_id,
                client_message_id: d.client_message_id.as_str(),
            })
        })
        .collect();
    let found = tx.sent_messages(&keys).await?;
    Ok(found.into_iter().filter_map(|e| Some(((e.room_id, e.sender_id, e.client_message_id.clone()?), e))).collect())
}

/// Decides each of a room's drafts: refused (the sender is not a member, or replies to something that is
/// not a text message of the room), answered with an earlier copy, a repeat within the batch, or new;
/// returns the plans and the drafts to store, in order.
fn plan_room<'d>(
    room: RoomId,
    drafts: &'d [Draft],
    is_member: impl Fn(UserId) -> bool,
    replies: &HashSet<(RoomId, i64)>,
    earlier: &Earlier,
) -> (Vec<Plan>, Vec<&'d Draft>) {
    let mut first_in_batch: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut fresh = Vec::new();
    let plans = drafts
        .iter()
        .map(|d| {
            if !is_member(d.sender_id) {
                return Plan::Done(Box::new(Appended::NotMember));
            }
            if !earlier.is_empty()
                && let Some(entry) = earlier.get(&(room, d.sender_id, d.client_message_id.clone()))
            {
                return Plan::Done(Box::new(Appended::Duplicate(entry.clone())));
            }
            if d.reply_to_seq.is_some_and(|seq| !replies.contains(&(room, seq))) {
                return Plan::Done(Box::new(Appended::BadReply));
            }
            if let Some(&i) = first_in_batch.get(&(d.sender_id, d.client_message_id.as_str())) {
                return Plan::SameAs(i);
            }
            first_in_batch.insert((d.sender_id, d.client_message_id.as_str()), fresh.len());
            fresh.push(d);
            Plan::New(fresh.len() - 1)
        })
        .collect();
    (plans, fresh)
}

/// Gives back `unused` numbers reserved for drafts that will not be stored, so the timeline stays gapless
/// (and the room's count of messages true).
async fn give_back(
    tx: &mut Tx<'_>,
    room: RoomId,
    last_seq: &mut i64,
    unused: i64,
    none_stored: bool,
) -> Result<(), storage::Error> {
    if unused > 0 {
        *last_seq -= unused;
        tx.give_back_seqs(room, *last_seq, unused, none_stored).await?;
    }
    Ok(())
}

/// Sending marks the room read for the sender, up to their newest message of the batch: one mark per
/// sender, with the room's live messages up to it (those before the batch, and the batch's up to it).
/// Nobody's marker can be past a seq just reserved, so the marker only moves forward.
fn sender_marks(room: RoomId, fresh: &[&Draft], first_seq: i64, texts_before: i64) -> Vec<SenderMark> {
    let mut newest: HashMap<UserId, usize> = HashMap::new();
    for (i, d) in fresh.iter().enumerate() {
        newest.insert(d.sender_id, i);
    }
    let mut marks: Vec<SenderMark> = newest
        .into_iter()
        .map(|(user, i)| {
            let i = i64::try_from(i).unwrap_or(i64::MAX);
            SenderMark { room, user, seq: first_seq + i, read_count: texts_before + i + 1 }
        })
        .collect();
    marks.sort_by_key(|m| m.user);
    marks
}

fn entry(room: RoomId, seq: i64, draft: &Draft, names: &HashMap<UserId, &TailMember>, now: Millis) -> Entry {
    let sender = names.get(&draft.sender_id);
    Entry {
        id: EntryId::new(),
        room_id: room,
        seq,
        kind: EntryKind::Text,
        sender_id: draft.sender_id,
        sender_username: sender.map(|m| m.username.clone()).unwrap_or_default(),
        sender_display_name: sender.map(|m| m.display_name.clone()).unwrap_or_default(),
        subject: None,
        body: draft.body.clone(),
        client_message_id: Some(draft.client_message_id.clone()),
        created_at: now,
        message: MessageState { reply_to_seq: draft.reply_to_seq, ..MessageState::default() },
        target_seq: None,
        reaction: None,
        wire: types::WireCache::default(),
    }
}

/// Each draft's outcome, in the order of the batch. `firsts[i]` is where room `i`'s new entries start in
/// `stored`.
fn outcomes(
    batch: &[(RoomId, Vec<Draft>)],
    plans: Vec<Vec<Plan>>,
    firsts: &[usize],
    stored: &[Entry],
    last_seqs: &HashMap<RoomId, i64>,
) -> Vec<Vec<Appended>> {
    batch
        .iter()
        .zip(plans)
        .zip(firsts)
        .map(|(((room, _), room_plans), first)| {
            room_plans
                .into_iter()
                .map(|plan| match plan {
                    Plan::Done(outcome) => *outcome,
                    _ if !last_seqs.contains_key(room) => Appended::NoRoom,
                    Plan::New(i) => Appended::Stored(stored[first + i].clone()),
                    Plan::SameAs(i) => Appended::Duplicate(stored[first + i].clone()),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    // A failed expectation in a test is a failed test: panicking is the point.
    #![allow(clippy::expect_used, clippy::panic)]

    use storage::rooms::NewRoom;
    use storage::{Conn, Error};
    use testdb::db_test;
    use types::{RoomKind, TimelinePage, Visibility};

    use super::*;

    /// A room with `member` as its only member (and no entries).
    async fn room(conn: &mut Conn, member: UserId) -> Result<RoomId, Error> {
        let id = RoomId::new();
        let new = NewRoom {
            id,
            name: "r",
            name_key: "r",
            topic: "",
            visibility: Visibility::Public,
            kind: RoomKind::Group,
            owner: Some(member),
            direct_key: None,
            created_at: Millis::now(),
        };
        conn.transaction(async |tx| {
            tx.insert_room(&new).await?;
            tx.insert_membership(id, member, types::Role::Owner, Millis::now(), 0).await
        })
        .await?;
        Ok(id)
    }

    fn draft(sender: UserId, body: &str, id: &str) -> Draft {
        Draft { sender_id: sender, body: body.into(), client_message_id: id.into(), reply_to_seq: None }
    }

    fn stored(outcome: &Appended) -> (i64, &str) {
        match outcome {
            Appended::Stored(e) => (e.seq, e.body.as_str()),
            other => panic!("expected a stored entry, got {other:?}"),
        }
    }

    async fn store_now(
        conn: &mut Conn,
        batch: &[(RoomId, Vec<Draft>)],
        dedup: Dedup,
    ) -> Result<Vec<Vec<Appended>>, Error> {
        conn.transaction(async |tx| store(tx, batch, dedup, Millis::now()).await).await
    }

    db_test!(async fn a_mixed_batch_stores_members_sends_with_contiguous_seqs(t) {
        let mut conn = t.db().write().await?;
        let (alice, mallory) = (testdb::user(&mut conn, "alice").await?, testdb::user(&mut conn, "mallory").await?);
        let (first, second) = (room(&mut conn, alice).await?, room(&mut conn, alice).await?);
        let mut batch = vec![
            (first, vec![
                draft(mallory, "not a member", "m-1"),
                draft(alice, "one", "a-1"),
                draft(alice, "one again", "a-1"),
                draft(mallory, "still not", "m-2"),
                draft(alice, "two", "a-2"),
            ]),
            (second, vec![draft(alice, "elsewhere", "a-1")]),
            (RoomId::new(), vec![draft(alice, "nowhere", "a-9")]),
        ];
        batch.sort_by_key(|(room, _)| *room);
        let outcomes = store_now(&mut conn, &batch, Dedup::Optimistic).await?;
        let of = |room: RoomId| &outcomes[batch.iter().position(|(r, _)| *r == room).expect("in the batch")];

        let in_first = of(first);
        assert_eq!(in_first[0], Appended::NotMember);
        assert_eq!(stored(&in_first[1]), (1, "one"));
        assert!(matches!(&in_first[2], Appended::Duplicate(e) if e.seq == 1 && e.body == "one"));
        assert_eq!(in_first[3], Appended::NotMember);
        assert_eq!(stored(&in_first[4]), (2, "two"));
        assert_eq!(stored(&of(second)[0]), (1, "elsewhere"));
        let missing = batch.iter().position(|(r, _)| *r != first && *r != second).expect("the missing room");
        assert_eq!(outcomes[missing], vec![Appended::NotMember]);

        // The numbers reserved for the refused drafts were given back: the next send follows on.
        let next = store_now(&mut conn, &[(first, vec![draft(alice, "three", "a-3")])], Dedup::Optimistic).await?;
        assert_eq!(stored(&next[0][0]), (3, "three"));
        let (page, _) = conn.page(first, TimelinePage::After(0), 10, None).await?;
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(page[0].sender_username, "alice");
        Ok(())
    });

    db_test!(async fn an_optimistic_batch_that_repeats_a_stored_send_fails_whole_and_the_lookup_answers_it(t) {
        let mut conn = t.db().write().await?;
        let alice = testdb::user(&mut conn, "alice").await?;
        let first = room(&mut conn, alice).await?;
        let original = store_now(&mut conn, &[(first, vec![draft(alice, "hello", "a-1")])], Dedup::Optimistic).await?;
        let Appended::Stored(original) = original[0][0].clone() else { panic!("{original:?}") };
        let batch = [(first, vec![draft(alice, "new", "a-2"), draft(alice, "hello, retried", "a-1")])];
        let failed = store_now(&mut conn, &batch, Dedup::Optimistic).await;
        assert!(matches!(&failed, Err(e) if e.is_conflict()), "{failed:?}");
        let outcomes = store_now(&mut conn, &batch, Dedup::LookUp).await?;
        assert_eq!(stored(&outcomes[0][0]), (original.seq + 1, "new"));
        assert_eq!(outcomes[0][1], Appended::Duplicate(original));
        Ok(())
    });
}
