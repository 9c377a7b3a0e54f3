//! Storage tests, each run on SQLite and on MySQL (see `testdb`): every query reads back what it wrote,
//! identically on both backends.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod rooms;
mod support;
mod timeline;
mod transactions;
mod users;
