//! Actions on messages: reading one, editing, deleting, reacting; and typing indicators.
//!
//! An action is a timeline entry of its own, appended in the transaction that changes the message it acts
//! on, under the room's row lock (so its seq follows on without a gap, and a concurrent action on the same
//! room waits its turn). The rules:
//! - The target must be a text message of the room (`NOT_FOUND` for a seq the room does not have,
//!   `INVALID_ARGUMENT` for a membership entry or an action); the caller must be a member, with the same
//!   answers as for reading the room.
//! - Only the sender edits; the sender, the owner and admins delete. A deleted message cannot be edited or
//!   reacted to (`FAILED_PRECONDITION`).
//! - Every action is idempotent, so a retry after a timeout is never stored twice: an edit with a
//!   `client_message_id` used before returns the message; an edit that changes nothing, a second deletion,
//!   a reaction already made and one not made append nothing.
//! - An edit re-derives the message's mentions; a deletion clears its text, its edits' texts, its
//!   reactions and mentions.

use std::sync::Arc;

use bus::{Event, Topic};
use storage::Tx;
use storage::timeline::{NewAction, SendKey};
use tokio::time::Instant;
use types::{Entry, EntryKind, FieldViolation, Millis, Reaction, Role, RoomId, Typing, UserId, Violations};

use crate::error::invalid;
use crate::typing::{self, Verdict};
use crate::{Error, Messaging, emoji, mentions};

/// What to do to a message.
#[derive(Debug, Clone)]
enum Action<'a> {
    Edit { body: &'a str, client_message_id: Option<&'a str> },
    Delete,
    React { emoji: &'a str, add: bool },
}

/// What an action came to.
enum Outcome {
    /// Appended this entry.
    Appended(Box<Entry>),
    /// Changed nothing (a repeat).
    Unchanged,
}

/// Checks a message text: 1 to 4000 characters, not only white space.
pub(crate) fn check_body(body: &str) -> Option<FieldViolation> {
    let len = body.chars().count();
    (!(1..=4000).contains(&len) || body.trim().is_empty())
        .then(|| FieldViolation::new("body", format!("must be 1 to 4000 characters, not only white space (is {len})")))
}

/// Checks an idempotency key: 1 to 64 characters, no control characters.
pub(crate) fn check_client_id(id: &str) -> Option<FieldViolation> {
    let len = id.chars().count();
    if !(1..=64).contains(&len) {
        Some(FieldViolation::new("client_message_id", format!("must be 1 to 64 characters (is {len})")))
    } else if id.chars().any(char::is_control) {
        Some(FieldViolation::new("client_message_id", "must not contain control characters"))
    } else {
        None
    }
}

fn check_seq(seq: i64) -> Result<(), Error> {
    if seq < 1 { Err(invalid("seq", format!("must be a seq of the room, from 1 (is {seq})"))) } else { Ok(()) }
}

impl Messaging {
    /// The message of `room` at `seq` in its current state, for a member.
    ///
    /// # Errors
    /// [`Error::Rooms`] when `who` may not read the room; [`Error::MessageNotFound`] for a seq the room
    /// does not have.
    pub async fn get(&self, who: UserId, room: RoomId, seq: i64) -> Result<Entry, Error> {
        check_seq(seq)?;
        self.inner.rooms.access(who, room).await?;
        self.inner.db.read().await?.entry(room, seq, Some(who)).await?.ok_or(Error::MessageNotFound(seq))
    }

    /// Replaces the text of `who`'s message at `seq` and returns the message as it now is.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a body [`Messaging::send`] would refuse or a seq that is not a text message
    /// ([`Error::NotAMessage`]); [`Error::MessageNotFound`]; [`Error::NotYourMessage`] for someone else's
    /// message; [`Error::MessageDeleted`]; [`Error::Rooms`] as for reading.
    pub async fn edit(
        &self,
        who: UserId,
        room: RoomId,
        seq: i64,
        body: &str,
        client_message_id: Option<&str>,
    ) -> Result<Entry, Error> {
        let violations = [check_body(body), client_message_id.and_then(check_client_id)];
        Violations::check(violations.into_iter().flatten().collect())?;
        check_seq(seq)?;
        self.act(who, room, seq, Action::Edit { body, client_message_id }).await?;
        self.inner.db.read().await?.entry(room, seq, Some(who)).await?.ok_or(Error::MessageNotFound(seq))
    }

    /// Deletes the message at `seq` (a tombstone keeps its seq). Deleting a deleted message succeeds.
    ///
    /// # Errors
    /// As [`Messaging::edit`], with [`Error::NotYourMessage`] for members who are neither its sender nor
    /// the room's owner or an admin.
    pub async fn delete(&self, who: UserId, room: RoomId, seq: i64) -> Result<(), Error> {
        check_seq(seq)?;
        self.act(who, room, seq, Action::Delete).await
    }

    /// Adds (`add`) or takes back `who`'s `emoji` reaction to the message at `seq`; a repeat changes
    /// nothing. Taking back a reaction from a deleted message succeeds (it is gone already).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an emoji that is neither one emoji nor a `:short_code:`; as
    /// [`Messaging::edit`] otherwise.
    pub async fn react(&self, who: UserId, room: RoomId, seq: i64, emoji: &str, add: bool) -> Result<(), Error> {
        emoji::check(emoji).map_err(Violations::from)?;
        check_seq(seq)?;
        self.act(who, room, seq, Action::React { emoji, add }).await
    }

