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
use storage::timeline::SendKey;
use types::{Entry, EntryId, EntryKind, Millis, RoomId, UserId};

/// A text message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    pub(crate) sender_id: UserId,
    pub(crate) body: String,
    pub(crate) client_message_id: String,
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
    Done(Appended),
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
    // Reserve each room's numbers under its row lock, counting every sender as a member (the usual case);
    // the read that follows corrects a room where one is not.
    let reserved: Vec<(RoomId, i64)> =
        batch.iter().map(|(room, drafts)| (*room, count(&plan_room(*room, drafts, |_| true, &earlier).1))).collect();
    tx.reserve_seqs(&reserved).await?;
    let rooms: Vec<RoomId> = batch.iter().map(|(room, _)| *room).collect();
    let senders: Vec<UserId> = batch
        .iter()
        .flat_map(|(_, drafts)| drafts.iter().map(|d| d.sender_id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let tails = tx.room_tails(&rooms, &senders).await?;
    let mut last_seqs: HashMap<RoomId, i64> = tails.iter().map(|t| (t.room, t.last_seq)).collect();
    let members: HashSet<(RoomId, UserId)> =
        tails.iter().flat_map(|t| t.members.iter().map(|(user, _)| (t.room, *user))).collect();
    let names: HashMap<UserId, &str> =
        tails.iter().flat_map(|t| t.members.iter().map(|(user, name)| (*user, name.as_str()))).collect();

    let mut plans = Vec::with_capacity(batch.len());
    let mut stored = Vec::new();
    let mut firsts = Vec::with_capacity(batch.len());
    for ((room, drafts), (_, reserved)) in batch.iter().zip(&reserved) {
        let (room_plans, fresh) = plan_room(*room, drafts, |user| members.contains(&(*room, user)), &earlier);
        let Some(last_seq) = last_seqs.get_mut(room) else {
            plans.push(room_plans);
            firsts.push(stored.len());
            continue;
        };
        give_back(tx, *room, last_seq, reserved - count(&fresh)).await?;
        firsts.push(stored.len());
        let first_seq = *last_seq - count(&fresh) + 1;
        stored.extend(fresh.iter().zip(first_seq..).map(|(d, seq)| entry(*room, seq, d, &names, now)));
        plans.push(room_plans);
    }
    tx.insert_messages(&stored).await?;
    Ok(outcomes(batch, plans, &firsts, &stored, &last_seqs))
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

/// Decides each of a room's drafts: refused (the sender is not a member), answered with an earlier copy,
/// a repeat within the batch, or new; returns the plans and the drafts to store, in order.
fn plan_room<'d>(
    room: RoomId,
    drafts: &'d [Draft],
    is_member: impl Fn(UserId) -> bool,
    earlier: &Earlier,
) -> (Vec<Plan>, Vec<&'d Draft>) {
    let mut first_in_batch: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut fresh = Vec::new();
    let plans = drafts
        .iter()
        .map(|d| {
            if !is_member(d.sender_id) {
                return Plan::Done(Appended::NotMember);
            }
            if !earlier.is_empty()
                && let Some(entry) = earlier.get(&(room, d.sender_id, d.client_message_id.clone()))
            {
                return Plan::Done(Appended::Duplicate(entry.clone()));
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

/// Gives back `unused` numbers reserved for drafts that will not be stored, so the timeline stays gapless.
async fn give_back(tx: &mut Tx<'_>, room: RoomId, last_seq: &mut i64, unused: i64) -> Result<(), storage::Error> {
    if unused > 0 {
        *last_seq -= unused;
        tx.set_last_seq(room, *last_seq).await?;
    }
    Ok(())
}

fn entry(room: RoomId, seq: i64, draft: &Draft, names: &HashMap<UserId, &str>, now: Millis) -> Entry {
    Entry {
        id: EntryId::new(),
        room_id: room,
        seq,
        kind: EntryKind::Text,
        sender_id: draft.sender_id,
        sender_username: names.get(&draft.sender_id).map(|n| (*n).to_owned()).unwrap_or_default(),
        subject: None,
        body: draft.body.clone(),
        client_message_id: Some(draft.client_message_id.clone()),
        created_at: now,
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
                    Plan::Done(outcome) => outcome,
                    _ if !last_seqs.contains_key(room) => Appended::NoRoom,
                    Plan::New(i) => Appended::Stored(stored[first + i].clone()),
                    Plan::SameAs(i) => Appended::Duplicate(stored[first + i].clone()),
                })
                .collect()
        })
        .collect()
}
