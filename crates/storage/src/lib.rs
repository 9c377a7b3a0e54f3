//! Parley's persistence layer: the portable schema, the connection pools and every query, for SQLite
//! (the embedded default) and MySQL/MariaDB (production).
//!
//! **Boundary:** this is the only crate that knows Diesel. Its public functions take a [`Conn`] and plain
//! values and return plain values from `types` or from this crate; no Diesel type crosses the boundary.
//! Each function that changes several rows does so in one transaction, so callers never see half a change.
//!
//! **Invariant:** every query is written once, in a [`run!`](db::run) body that is compiled for both
//! backends. Backend-specific SQL appears only where the two truly differ, side by side in one function.
//!
//! Errors: every function returns [`Error`]; domain crates wrap it and pass its code on.

pub mod bench;
mod codes;
mod db;
mod error;
pub mod rooms;
pub mod schema;
pub mod sessions;
pub mod timeline;
pub mod users;

pub use db::{Backend, Conn, Db, DbConfig, redact};
pub use error::{Error, Result};
