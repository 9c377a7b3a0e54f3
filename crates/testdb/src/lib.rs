//! Test databases: a fresh, migrated database for every test, on SQLite always and on MySQL/MariaDB when
//! `PARLEY_TEST_MYSQL_URL` names a server (e.g. `mysql://root@127.0.0.1:3306`). Storage and the domain
//! crates test against it without a server; `testkit` adds servers on top.
//!
//! Each MySQL test gets its own database (`parley_test_<random>`), created from the migrations and dropped
//! when the test ends, so tests run in parallel and never see each other's rows. Without the variable the
//! MySQL half of every test is skipped with a notice; with `CI` or `PARLEY_REQUIRE_MYSQL` set, it fails
//! instead, so that CI can never pass by skipping.
//!
//! Write storage-touching tests with [`db_test!`], which makes one test per backend.

use std::io::Write as _;
use std::sync::Once;

use anyhow::Context as _;
use mysql_async::prelude::Queryable as _;
use storage::{Backend, Db, DbConfig};

pub use anyhow;

/// The environment variable naming the MySQL server for tests.
pub const MYSQL_URL_VAR: &str = "PARLEY_TEST_MYSQL_URL";

/// A fresh database that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    db: Option<Db>,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Mysql { server: String, name: String },
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory.
    ///
    /// # Panics
    /// If the database cannot be created: a test cannot go on without it.
    pub async fn sqlite() -> Self {
        Self::try_sqlite().await.unwrap_or_else(|e| panic!("cannot create a test SQLite database: {e:#}"))
    }

    async fn try_sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("parley.db").display());
        let db = Db::open(&DbConfig::new(&url)).await?;
        Ok(Self { db: Some(db), url, cleanup: Cleanup::Sqlite(dir) })
    }

    /// A fresh MySQL database, or `None` (after a notice) when no server is configured outside CI.
    ///
    /// # Panics
    /// When a server is configured but unusable, or none is configured in CI.
    pub async fn mysql() -> Option<Self> {
        let server = mysql_server()?;
        Some(Self::try_mysql(&server).await.unwrap_or_else(|e| {
            panic!("cannot create a test database on {} ({MYSQL_URL_VAR}): {e:#}", storage::redact(&server))
        }))
    }

    /// A fresh database on the MySQL server at `server` (`mysql://USER:PASSWORD@HOST:PORT`), whatever the
    /// environment says.
    ///
    /// # Errors
    /// When the server cannot be reached or the database created.
    pub async fn mysql_at(server: &str) -> anyhow::Result<Self> {
        Self::try_mysql(server).await
    }

    async fn try_mysql(server: &str) -> anyhow::Result<Self> {
        let name = format!("parley_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = mysql_async::Conn::from_url(server).await.context("connecting")?;
        admin.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")).await?;
        admin.disconnect().await?;
        let url = format!("{}/{name}", server.trim_end_matches('/'));
        let cleanup = Cleanup::Mysql { server: server.to_owned(), name };
        let db = Db::open(&DbConfig::new(&url)).await?;
        Ok(Self { db: Some(db), url, cleanup })
    }

    /// A fresh database of the given backend (`None` as for [`TestDb::mysql`]).
    pub async fn of(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Mysql => Self::mysql().await,
        }
    }

    /// The database handle.
    pub fn db(&self) -> &Db {
        // Only `drop` takes it out.
        self.db.as_ref().unwrap_or_else(|| unreachable!())
    }

    /// The URL, to open the same database again (a server restart).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.db().backend()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close our connections first so the database can be dropped at once.
        drop(self.db.take());
        if let Cleanup::Mysql { server, name } = &self.cleanup {
            let (server, name) = (server.clone(), name.clone());
            // Drop cannot await, and the test's runtime may be shutting down: use a runtime of our own on a
            // thread of our own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async {
                    let mut admin = mysql_async::Conn::from_url(server.as_str()).await?;
                    admin.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).await?;
                    admin.disconnect().await?;
                    anyhow::Ok(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                notice("could not drop a MySQL test database; drop parley_test_* databases by hand");
            }
        }
    }
}

/// The MySQL server URL for tests, if any.
///
/// # Panics
/// When none is set in CI.
pub fn mysql_server() -> Option<String> {
    match std::env::var(MYSQL_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() || std::env::var_os("PARLEY_REQUIRE_MYSQL").is_some() => {
            panic!("{MYSQL_URL_VAR} must be set when CI or PARLEY_REQUIRE_MYSQL is set")
        }
        _ => {
            static ONCE: Once = Once::new();
            ONCE.call_once(|| {
                notice(&format!("MySQL tests skipped: set {MYSQL_URL_VAR}=mysql://root@127.0.0.1:3306 to run them"));
            });
            None
        }
    }
}

/// Prints a line that the test harness does not capture, so that skips are visible in a normal run.
pub fn notice(line: &str) {
    // `eprintln!` is captured by the test harness; a direct write to the stderr handle is not.
    let _ = writeln!(std::io::stderr(), "note: {line}");
}

/// Defines a test that runs once on SQLite and once on MySQL (see the crate docs), as two tests named
/// `NAME::sqlite` and `NAME::mysql`. The body gets a `&TestDb` and returns `anyhow::Result<()>`.
///
/// ```ignore
/// db_test!(async fn inserts_a_user(t) {
///     let mut conn = t.db().write().await?;
///     Ok(())
/// });
/// ```
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($t:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($t: &$crate::TestDb) -> $crate::anyhow::Result<()> $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> $crate::anyhow::Result<()> {
                let t = $crate::TestDb::sqlite().await;
                body(&t).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() -> $crate::anyhow::Result<()> {
                let Some(t) = $crate::TestDb::mysql().await else { return Ok(()) };
                body(&t).await
            }
        }
    };
}

/// Creates a user called `name` (email `NAME@example.com`, a placeholder password hash that verifies
/// nothing) straight in storage, for tests of storage and of the domain crates that need accounts but not
/// sign-in.
///
/// # Errors
/// Database errors.
pub async fn user(conn: &mut storage::Conn, name: &str) -> storage::Result<types::UserId> {
    let id = types::UserId::new();
    let email = format!("{name}@example.com");
    conn.insert_user(&storage::users::NewUser {
        id,
        username: name,
        username_key: name,
        email: &email,
        email_key: &email,
        display_name: name,
        password_hash: "$argon2id$placeholder",
        created_at: types::Millis::now(),
    })
    .await?;
    Ok(id)
}