    /// Tells `room`'s other members that `who` is typing (or stopped); see [`crate::typing`].
    ///
    /// # Errors
    /// [`Error::Rooms`] when `who` may not read the room (a renewal folded into a recent announcement is
    /// answered without checking again).
    pub async fn set_typing(&self, who: UserId, room: RoomId, typing: bool) -> Result<(), Error> {
        let board = &self.inner.typing;
        if typing && board.is_fresh(room, who, Instant::now()) {
            return Ok(());
        }
        self.inner.rooms.access(who, room).await?;
        if board.decide(room, who, typing, Instant::now()) == Verdict::Announce {
            let users = self.inner.db.read().await?.users(&[who]).await?;
            let username = users.into_iter().next().map(|u| u.username).unwrap_or_default();
            self.publish_typing(room, who, username, typing);
        }
        Ok(())
    }

    /// Ends `who`'s typing indicator in `room` once they sent a message there.
    pub(crate) fn sent_message(&self, entry: &Entry) {
        if self.inner.typing.sent(entry.room_id, entry.sender_id, Instant::now()) {
            self.publish_typing(entry.room_id, entry.sender_id, entry.sender_username.clone(), false);
        }
    }

    fn publish_typing(&self, room: RoomId, who: UserId, username: String, typing: bool) {
        let lapse = Millis(i64::try_from(typing::LAPSE.as_millis()).unwrap_or(i64::MAX));
        let expires_at = if typing { Millis(Millis::now().0 + lapse.0) } else { Millis::now() };
        let event = Typing { room_id: room, user_id: who, username, typing, expires_at };
        self.inner.bus.publish(Topic::Room(room), Event::Typing(Arc::new(event)));
    }

    /// Runs `action` on the message at `seq` in one transaction and publishes the entry it appended.
    async fn act(&self, who: UserId, room: RoomId, seq: i64, action: Action<'_>) -> Result<(), Error> {
        // Non-members get the answer they get for reading (hidden private room, public room not joined).
        self.inner.rooms.access(who, room).await?;
        let now = Millis::now();
        let outcome = self.inner.db.transaction(async |tx| apply(tx, who, room, seq, &action, now).await).await?;
        if let Outcome::Appended(entry) = outcome {
            self.inner.bus.publish(Topic::Room(room), Event::Entry(Arc::new(*entry)));
        }
        Ok(())
    }
}

/// The rules, applied under the room's lock.
async fn apply(
    tx: &mut Tx<'_>,
    who: UserId,
    room: RoomId,
    seq: i64,
    action: &Action<'_>,
    now: Millis,
) -> Result<Outcome, Error> {
    let last_seq = tx.lock_room(room).await?.ok_or(rooms::Error::RoomNotFound)?;
    // Checked again under the lock: the caller may have left, or lost a role, since.
    let role = tx.role(room, who).await?.ok_or(rooms::Error::NotMember)?;
    let target = tx.entry(room, seq, None).await?.ok_or(Error::MessageNotFound(seq))?;
    if target.kind != EntryKind::Text {
        return Err(Error::NotAMessage(seq));
    }
    let deleted = target.message.deleted_at.is_some();
    let mut new = NewAction {
        kind: EntryKind::Edit,
        sender_id: who,
        target_seq: seq,
        body: String::new(),
        mentions: Vec::new(),
        reaction: None,
        client_message_id: None,
    };
    match *action {
        Action::Edit { body, client_message_id } => {
            if let Some(id) = client_message_id
                && let Some(earlier) = earlier_edit(tx, room, who, id).await?
            {
                return if earlier.target_seq == Some(seq) {
                    Ok(Outcome::Unchanged)
                } else {
                    Err(invalid("client_message_id", "was used before for another message or edit; use a new one"))
                };
            }
            if target.sender_id != who {
                return Err(Error::NotYourMessage("only its sender may edit a message"));
            }
            if deleted {
                return Err(Error::MessageDeleted);
            }
            if target.body == body {
                return Ok(Outcome::Unchanged);
            }
            let keys = mentions::named_keys(body);
            new.mentions = tx.members_named(&[room], &keys).await?.into_iter().map(|(_, user, _)| user).collect();
            tx.set_message_body(room, seq, body, now).await?;
            tx.set_mentions(room, seq, &new.mentions).await?;
            new.body = body.to_owned();
            new.client_message_id = client_message_id.map(str::to_owned);
        }
        Action::Delete => {
            if target.sender_id != who && !matches!(role, Role::Owner | Role::Admin) {
                return Err(Error::NotYourMessage(
                    "only its sender, or the room's owner and admins, may delete a message",
                ));
            }
            if deleted {
                return Ok(Outcome::Unchanged);
            }
            tx.tombstone(room, seq, now).await?;
            new.kind = EntryKind::Delete;
        }
        Action::React { emoji, add } => {
            if deleted {
                return if add { Err(Error::MessageDeleted) } else { Ok(Outcome::Unchanged) };
            }
            let changed = if add {
                tx.add_reaction(room, seq, emoji, who, now).await?
            } else {
                tx.remove_reaction(room, seq, emoji, who).await?
            };
            if !changed {
                return Ok(Outcome::Unchanged);
            }
            let count = tx.reaction_count(room, seq, emoji).await?;
            new.kind = if add { EntryKind::ReactionAdded } else { EntryKind::ReactionRemoved };
            new.reaction = Some(Reaction { emoji: emoji.to_owned(), count, mine: false });
        }
    }
    Ok(Outcome::Appended(Box::new(tx.append_action(room, last_seq, &new, now).await?)))
}

/// An entry `who` stored in `room` with this idempotency key before, if any.
async fn earlier_edit(tx: &mut Tx<'_>, room: RoomId, who: UserId, id: &str) -> Result<Option<Entry>, Error> {
    let key = SendKey { room, sender: who, client_message_id: id };
    Ok(tx.sent_messages(&[key]).await?.pop())
}
