//! Typing indicators: ephemeral events to co-members' streams, never stored and never sequenced.
//!
//! The node keeps, per room where someone typed lately, who it announced as typing and when. The rules:
//! - A `typing: true` within [`RENEW_AFTER`] of the last one announced for the same member and room is
//!   folded into it (no event, no database read): clients may call as often as keys are pressed.
//! - Each announcement says `expires_at` = now + [`LAPSE`]; clients stop showing it then unless renewed,
//!   so nothing has to be sent when someone simply stops.
//! - A room announces at most [`ROOM_BUDGET`] new typers per [`BUDGET_WINDOW`]; the rest are dropped (a
//!   1,000-member room where everyone types gets a bounded number of events, each fanned out once).
//!   Stops are always sent for those announced, and sending a message stops the sender's indicator.
//! - Rooms where nobody types have no entry: they cost nothing. Entries are dropped once they lapse.
//!
//! The board is per node: behind a load balancer a member's calls may reach several nodes, each of which
//! folds its own; clients treat a message from a typer as the end of their typing too.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use types::{RoomId, UserId};

/// A renewal sooner than this after an announcement is folded into it.
pub(crate) const RENEW_AFTER: Duration = Duration::from_secs(3);
/// How long an announcement holds without renewal.
pub(crate) const LAPSE: Duration = Duration::from_secs(6);
/// The most announcements one room makes per [`BUDGET_WINDOW`].
const ROOM_BUDGET: u32 = 5;
/// The window of [`ROOM_BUDGET`].
const BUDGET_WINDOW: Duration = Duration::from_secs(1);
/// Every this many calls, the board drops the rooms whose announcements have all lapsed.
const SWEEP_EVERY: u32 = 256;

/// What to do with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Publish the event.
    Announce,
    /// Nothing to tell: folded into a recent announcement, a stop for someone not announced, or over the
    /// room's budget.
    Quiet,
}

#[derive(Debug)]
struct RoomTyping {
    /// Members announced as typing, with when.
    announced: HashMap<UserId, Instant>,
    window_start: Instant,
    in_window: u32,
}

impl RoomTyping {
    fn new(now: Instant) -> Self {
        Self { announced: HashMap::new(), window_start: now, in_window: 0 }
    }

    fn lapsed(&self, now: Instant) -> bool {
        self.announced.values().all(|at| now.duration_since(*at) >= LAPSE)
    }
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<RoomId, RoomTyping>,
    calls: u32,
}

/// The node's typing board.
#[derive(Debug, Default)]
pub(crate) struct Board {
    state: Mutex<State>,
}

impl Board {
    /// Whether a `typing: true` from `user` in `room` would be folded into a recent announcement. Checked
    /// before the (database) access check, which only calls that may announce pay for.
    pub(crate) fn is_fresh(&self, room: RoomId, user: UserId, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .rooms
            .get(&room)
            .and_then(|r| r.announced.get(&user))
            .is_some_and(|at| now.duration_since(*at) < RENEW_AFTER)
    }

    /// Decides a call from a member (access checked) and records an announcement.
    pub(crate) fn decide(&self, room: RoomId, user: UserId, typing: bool, now: Instant) -> Verdict {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.calls = state.calls.wrapping_add(1);
        if state.calls.is_multiple_of(SWEEP_EVERY) {
            state.rooms.retain(|_, r| !r.lapsed(now));
        }
        if !typing {
            return Self::stop(&mut state, room, user, now);
        }
        let entry = state.rooms.entry(room).or_insert_with(|| RoomTyping::new(now));
        entry.announced.retain(|_, at| now.duration_since(*at) < LAPSE);
        if entry.announced.get(&user).is_some_and(|at| now.duration_since(*at) < RENEW_AFTER) {
            return Verdict::Quiet;
        }
        if now.duration_since(entry.window_start) >= BUDGET_WINDOW {
            entry.window_start = now;
            entry.in_window = 0;
        }
        if entry.in_window >= ROOM_BUDGET {
            if entry.announced.is_empty() {
                state.rooms.remove(&room);
            }
            return Verdict::Quiet;
        }
        entry.in_window += 1;
        entry.announced.insert(user, now);
        Verdict::Announce
    }

