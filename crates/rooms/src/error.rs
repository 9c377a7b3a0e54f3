//! The rooms crate's one error type.

use types::{DomainError, ErrorCode, FieldViolation, Reason, Violations};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed request fields.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// The room does not exist, or the caller may not know it does.
    #[error("room not found")]
    RoomNotFound,
    /// No user has this username.
    #[error("no user is called {0:?}")]
    UserNotFound(String),
    /// The named user is not a member.
    #[error("that user is not a member of this room")]
    MemberNotFound,
    /// The caller holds no invitation to this room.
    #[error("you have no pending invitation to this room")]
    InvitationNotFound,
    /// The caller is not a member of a room they can see, and wants to use it.
    #[error("you are not a member of this room; join it first")]
    NotMember,
    /// The caller is not a member of a room they want to leave.
    #[error("you are not a member of this room")]
    NotInRoom,
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The invitee is a member already.
    #[error("{0} is already a member of this room")]
    AlreadyMember(String),
    /// What direct conversations do not allow.
    #[error("{0}")]
    Direct(&'static str),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

/// A violation of one request field.
pub(crate) fn invalid(field: &'static str, description: impl Into<String>) -> Error {
    Error::Invalid(FieldViolation::new(field, description).into())
}

impl From<FieldViolation> for Error {
    fn from(v: FieldViolation) -> Self {
        Self::Invalid(v.into())
    }
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::RoomNotFound | Self::UserNotFound(_) | Self::MemberNotFound | Self::InvitationNotFound => {
                ErrorCode::NotFound
            }
            Self::NotMember | Self::Forbidden(_) => ErrorCode::PermissionDenied,
            Self::AlreadyMember(_) => ErrorCode::AlreadyExists,
            Self::NotInRoom | Self::Direct(_) => ErrorCode::FailedPrecondition,
            Self::Storage(e) => e.code(),
        }
    }

    fn reason(&self) -> Reason {
        match self {
            Self::Invalid(_) => Reason::FieldInvalid,
            Self::RoomNotFound => Reason::RoomNotFound,
            Self::UserNotFound(_) => Reason::UserNotFound,
            Self::MemberNotFound => Reason::MemberNotFound,
            Self::InvitationNotFound => Reason::InvitationNotFound,
            Self::NotMember | Self::NotInRoom => Reason::NotAMember,
            Self::Forbidden(_) => Reason::RoleInsufficient,
            Self::AlreadyMember(_) => Reason::AlreadyAMember,
            Self::Direct(_) => Reason::DirectRoom,
            Self::Storage(e) => e.reason(),
        }
    }

    fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::Invalid(v) => v.as_slice(),
            _ => &[],
        }
    }
}
