//! Request rates: one keyed token bucket per kind of request.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use types::UserId;

use crate::{Error, Peers};

/// The kinds of request that are rate-limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// SendMessage, and the actions on messages (EditMessage, DeleteMessage, AddReaction, RemoveReaction),
    /// per user: each appends a timeline entry.
    Send,
    /// SetTyping, per user.
    Typing,
    /// CreateRoom, per user.
    CreateRoom,
    /// InviteMember, per user.
    Invite,
    /// GetDirectRoom, per user.
    DirectRoom,
    /// Register, per client address.
    Register,
    /// Login, per client address (failed logins are also throttled per account, by `auth`).
    Login,
    /// MarkRead, per user: each may notify the user's other devices and, coalesced, the room.
    MarkRead,
    /// SearchMessages, per user: each is a full-text query.
    Search,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::Send,
        Self::Typing,
        Self::CreateRoom,
        Self::Invite,
        Self::DirectRoom,
        Self::Register,
        Self::Login,
        Self::MarkRead,
        Self::Search,
    ];

    /// The requests of this kind, in words, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Self::Send => "messages and changes to messages",
            Self::Typing => "typing notices",
            Self::CreateRoom => "new rooms",
            Self::Invite => "invitations",
            Self::DirectRoom => "new conversations",
            Self::Register => "registrations from your address",
            Self::Login => "sign-in attempts from your address",
            Self::MarkRead => "read markers",
            Self::Search => "searches",
        }
    }
}

/// Who a limit counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Subject {
    /// A signed-in user.
    User(UserId),
    /// A client address (calls made before signing in).
    Address(IpAddr),
}

/// A sustained rate and a burst: `burst` requests at once, then one every `period / per_period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed per period, sustained.
    pub per_period: u32,
    /// The period.
    pub period: Duration,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Quota {
    /// `per_period` requests per `period`, sustained, with a burst of `burst`.
    pub fn new(per_period: u32, period: Duration, burst: u32) -> Self {
        Self { per_period, period, burst }
    }

    fn governor(self) -> governor::Quota {
        let one = NonZeroU32::MIN;
        let interval = self.period.checked_div(self.per_period.max(1)).unwrap_or(Duration::from_secs(1));
        governor::Quota::with_period(interval.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_second(one))
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(one))
    }
}

/// A rate written as `N/s`, `N/m` or `N/h` (requests per second, minute or hour).
impl FromStr for Quota {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (n, unit) = s.split_once('/').ok_or_else(|| format!("{s:?} is not a rate such as 10/s, 60/m or 20/h"))?;
        let n: u32 = n.trim().parse().map_err(|_| format!("{n:?} in {s:?} is not a whole number"))?;
        if n == 0 {
            return Err(format!("{s:?}: a rate must allow at least one request"));
        }
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => return Err(format!("{other:?} in {s:?} is not a period: use s, m or h")),
        };
        Ok(Self { per_period: n, period, burst: n })
    }
}

/// The limits, per kind; `None` turns request limits off (for load tests and benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateConfig {
    /// The quota of each kind, or `None` for no request limits at all.
    pub quotas: Option<HashMap<Kind, Quota>>,
}

impl Default for RateConfig {
    /// Far above what a busy person does by hand: 10 messages (or edits, deletions, reactions) a second
    /// with bursts of 30; 5 typing notices a second with bursts of 20; 20 rooms, 120
    /// invitations and 60 new conversations an hour, each with a burst; 20 registrations an hour and 60
    /// sign-ins a minute from one address; 5 read markers a second with bursts of 30 and 30 searches a
    /// minute with bursts of 10 per user.
    fn default() -> Self {
        let s = Duration::from_secs(1);
        let m = Duration::from_secs(60);
        let h = Duration::from_secs(3600);
        let quotas = HashMap::from([
            (Kind::Send, Quota::new(10, s, 30)),
            (Kind::Typing, Quota::new(5, s, 20)),
            (Kind::CreateRoom, Quota::new(20, h, 10)),
            (Kind::Invite, Quota::new(120, h, 30)),
            (Kind::DirectRoom, Quota::new(60, h, 20)),
            (Kind::Register, Quota::new(20, h, 5)),
            (Kind::Login, Quota::new(60, m, 20)),
            (Kind::MarkRead, Quota::new(5, s, 30)),
            (Kind::Search, Quota::new(30, m, 10)),
        ]);
        Self { quotas: Some(quotas) }
    }
}

