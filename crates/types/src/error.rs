//! The closed set of error codes that every domain error maps to, and the trait through which the gateway
//! learns a domain error's code and details.
//!
//! Each crate has its own error enum (`storage::Error`, `auth::Error`, `rooms::Error`…), lowercase messages,
//! no trailing period. The gateway turns an error into a `tonic::Status` in exactly one function, using only
//! what [`DomainError`] exposes. [`ErrorCode::Internal`] and [`ErrorCode::Unavailable`] errors are logged
//! there and reach the client as a generic message, so their text may contain internal details; every other
//! code's message is sent to the client as it is, so it must be written for a person to act on.

use std::time::Duration;

/// What kind of failure an error is, in the terms a client can act on. Mirrors the gRPC status codes that
/// Parley uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed; see the field violations.
    InvalidArgument,
    /// No valid credentials.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The thing does not exist, or the caller may not know that it does.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The system is not in a state that allows this (e.g. leaving a room one is not in).
    FailedPrecondition,
    /// A rate limit or quota is exceeded; see the retry delay.
    ResourceExhausted,
    /// A dependency (database, bus) is unreachable right now; retrying later may work.
    Unavailable,
    /// A bug or an unexpected failure. Details are logged, never sent.
    Internal,
}

impl ErrorCode {
    /// Whether the error's message must be hidden from clients (it may contain internal details).
    pub fn is_internal(self) -> bool {
        matches!(self, Self::Internal | Self::Unavailable)
    }
}

/// One thing wrong with one request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's name as it appears in the request message (e.g. `username`).
    pub field: &'static str,
    /// What is wrong, for a person: "must be 3 to 32 characters".
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: &'static str, description: impl Into<String>) -> Self {
        Self { field, description: description.into() }
    }
}

/// What every crate's error enum tells the gateway.
pub trait DomainError: std::error::Error {
    /// The error's code.
    fn code(&self) -> ErrorCode;

    /// Field violations, for [`ErrorCode::InvalidArgument`] errors.
    fn field_violations(&self) -> &[FieldViolation] {
        &[]
    }

    /// How long to wait before retrying, for [`ErrorCode::ResourceExhausted`] errors.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}
