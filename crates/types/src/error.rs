//! The closed set of error codes and reasons that every domain error maps to, the field violations of a
//! malformed request, and the trait through which the gateway learns a domain error's code and details.
//!
//! Each crate has its own error enum (`storage::Error`, `auth::Error`, `rooms::Error`…), lowercase messages,
//! no trailing period. The gateway turns an error into a `tonic::Status` in exactly one function, using only
//! what [`DomainError`] exposes. [`ErrorCode::Internal`] and [`ErrorCode::Unavailable`] errors are logged
//! there and reach the client as a generic message, so their text may contain internal details; every other
//! code's message is sent to the client as it is, so it must be written for a person to act on.

use std::fmt;
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
    /// The call took longer than the server allows.
    DeadlineExceeded,
    /// A bug or an unexpected failure. Details are logged, never sent.
    Internal,
}

impl ErrorCode {
    /// Whether the error's message must be hidden from clients (it may contain internal details).
    pub fn is_internal(self) -> bool {
        matches!(self, Self::Internal | Self::Unavailable | Self::DeadlineExceeded)
    }
}

/// Why a call failed, as a stable word that clients branch on (sent as `google.rpc.ErrorInfo.reason`).
/// The set is closed and every value is listed in the protos' comments; a value, once released, keeps its
/// meaning forever. Clients must never branch on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// One or more request fields are malformed; `google.rpc.BadRequest` names each.
    FieldInvalid,
    /// Registration: the username belongs to another account.
    UsernameTaken,
    /// Registration: the email belongs to another account.
    EmailTaken,
    /// Login: unknown username or email, or a wrong password.
    BadCredentials,
    /// Login: too many failed attempts; see `google.rpc.RetryInfo`.
    LoginThrottled,
    /// Too many requests of this kind; see `google.rpc.RetryInfo`.
    RateLimited,
    /// A limit on open streams or connections is reached.
    LimitReached,
    /// The server has too much of this work in hand right now; see `google.rpc.RetryInfo`.
    Overloaded,
    /// The request message is larger than the server accepts.
    RequestTooLarge,
    /// The room has no entry with that seq.
    MessageNotFound,
    /// The seq names an entry that is not a text message.
    NotAMessage,
    /// Only the message's sender (or, to delete, an owner or admin) may do this.
    NotYourMessage,
    /// The message is deleted.
    MessageDeleted,
    /// No `authorization` metadata.
    CredentialsMissing,
    /// `authorization` metadata that is not `Bearer <token>`.
    CredentialsMalformed,
    /// The access token has expired: refresh it and retry.
    TokenExpired,
    /// The access token is forged, corrupted or for another server.
    TokenInvalid,
    /// The session was logged out or revoked: sign in again.
    SessionEnded,
    /// The refresh token is unknown, expired or of an ended session.
    RefreshTokenInvalid,
    /// The refresh token had been used before, so its session was ended.
    RefreshTokenReused,
    /// No session of the caller's matches.
    SessionNotFound,
    /// The room does not exist, or the caller may not know that it does.
    RoomNotFound,
    /// No user has this username.
    UserNotFound,
    /// The named user is not a member of the room.
    MemberNotFound,
    /// The caller holds no invitation to the room.
    InvitationNotFound,
    /// The caller is not a member of the room.
    NotAMember,
    /// The caller's role in the room does not allow this.
    RoleInsufficient,
    /// The user is already a member of the room.
    AlreadyAMember,
    /// Direct conversations cannot be left and take no further members.
    DirectRoom,
    /// SetPresence without an open stream.
    NotConnected,
    /// The server is shutting down: reconnect (to another node) and resume.
    ShuttingDown,
    /// A stream fell too far behind on membership changes: subscribe again with the last seqs.
    StreamFellBehind,
    /// A dependency of the server is unavailable: retry shortly.
    Unavailable,
    /// The server took too long: retry (a send with the same `client_message_id`).
    Timeout,
    /// A bug or an unexpected failure, logged by the server.
    Internal,
    /// The account was disabled by the server's operator: it cannot sign in or refresh.
    AccountDisabled,
}

