//! Limits that keep one client from pushing the server around: request rates per user (or per address,
//! for calls made before signing in), and open streams per user.
//!
//! Rates are token buckets (GCRA, from `governor`): each kind of request has a sustained rate and a burst,
//! per key. The defaults are far above what a busy person does by hand and far below what a script does.
//!
//! In a cluster, every node counts what the others allowed too (see [`Peers`]): a node tells its peers of
//! each request it allowed and of its users' open streams, and charges what they tell it against its own
//! buckets and counts. The limits then hold across nodes, approximately: within one message's trip between
//! nodes (about a millisecond), each node may allow what it alone would, so the worst case is one burst per
//! node; sustained rates and stream counts converge to the configured ones. Without the cluster link
//! (NATS down), each node enforces the limits on its own.
//!
//! **Never:** see gRPC types (the gateway maps methods to [`Kind`]s), or block: a request over its limit is
//! refused at once with the time after which it would be allowed.

mod rates;
mod streams;

pub use rates::{Kind, Quota, RateConfig, RateLimits, Subject};
pub use streams::{StreamLimit, StreamPermit};

use std::time::Duration;

use types::{DomainError, ErrorCode, Reason, UserId};

/// The other nodes of a cluster, as the limits see them: told what this node counted. (The cluster
/// transport implements it; the limits never know how the news travels.)
pub trait Peers: Send + Sync + std::fmt::Debug + 'static {
    /// This node allowed one request of `kind` by `subject`.
    fn counted(&self, kind: Kind, subject: Subject);
    /// `user` now has `open` streams open on this node.
    fn streams(&self, user: UserId, open: usize);
}

/// What can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Too many requests of one kind.
    #[error("too many {what}; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// What kind of request, in words ("messages").
        what: &'static str,
        /// When the next one would be allowed.
        retry_after: Duration,
    },
    /// Too many open streams.
    #[error("you have {0} open streams, the most allowed; close one (another tab or device) and subscribe again")]
    TooManyStreams(usize),
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        ErrorCode::ResourceExhausted
    }

    fn reason(&self) -> Reason {
        match self {
            Self::RateLimited { .. } => Reason::RateLimited,
            Self::TooManyStreams(_) => Reason::LimitReached,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::TooManyStreams(_) => None,
        }
    }
}