    /// `user` sent a message to `room`: whether they were announced as typing (and now are not).
    pub(crate) fn sent(&self, room: RoomId, user: UserId, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.rooms.is_empty() {
            return false;
        }
        Self::stop(&mut state, room, user, now) == Verdict::Announce
    }

    fn stop(state: &mut State, room: RoomId, user: UserId, now: Instant) -> Verdict {
        let Some(entry) = state.rooms.get_mut(&room) else { return Verdict::Quiet };
        let was = entry.announced.remove(&user).is_some_and(|at| now.duration_since(at) < LAPSE);
        if entry.announced.is_empty() && now.duration_since(entry.window_start) >= BUDGET_WINDOW {
            state.rooms.remove(&room);
        }
        if was { Verdict::Announce } else { Verdict::Quiet }
    }

    /// Rooms with an entry (for tests).
    #[cfg(test)]
    fn rooms(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).rooms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_fold_and_lapse_and_stops_are_sent_only_for_announced_typers() {
        let board = Board::default();
        let (room, alice) = (RoomId::new(), UserId::new());
        let t0 = Instant::now();
        assert_eq!(board.decide(room, alice, false, t0), Verdict::Quiet, "a stop for nobody");
        assert_eq!(board.decide(room, alice, true, t0), Verdict::Announce);
        assert!(board.is_fresh(room, alice, t0 + Duration::from_secs(1)));
        assert_eq!(board.decide(room, alice, true, t0 + Duration::from_secs(1)), Verdict::Quiet, "folded");
        assert_eq!(board.decide(room, alice, true, t0 + RENEW_AFTER), Verdict::Announce, "renewed");
        assert_eq!(board.decide(room, alice, false, t0 + RENEW_AFTER * 2), Verdict::Announce, "stopped");
        assert_eq!(board.decide(room, alice, false, t0 + RENEW_AFTER * 2), Verdict::Quiet, "stopped twice");
        assert_eq!(board.rooms(), 0, "a room where nobody types has no entry");

        assert_eq!(board.decide(room, alice, true, t0 + RENEW_AFTER * 3), Verdict::Announce);
        assert!(board.sent(room, alice, t0 + RENEW_AFTER * 3 + Duration::from_millis(10)), "a message stops it");
        let lapsed = t0 + RENEW_AFTER * 5 + LAPSE;
        assert_eq!(board.decide(room, alice, true, lapsed), Verdict::Announce);
        assert!(!board.sent(room, alice, lapsed + LAPSE), "already lapsed: nothing to stop");
    }

    #[test]
    fn a_busy_room_announces_a_bounded_number_of_typers() {
        let board = Board::default();
        let room = RoomId::new();
        let t0 = Instant::now();
        let typers: Vec<UserId> = (0..1000).map(|_| UserId::new()).collect();
        let announced = typers.iter().filter(|u| board.decide(room, **u, true, t0) == Verdict::Announce).count();
        assert_eq!(announced, ROOM_BUDGET as usize);
        let later = t0 + BUDGET_WINDOW;
        let again = typers.iter().filter(|u| board.decide(room, **u, true, later) == Verdict::Announce).count();
        assert_eq!(again, ROOM_BUDGET as usize, "a new window, a new budget");
    }

    #[test]
    fn lapsed_rooms_are_swept() {
        let board = Board::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            board.decide(RoomId::new(), UserId::new(), true, t0);
        }
        let later = t0 + LAPSE;
        for _ in 0..SWEEP_EVERY {
            board.decide(RoomId::new(), UserId::new(), false, later);
        }
        assert_eq!(board.rooms(), 0);
    }
}
