//! Parley's shared vocabulary: typed ids, the plain value types that cross crate boundaries, paging, and the
//! small closed sets of error codes and reasons that every domain error maps to.
//!
//! This crate must never do I/O or depend on gRPC, Diesel or any other transport or storage technology: it
//! is the one thing every other crate agrees on, so it has to stay small and inert.

mod error;
mod id;
mod model;
pub mod page;
pub mod text;
mod time;
mod wire;

pub use error::{DomainError, ErrorCode, FieldViolation, Reason, Violations};
pub use id::{EntryId, IdError, NodeId, RoomId, SessionId, UserId};
pub use model::{
    Account, Departure, Entry, EntryKind, Member, MessageState, PresenceStatus, Reaction, ReadMark, ReadState, Role,
    Room, RoomKind, Subject, Typing, User, UserPresence, Visibility,
};
pub use page::{PageSize, TimelinePage};
pub use time::Millis;
pub use wire::WireCache;
