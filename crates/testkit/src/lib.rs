//! Test support for end-to-end tests: a real server on a free loopback port over a test database
//! ([`TestServer`]), a server binary as a process ([`Daemon`]), certificates made at test time
//! ([`TestCerts`]), and a private MariaDB server for tests that need one configured their own way
//! ([`MariaDb`]), and a private NATS server for cluster tests ([`Nats`]). The databases themselves come from `testdb` (re-exported here), which storage and the
//! domain crates use without any server.

mod mariadb;
mod nats;
mod process;
mod server;
mod tls;

pub use mariadb::MariaDb;
pub use nats::Nats;
pub use process::Daemon;
pub use server::{SECRET, TestServer};
pub use testdb::{MYSQL_URL_VAR, TestDb, anyhow, db_test, mysql_server, notice};
pub use tls::{Pair, TestCerts};
