//! The messaging crate's one error type.

use std::time::Duration;

use types::{DomainError, ErrorCode, FieldViolation, Reason, Violations};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed request fields.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// Room access was refused (not found, or not a member).
    #[error(transparent)]
    Rooms(#[from] rooms::Error),
    /// The subscriber's session was logged out or revoked.
    #[error("session has ended; sign in again")]
    SessionEnded,
    /// The node is shutting down.
    #[error("server is shutting down; reconnect and resume from the last seq you received")]
    ShuttingDown,
    /// The send queue stayed full.
    #[error("the server has too many messages waiting to be stored; try again in a second")]
    Overloaded,
    /// The writer holding the send failed before answering (it was restarted). Whether the send was stored
    /// is unknown; retrying with the same `client_message_id` is safe.
    #[error("the send was interrupted before it was confirmed")]
    Interrupted,
    /// The subscription's task failed (it panicked): subscribe again with the last seqs.
    #[error("the subscription failed")]
    StreamFailed,
    /// The subscription missed membership changes and cannot tell what it may deliver.
    #[error("stream fell behind on membership changes; subscribe again with the last seq of each room")]
    FellBehind,
    /// Checking the session failed.
    #[error(transparent)]
    Auth(#[from] auth::Error),
    /// A limit was reached (open streams).
    #[error(transparent)]
    Limit(#[from] limits::Error),
    /// The room has no entry with that seq.
    #[error("this room has no message #{0}")]
    MessageNotFound(i64),
    /// The seq names an entry that is not a text message.
    #[error("#{0} is not a message (it records a membership change or an action)")]
    NotAMessage(i64),
    /// Someone else's message.
    #[error("{0}")]
    NotYourMessage(&'static str),
    /// The message is deleted.
    #[error("that message is deleted")]
    MessageDeleted,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

pub(crate) fn invalid(field: &'static str, description: impl Into<String>) -> Error {
    Error::Invalid(FieldViolation::new(field, description).into())
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::Rooms(e) => e.code(),
            Self::SessionEnded => ErrorCode::Unauthenticated,
            Self::ShuttingDown | Self::FellBehind | Self::Interrupted | Self::StreamFailed => ErrorCode::Unavailable,
            Self::Overloaded => ErrorCode::ResourceExhausted,
            Self::MessageNotFound(_) => ErrorCode::NotFound,
            Self::NotAMessage(_) => ErrorCode::InvalidArgument,
            Self::NotYourMessage(_) => ErrorCode::PermissionDenied,
            Self::MessageDeleted => ErrorCode::FailedPrecondition,
            Self::Auth(e) => e.code(),
            Self::Limit(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn reason(&self) -> Reason {
        match self {
            Self::Invalid(_) => Reason::FieldInvalid,
            Self::Rooms(e) => e.reason(),
            Self::SessionEnded => Reason::SessionEnded,
            Self::ShuttingDown => Reason::ShuttingDown,
            Self::Overloaded => Reason::Overloaded,
            Self::Interrupted => Reason::Unavailable,
            Self::StreamFailed => Reason::Unavailable,
            Self::FellBehind => Reason::StreamFellBehind,
            Self::MessageNotFound(_) => Reason::MessageNotFound,
            Self::NotAMessage(_) => Reason::NotAMessage,
            Self::NotYourMessage(_) => Reason::NotYourMessage,
            Self::MessageDeleted => Reason::MessageDeleted,
            Self::Auth(e) => e.reason(),
            Self::Limit(e) => e.reason(),
            Self::Storage(e) => e.reason(),
        }
    }

    fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::Invalid(v) => v.as_slice(),
            Self::Rooms(e) => e.field_violations(),
            _ => &[],
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Overloaded => Some(Duration::from_secs(1)),
            Self::Auth(e) => e.retry_after(),
            Self::Limit(e) => e.retry_after(),
            _ => None,
        }
    }
}
