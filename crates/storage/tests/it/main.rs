//! Storage tests, each run on SQLite and on MySQL (see `testkit`).

mod users;