impl RateConfig {
    /// No request limits.
    pub fn off() -> Self {
        Self { quotas: None }
    }
}

/// Keyed token buckets for each kind of request. One per node.
#[derive(Debug)]
pub struct RateLimits {
    limiters: Option<HashMap<Kind, DefaultKeyedRateLimiter<Subject>>>,
    peers: OnceLock<Arc<dyn Peers>>,
}

impl RateLimits {
    /// The limits of `config`.
    pub fn new(config: &RateConfig) -> Self {
        let limiters = config
            .quotas
            .as_ref()
            .map(|quotas| quotas.iter().map(|(kind, quota)| (*kind, RateLimiter::keyed(quota.governor()))).collect());
        Self { limiters, peers: OnceLock::new() }
    }

    /// Tells `peers` of every request allowed from now on (once; later calls are ignored).
    pub fn share_with(&self, peers: Arc<dyn Peers>) {
        let _ = self.peers.set(peers);
    }

    /// Counts one request of `kind` by `subject` that another node allowed, if this node's bucket has room
    /// for it (a full bucket stays full).
    pub fn charge(&self, kind: Kind, subject: Subject) {
        if let Some(limiter) = self.limiters.as_ref().and_then(|l| l.get(&kind)) {
            let _ = limiter.check_key(&subject);
        }
    }

    /// Counts one request of `kind` by `subject`, if its limit allows it.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time after which it would be allowed; nothing is counted then.
    pub fn check(&self, kind: Kind, subject: Subject) -> Result<(), Error> {
        let Some(limiter) = self.limiters.as_ref().and_then(|l| l.get(&kind)) else { return Ok(()) };
        limiter.check_key(&subject).map_err(|not_until| Error::RateLimited {
            what: kind.what(),
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })?;
        if let Some(peers) = self.peers.get() {
            peers.counted(kind, subject);
        }
        Ok(())
    }

    /// Forgets subjects whose buckets are full again (memory stays bounded under a flood of addresses).
    pub fn sweep(&self) {
        for limiter in self.limiters.iter().flat_map(HashMap::values) {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_their_period() {
        assert_eq!("10/s".parse(), Ok(Quota::new(10, Duration::from_secs(1), 10)));
        assert_eq!("20/h".parse(), Ok(Quota::new(20, Duration::from_secs(3600), 20)));
        assert!("0/s".parse::<Quota>().is_err());
        assert!("10/d".parse::<Quota>().is_err());
        assert!("ten".parse::<Quota>().is_err());
    }

    #[test]
    fn a_burst_is_allowed_then_the_sustained_rate_and_others_are_unaffected() {
        let config =
            RateConfig { quotas: Some(HashMap::from([(Kind::Send, Quota::new(1, Duration::from_secs(60), 3))])) };
        let limits = RateLimits::new(&config);
        let (alice, bob) = (Subject::User(UserId::new()), Subject::User(UserId::new()));
        for _ in 0..3 {
            assert_eq!(limits.check(Kind::Send, alice), Ok(()));
        }
        match limits.check(Kind::Send, alice) {
            Err(Error::RateLimited { retry_after, .. }) => {
                assert!(
                    retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60),
                    "{retry_after:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(limits.check(Kind::Send, bob), Ok(()), "another user is unaffected");
        assert_eq!(limits.check(Kind::CreateRoom, alice), Ok(()), "a kind without a quota is not limited");
        assert_eq!(RateLimits::new(&RateConfig::off()).check(Kind::Send, alice), Ok(()));
    }

    #[test]
    fn requests_allowed_elsewhere_use_up_the_same_bucket() {
        let config =
            RateConfig { quotas: Some(HashMap::from([(Kind::Send, Quota::new(1, Duration::from_secs(60), 3))])) };
        let limits = RateLimits::new(&config);
        let alice = Subject::User(UserId::new());
        limits.charge(Kind::Send, alice);
        limits.charge(Kind::Send, alice);
        assert_eq!(limits.check(Kind::Send, alice), Ok(()));
        assert!(limits.check(Kind::Send, alice).is_err(), "two of three were used on another node");
    }
}
