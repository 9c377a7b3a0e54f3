//! Storage tests, each run on SQLite and on MySQL (see `testkit`).

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod timeline;
mod users;
