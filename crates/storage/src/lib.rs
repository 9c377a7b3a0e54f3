//! Parley's persistence layer: the portable schema, the connection pools and every query, for SQLite
//! (the embedded default) and MySQL/MariaDB (production).
//!
//! **Boundary:** this is the only crate that knows Diesel, and it holds data, not rules. Every query is a
//! small method of [`Conn`] (reads, single statements) or [`Tx`] (what only makes sense in a transaction:
//! locking a room, appending to a timeline, claiming a refresh token). Domain crates open transactions
//! with [`Db::transaction`] and compose these steps; who may do what, who becomes owner, when a token
//! counts as reused, is decided there. No Diesel type crosses the boundary.
//!
//! **Invariant:** every query is written once and compiled for both backends (see `db.rs`). Backend-specific
//! code appears only where the two truly differ, side by side in one `match`.
//!
//! **Never:** decide a rule, hold state between calls, or ship benchmark code in the server (`bench` is a
//! cargo feature that only `parley-bench` enables).
//!
//! Errors: every function returns [`Error`]; domain crates wrap it and pass its code on.

#[cfg(feature = "bench")]
pub mod bench;
mod codes;
mod db;
mod error;
mod prepared;
pub mod rooms;
pub mod schema;
pub mod sessions;
pub mod timeline;
pub mod users;

pub use db::{Backend, Conn, Db, DbConfig, Tx, TxBody, redact};
pub use error::{Error, Result};
