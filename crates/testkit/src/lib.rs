//! Test support for end-to-end tests: a real server on a free loopback port over a test database
//! ([`TestServer`]), and a server binary as a process ([`Daemon`]). The databases themselves come from
//! `testdb` (re-exported here), which storage and the domain crates use without any server.

mod process;
mod server;

pub use process::Daemon;
pub use server::{SECRET, TestServer};
pub use testdb::{MYSQL_URL_VAR, TestDb, anyhow, db_test, mysql_server, notice};
