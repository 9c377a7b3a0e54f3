//! The storage crate's one error type. Domain crates wrap it (`#[from] storage::Error`) and forward its
//! [`DomainError::code`]; whatever text it carries is for logs only, because every variant that can hold
//! database details maps to an internal code.

use types::{DomainError, ErrorCode, Reason};

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database URL is not one Parley understands.
    #[error("unsupported database url {0:?}: use sqlite://PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE")]
    BadUrl(String),
    /// The database settings cannot be used as given (an unknown URL parameter, an unreadable CA file).
    #[error("invalid database settings: {0}")]
    Config(String),
    /// No connection could be had: the server is down, unreachable, or every connection stayed busy for the
    /// whole acquire timeout.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique key already holds this value; the payload names what (e.g. "username").
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The row asked for does not exist; the payload names what.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Running the migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A stored value cannot be read back (an id of the wrong length, an unknown enum code).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
}

/// Storage's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => Self::NotFound("record"),
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => Self::Unavailable(info.message().to_owned()),
            D::DatabaseError(DatabaseErrorKind::Unknown, info) if is_connection_failure(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            other => Self::Query(other),
        }
    }
}

/// Whether an error of unknown kind is the connection failing rather than the statement. diesel-async
/// reports every error of the MySQL driver that is not the server's answer to a statement (a reset socket,
/// a closed connection) as `DatabaseErrorKind::Unknown` with the driver's text, so the text is all there is
/// to tell them by; the server's own errors of this kind are listed by their messages too. These become
/// [`Error::Unavailable`]: the database may well answer a retry.
fn is_connection_failure(message: &str) -> bool {
    const DRIVER: [&str; 5] = [
        "Input/output error",
        "Connection to the server is closed",
        "Lost connection to",
        "Server shutdown in progress",
        "server has gone away",
    ];
    DRIVER.iter().any(|text| message.contains(text))
}

impl Error {
    /// Whether this is a write that lost a race for a unique key (e.g. the same send stored at once through
    /// another node): trying again reads what the winner stored.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Query(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
        )
    }
}

impl From<types::IdError> for Error {
    fn from(_: types::IdError) -> Self {
        Self::Corrupt("an id is not 16 bytes".into())
    }
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        match self {
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::BadUrl(_) | Self::Config(_) | Self::Migration(_) | Self::Corrupt(_) | Self::Query(_) => {
                ErrorCode::Internal
            }
        }
    }

    fn reason(&self) -> Reason {
        match self {
            // Callers that can tell a user what exists or not say so in their own terms; one that lets
            // these through has met a row it expected to find.
            Self::AlreadyExists(_) | Self::NotFound(_) => Reason::Internal,
            Self::Unavailable(_) => Reason::Unavailable,
            Self::BadUrl(_) | Self::Config(_) | Self::Migration(_) | Self::Corrupt(_) | Self::Query(_) => {
                Reason::Internal
            }
        }
    }
}

/// Whether `e` is a unique-key violation of the index or column named `key`. Both backends name it in the
/// message: MySQL as "Duplicate entry '…' for key 'users_email_key'", SQLite as "UNIQUE constraint failed:
/// users.email_key"; the schema names indexes and columns so that `key` matches both.
pub(crate) fn is_unique_violation(e: &diesel::result::Error, key: &str) -> bool {
    use diesel::result::{DatabaseErrorKind, Error as D};
    matches!(e, D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) if info.message().contains(key))
}