impl Reason {
    /// Every reason, for checks that the protos list them all (keep in step with the enum).
    pub const ALL: [Self; 36] = [
        Self::FieldInvalid,
        Self::UsernameTaken,
        Self::EmailTaken,
        Self::BadCredentials,
        Self::LoginThrottled,
        Self::RateLimited,
        Self::LimitReached,
        Self::CredentialsMissing,
        Self::Overloaded,
        Self::RequestTooLarge,
        Self::MessageNotFound,
        Self::NotAMessage,
        Self::NotYourMessage,
        Self::MessageDeleted,
        Self::CredentialsMalformed,
        Self::TokenExpired,
        Self::TokenInvalid,
        Self::SessionEnded,
        Self::RefreshTokenInvalid,
        Self::RefreshTokenReused,
        Self::SessionNotFound,
        Self::RoomNotFound,
        Self::UserNotFound,
        Self::MemberNotFound,
        Self::InvitationNotFound,
        Self::NotAMember,
        Self::RoleInsufficient,
        Self::AlreadyAMember,
        Self::DirectRoom,
        Self::NotConnected,
        Self::ShuttingDown,
        Self::StreamFellBehind,
        Self::Unavailable,
        Self::Timeout,
        Self::Internal,
        Self::AccountDisabled,
    ];

    /// The upper-snake word clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FieldInvalid => "FIELD_INVALID",
            Self::UsernameTaken => "USERNAME_TAKEN",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::BadCredentials => "BAD_CREDENTIALS",
            Self::LoginThrottled => "LOGIN_THROTTLED",
            Self::RateLimited => "RATE_LIMITED",
            Self::LimitReached => "LIMIT_REACHED",
            Self::Overloaded => "OVERLOADED",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::MessageNotFound => "MESSAGE_NOT_FOUND",
            Self::NotAMessage => "NOT_A_MESSAGE",
            Self::NotYourMessage => "NOT_YOUR_MESSAGE",
            Self::MessageDeleted => "MESSAGE_DELETED",
            Self::CredentialsMissing => "CREDENTIALS_MISSING",
            Self::CredentialsMalformed => "CREDENTIALS_MALFORMED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::SessionEnded => "SESSION_ENDED",
            Self::RefreshTokenInvalid => "REFRESH_TOKEN_INVALID",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::RoomNotFound => "ROOM_NOT_FOUND",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::MemberNotFound => "MEMBER_NOT_FOUND",
            Self::InvitationNotFound => "INVITATION_NOT_FOUND",
            Self::NotAMember => "NOT_A_MEMBER",
            Self::RoleInsufficient => "ROLE_INSUFFICIENT",
            Self::AlreadyAMember => "ALREADY_A_MEMBER",
            Self::DirectRoom => "DIRECT_ROOM",
            Self::NotConnected => "NOT_CONNECTED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::StreamFellBehind => "STREAM_FELL_BEHIND",
            Self::Unavailable => "UNAVAILABLE",
            Self::Timeout => "TIMEOUT",
            Self::Internal => "INTERNAL",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

/// Everything wrong with one request, each field named: the payload of every crate's "invalid request"
/// error. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// The violations collected, or `Ok(())` when there are none.
    ///
    /// # Errors
    /// The violations, when there is at least one.
    pub fn check(found: Vec<FieldViolation>) -> Result<(), Self> {
        if found.is_empty() { Ok(()) } else { Err(Self(found)) }
    }

    /// The violations, in the order found.
    pub fn as_slice(&self) -> &[FieldViolation] {
        &self.0
    }
}

impl From<FieldViolation> for Violations {
    fn from(v: FieldViolation) -> Self {
        Self(vec![v])
    }
}

impl fmt::Display for Violations {
    /// `invalid request: field: what is wrong; other: …`, every violation in one sentence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid request: ")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// What every crate's error tells the gateway.
pub trait DomainError: std::error::Error {
    /// The error's code.
    fn code(&self) -> ErrorCode;

    /// The stable reason clients branch on.
    fn reason(&self) -> Reason;

    /// Field violations, for [`ErrorCode::InvalidArgument`] errors.
    fn field_violations(&self) -> &[FieldViolation] {
        &[]
    }

    /// How long to wait before retrying, for [`ErrorCode::ResourceExhausted`] errors.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl DomainError for Violations {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }

    fn reason(&self) -> Reason {
        Reason::FieldInvalid
    }

    fn field_violations(&self) -> &[FieldViolation] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_read_as_one_sentence() {
        let v = Violations::check(vec![
            FieldViolation::new("username", "must be 3 to 32 characters (is 2)"),
            FieldViolation::new("password", "must be 8 to 128 characters (is 3)"),
        ]);
        let text = v.map_err(|e| e.to_string());
        assert_eq!(
            text,
            Err("invalid request: username: must be 3 to 32 characters (is 2); password: must be 8 to 128 characters \
                 (is 3)"
                .to_owned())
        );
        assert_eq!(Violations::check(Vec::new()), Ok(()));
    }
}
