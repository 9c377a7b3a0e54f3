//! Connection pools for both backends, the [`Conn`] every query is a method of, and [`Tx`], the transaction
//! that domain crates compose queries in.
//!
//! **Invariant:** every query is written once. [`Conn::load`] and [`Conn::execute`] take a query that must
//! compile for both backends' connections (their bounds name both), and dispatch it to the one this
//! connection has. Code specific to a backend appears only where the two truly differ, as a `match` on
//! [`Conn::backed`] with the two arms side by side.
//!
//! **Invariant:** on SQLite every write goes through [`Db::write`], whose pool holds exactly one connection.
//! SQLite allows one writer at a time anyway; funnelling writes through one connection turns lock contention
//! (and `SQLITE_BUSY` when a read transaction tries to upgrade) into a queue on the pool, while readers use
//! their own pool and, in WAL mode, never block the writer. On MySQL both methods draw from one pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{ConnectionError, SqliteConnection};
use diesel_async::methods::{ExecuteDsl, LoadQuery};
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use mysql_async::{Opts, OptsBuilder};

use crate::error::{Error, Result};

pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
type MysqlTm = <AsyncMysqlConnection as AsyncConnection>::TransactionManager;
type SqliteTm = <SqliteConn as AsyncConnection>::TransactionManager;

const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Run on every new SQLite connection. WAL lets readers work while the writer writes; `synchronous = FULL`
/// makes every commit durable (an acknowledged message survives a power cut, not only a crash);
/// `busy_timeout` makes a connection wait for a lock rather than fail at once.
const SQLITE_SETUP: &str = "PRAGMA busy_timeout = 5000; \
                            PRAGMA journal_mode = WAL; \
                            PRAGMA synchronous = FULL; \
                            PRAGMA foreign_keys = ON;";

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (bundled SQLite).
    Sqlite,
    /// A MySQL or MariaDB server.
    Mysql,
}

/// How to reach the database and how to pool connections.
#[derive(Clone)]
pub struct DbConfig {
    /// `sqlite://PATH` (a file, created if missing) or `mysql://USER:PASSWORD@HOST:PORT/DATABASE`. A MySQL
    /// URL may ask for TLS with `?require_ssl=true` (mysql_async's parameters: `verify_ca` and
    /// `verify_identity` are on unless set to `false`).
    pub url: String,
    /// Most connections open at once (for SQLite: readers; there is always exactly one writer).
    pub max_connections: usize,
    /// How long a caller waits for a free connection (or for a new one to open) before giving up with
    /// [`Error::Unavailable`].
    pub acquire_timeout: Duration,
    /// MySQL only: a PEM file of the CA certificate(s) that sign the server's certificate. The server is
    /// then verified against these alone, not the public roots; and TLS is required even if the URL does
    /// not say `require_ssl=true`.
    pub tls_ca: Option<PathBuf>,
    /// How long one statement (or a transaction's begin or commit) may take before it fails with
    /// [`Error::Unavailable`]; its connection is then discarded, never reused, since its state is unknown.
    pub query_timeout: Duration,
}

impl DbConfig {
    /// A config for `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            tls_ca: None,
            query_timeout: Duration::from_secs(10),
        }
    }
}

/// The URL's password stays out of logs and panics.
impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &redact(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("tls_ca", &self.tls_ca)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

enum Pools {
    Mysql(Pool<AsyncMysqlConnection>),
    Sqlite { writer: Pool<SqliteConn>, readers: Pool<SqliteConn> },
}

/// A handle to the database: cheap to clone, shared by every part of the server.
#[derive(Clone)]
pub struct Db {
    pools: Arc<Pools>,
    backend: Backend,
    query_timeout: Duration,
    metrics: metrics::Storage,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish_non_exhaustive()
    }
}

enum Target {
    Mysql(String),
    Sqlite(String),
}

fn parse_url(url: &str) -> Result<Target> {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        // mysql_async only knows the mysql scheme.
        Ok(Target::Mysql(url.replacen("mariadb://", "mysql://", 1)))
    } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        if path.is_empty() {
            return Err(Error::BadUrl(url.to_owned()));
        }
        Ok(Target::Sqlite(path.to_owned()))
    } else {
        Err(Error::BadUrl(redact(url)))
    }
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl Db {
    /// Connects to the database at `config.url`, checks that it answers, and brings its schema up to date
    /// by running any pending migrations.
    ///
    /// # Errors
    /// [`Error::BadUrl`] for an unknown scheme, [`Error::Unavailable`] when the database cannot be reached
    /// (with the driver's reason), [`Error::Migration`] when a migration fails.
    pub async fn open(config: &DbConfig) -> Result<Self> {
        let db = match parse_url(&config.url)? {
            Target::Mysql(url) => {
                let opts = mysql_opts(&url, config.tls_ca.as_deref())?;
                let pool = build_pool(mysql_manager(&url, opts.clone()), config.max_connections.max(1), config)?;
                let db = Self {
                    pools: Arc::new(Pools::Mysql(pool)),
                    backend: Backend::Mysql,
                    query_timeout: config.query_timeout,
                    metrics: metrics::Storage::default(),
                };
                let conn = mysql_connect(opts).await.map_err(|e| unavailable(&config.url, &e))?;
                migrate_mysql(conn).await?;
                db
            }
            Target::Sqlite(_) if config.tls_ca.is_some() => {
                return Err(Error::Config("a database CA applies to MySQL only, not to SQLite".into()));
            }
            Target::Sqlite(path) => {
                let writer = build_pool(sqlite_manager(&path), 1, config)?;
                let readers = build_pool(sqlite_manager(&path), config.max_connections.max(1), config)?;
                let db = Self {
                    pools: Arc::new(Pools::Sqlite { writer, readers }),
                    backend: Backend::Sqlite,
                    query_timeout: config.query_timeout,
                    metrics: metrics::Storage::default(),
                };
                let conn = sqlite_connect(path.clone()).await.map_err(|e| unavailable(&config.url, &e))?;
                run_migrations(conn, SQLITE_MIGRATIONS).await?;
                db
            }
        };
        Ok(db)
    }

    /// This handle, recording its waits for connections into `metrics` (a node's; handles made by
    /// [`Db::open`] record nowhere).
    #[must_use]
    pub fn with_metrics(mut self, metrics: metrics::Storage) -> Self {
        self.metrics = metrics;
        self
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers a trivial query, within the query timeout (for readiness checks).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = tokio::time::timeout(self.query_timeout, self.read())
            .await
            .map_err(|_| Error::Unavailable("no database connection within the query timeout".into()))??;
        Conn::execute(&mut conn, diesel::sql_query("SELECT 1")).await?;
        Ok(())
    }

    /// A connection for queries that only read.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when none is free within the acquire timeout or a new one cannot be opened.
    pub async fn read(&self) -> Result<Conn> {
        let started = Instant::now();
        let got = match &*self.pools {
            Pools::Mysql(pool) => pool.get().await.map(Backed::Mysql),
            Pools::Sqlite { readers, .. } => readers.get().await.map(Backed::Sqlite),
        };
        self.acquired(metrics::Pool::Read, started, got)
    }

    /// A connection for queries that write (see the module's invariant).
    ///
    /// # Errors
    /// As [`Db::read`].
    pub async fn write(&self) -> Result<Conn> {
        let started = Instant::now();
        let got = match &*self.pools {
            Pools::Mysql(pool) => pool.get().await.map(Backed::Mysql),
            Pools::Sqlite { writer, .. } => writer.get().await.map(Backed::Sqlite),
        };
        self.acquired(metrics::Pool::Write, started, got)
    }

    /// A connection from `pool`, asked for at `started`, with the wait recorded.
    fn acquired(
        &self,
        pool: metrics::Pool,
        started: Instant,
        got: std::result::Result<Backed, PoolError>,
    ) -> Result<Conn> {
        match got {
            Ok(inner) => {
                self.metrics.acquired(pool, started.elapsed());
                Ok(Conn { inner, timeout: self.query_timeout })
            }
            Err(e) => {
                if matches!(e, PoolError::Timeout(_)) {
                    self.metrics.acquire_timed_out(pool);
                }
                Err(pool_error(e))
            }
        }
    }
}

fn build_pool<C>(manager: AsyncDieselConnectionManager<C>, size: usize, config: &DbConfig) -> Result<Pool<C>>
where
    C: diesel_async::pooled_connection::PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>:
        deadpool::managed::Manager<Type = C, Error = diesel_async::pooled_connection::PoolError>,
{
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(config.acquire_timeout))
        .create_timeout(Some(config.acquire_timeout))
        .recycle_timeout(Some(config.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| Error::Unavailable(e.to_string()))
}

fn sqlite_manager(path: &str) -> AsyncDieselConnectionManager<SqliteConn> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|path| Box::pin(sqlite_connect(path.to_owned())));
    AsyncDieselConnectionManager::new_with_config(path, config)
}

async fn sqlite_connect(path: String) -> diesel::ConnectionResult<SqliteConn> {
    let mut conn = SqliteConn::establish(&path).await?;
    conn.batch_execute(SQLITE_SETUP).await.map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// The connection options of a MySQL URL, with the CA file (if any) added to its TLS settings.
fn mysql_opts(url: &str, tls_ca: Option<&Path>) -> Result<Opts> {
    let opts = Opts::from_url(url).map_err(|e| Error::Config(format!("{}: {e}", redact(url))))?;
    let ssl = match tls_ca {
        None => opts.ssl_opts().cloned(),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Config(format!("cannot read the database CA {}: {e}", path.display())))?;
            if !pem.windows(CERTIFICATE_PEM.len()).any(|w| w == CERTIFICATE_PEM) {
                return Err(Error::Config(format!("{} holds no PEM certificate", path.display())));
            }
            let ssl = opts.ssl_opts().cloned().unwrap_or_default();
            Some(ssl.with_root_certs(vec![pem.into()]).with_disable_built_in_roots(true))
        }
    };
    // As diesel-async's own `establish` sets them: diesel keeps its own statement cache, and an UPDATE
    // counts the rows it matched (as on SQLite), not only those it changed.
    let mut builder = OptsBuilder::from_opts(opts).stmt_cache_size(0).client_found_rows(true);
    if let Some(ssl) = ssl {
        // A connection that must use TLS stays on TCP: with `prefer_socket`, mysql_async tries to move a
        // connection to a loopback server over to the server's Unix socket, which carries no TLS.
        builder = builder.ssl_opts(ssl).prefer_socket(false);
    }
    Ok(builder.into())
}

const CERTIFICATE_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// A MySQL connection made with `opts`, with diesel's session settings (UTC, utf8mb4) applied.
async fn mysql_connect(opts: Opts) -> diesel::ConnectionResult<AsyncMysqlConnection> {
    let conn = mysql_async::Conn::new(opts).await.map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    AsyncMysqlConnection::try_from(conn).await
}

fn mysql_manager(url: &str, opts: Opts) -> AsyncDieselConnectionManager<AsyncMysqlConnection> {
    let mut config = ManagerConfig::default();
    // One `Opts` for every connection: they share its TLS connector (and the CA read once).
    config.custom_setup = Box::new(move |_url| Box::pin(mysql_connect(opts.clone())));
    AsyncDieselConnectionManager::new_with_config(url, config)
}

fn unavailable(url: &str, e: &ConnectionError) -> Error {
    Error::Unavailable(format!("cannot connect to {}: {e}", redact(url)))
}

fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::Timeout(_) => Error::Unavailable("timed out waiting for a database connection".into()),
        PoolError::Backend(e) => Error::Unavailable(e.to_string()),
        other => Error::Unavailable(other.to_string()),
    }
}

/// Several nodes may start at once against one MySQL database; a named lock makes them migrate one at a
/// time (the others then find nothing pending).
async fn migrate_mysql(mut conn: AsyncMysqlConnection) -> Result<()> {
    use diesel::sql_types::{BigInt, Nullable};
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = Nullable<BigInt>)]
        locked: Option<i64>,
    }
    let got: Locked =
        diesel::sql_query("SELECT GET_LOCK('parley_migrations', 60) AS locked").get_result(&mut conn).await?;
    if got.locked != Some(1) {
        return Err(Error::Migration("another node held the migration lock for 60 s".into()));
    }
    let mut conn = run_migrations(conn, MYSQL_MIGRATIONS).await?;
    diesel::sql_query("DO RELEASE_LOCK('parley_migrations')").execute(&mut conn).await?;
    Ok(())
}

async fn run_migrations<C>(conn: C, migrations: EmbeddedMigrations) -> Result<C>
where
    C: AsyncConnection + 'static,
    AsyncMigrationHarness<C>: MigrationHarness<C::Backend>,
{
    let mut harness = AsyncMigrationHarness::new(conn);
    let pending = harness.pending_migrations(migrations).map_err(|e| Error::Migration(e.to_string()))?;
    if pending.is_empty() {
        tracing::info!("database schema is up to date");
    } else {
        tracing::info!(count = pending.len(), "running database migrations");
    }
    // One at a time, each logged before it starts: a migration that takes long on a large table shows which
    // one it is.
    for migration in pending {
        let version = migration.name().version().to_string();
        tracing::info!(%version, "running database migration");
        let started = std::time::Instant::now();
        harness.run_migration(&*migration).map_err(|e| Error::Migration(format!("{version}: {e}")))?;
        tracing::info!(%version, elapsed_ms = started.elapsed().as_millis(), "applied database migration");
    }
    Ok(harness.into_inner())
}

/// A connection of either backend, checked out of a pool: every query of this crate is a method of it
/// (reads here, writes and locks on [`Tx`]). Each statement commits by itself; [`Conn::transaction`] runs
/// several in one transaction. Dropping it returns the connection to its pool.
pub struct Conn {
    inner: Backed,
    /// How long one statement may take.
    timeout: Duration,
}

/// The concrete connection behind a [`Conn`].
pub(crate) enum Backed {
    Mysql(Object<AsyncMysqlConnection>),
    Sqlite(Object<SqliteConn>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Backed::Mysql(_) => "Conn(mysql)",
            Backed::Sqlite(_) => "Conn(sqlite)",
        })
    }
}

/// A transaction: the connection it runs on, for the queries that only make sense inside one (locking a
/// room, appending to a timeline, claiming a refresh token) and, through `Deref`, every query of [`Conn`].
///
/// Obtained from [`Db::transaction`] or [`Conn::transaction`], which commit when the body returns `Ok` and
/// roll back when it returns `Err`. The domain crates compose a transaction's steps and decide every rule
/// between them; storage only reads and writes.
#[derive(Debug)]
pub struct Tx<'c> {
    conn: &'c mut Conn,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
    }
}

/// The body of a transaction: an async closure over the [`Tx`] whose future is `Send`, so that
/// transactions can run in spawned tasks. (The two bounds together say what an async closure cannot say
/// alone: that its future, which borrows the transaction, is `Send`.)
pub trait TxBody<'t, T, E>:
    AsyncFnOnce(&'t mut Tx<'t>) -> Result<T, E> + FnOnce(&'t mut Tx<'t>) -> <Self as TxBody<'t, T, E>>::Fut
{
    /// The future the body returns.
    type Fut: Future<Output = Result<T, E>> + Send;
}

impl<'t, T, E, F, Fut> TxBody<'t, T, E> for F
where
    F: AsyncFnOnce(&'t mut Tx<'t>) -> Result<T, E> + FnOnce(&'t mut Tx<'t>) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send,
{
    type Fut = Fut;
}

impl Db {
    /// Runs `body` in one transaction on a write connection: committed when it returns `Ok`, rolled back
    /// when it returns `Err` (or fails to commit).
    ///
    /// # Errors
    /// `body`'s error, or [`Error::Unavailable`] / [`Error::Query`] (through `E: From<Error>`) when no
    /// connection can be had or the transaction cannot begin or commit.
    ///
    /// # Cancel safety
    /// Dropping the future part way leaves the connection with an open transaction; the pool then discards
    /// it (closing it, which rolls the transaction back) instead of handing it out again.
    pub async fn transaction<T, E, F>(&self, body: F) -> Result<T, E>
    where
        F: for<'t> TxBody<'t, T, E> + Send,
        E: From<Error> + Send,
        T: Send,
    {
        self.write().await?.transaction(body).await
    }
}

impl Conn {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Backed::Mysql(_) => Backend::Mysql,
            Backed::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs `body` in one transaction on this connection (see [`Db::transaction`]).
    ///
    /// # Errors
    /// As [`Db::transaction`].
    pub async fn transaction<T, E, F>(&mut self, body: F) -> Result<T, E>
    where
        F: for<'t> TxBody<'t, T, E> + Send,
        E: From<Error> + Send,
        T: Send,
    {
        self.begin().await?;
        let mut tx = Tx { conn: &mut *self };
        let outcome = body(&mut tx).await;
        match outcome {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) => {
                if let Err(rollback) = self.rollback().await {
                    // The connection is now in doubt; the pool checks it before anyone uses it again.
                    tracing::warn!(error = %rollback, "rolling back a transaction failed");
                }
                Err(e)
            }
        }
    }

    async fn begin(&mut self) -> Result<()> {
        let timeout = self.timeout;
        let outcome = tokio::time::timeout(timeout, async {
            match &mut self.inner {
                Backed::Mysql(c) => MysqlTm::begin_transaction(&mut **c).await,
                Backed::Sqlite(c) => SqliteTm::begin_transaction(&mut **c).await,
            }
        })
        .await;
        self.answered(outcome)
    }

    async fn commit(&mut self) -> Result<()> {
        let timeout = self.timeout;
        let outcome = tokio::time::timeout(timeout, async {
            match &mut self.inner {
                Backed::Mysql(c) => MysqlTm::commit_transaction(&mut **c).await,
                Backed::Sqlite(c) => SqliteTm::commit_transaction(&mut **c).await,
            }
        })
        .await;
        self.answered(outcome)
    }

    async fn rollback(&mut self) -> Result<()> {
        let timeout = self.timeout;
        let outcome = tokio::time::timeout(timeout, async {
            match &mut self.inner {
                Backed::Mysql(c) => MysqlTm::rollback_transaction(&mut **c).await,
                Backed::Sqlite(c) => SqliteTm::rollback_transaction(&mut **c).await,
            }
        })
        .await;
        self.answered(outcome)
    }

    /// The result of a statement that had [`Conn`]'s timeout to answer. One that did not answer in time
    /// leaves the connection in an unknown state (a reply may still be on its way, a transaction open):
    /// it is marked broken, so the pool discards it instead of handing it out again.
    fn answered<T>(&mut self, outcome: Result<diesel::QueryResult<T>, tokio::time::error::Elapsed>) -> Result<T> {
        match outcome {
            Ok(result) => Ok(result?),
            Err(_) => {
                match &mut self.inner {
                    Backed::Mysql(c) => MysqlTm::transaction_manager_status_mut(&mut **c).set_in_error(),
                    Backed::Sqlite(c) => SqliteTm::transaction_manager_status_mut(&mut **c).set_in_error(),
                }
                Err(Error::Unavailable(format!("the database did not answer within {:?}", self.timeout)))
            }
        }
    }

    /// Gives this connection's statements `timeout` to answer instead of the configured query timeout (for
    /// the benchmarks' bulk loads and index builds).
    #[cfg(feature = "bench")]
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The concrete connection, for the few statements that differ between backends.
    pub(crate) fn backed(&mut self) -> &mut Backed {
        &mut self.inner
    }

    /// Inserts many rows into `table` in one statement where the backend can: the one statement whose code
    /// differs between backends. MySQL takes one multi-row `INSERT`; diesel-async cannot build that for
    /// SQLite, so there diesel's own batch insert (one prepared statement per row, no round trips) runs on
    /// the connection's blocking thread. Bounded by the statement timeout like every query.
    pub(crate) async fn insert_all<T, V>(&mut self, table: T, rows: V) -> Result<()>
    where
        T: diesel::Table + Send + 'static,
        V: diesel::Insertable<T> + Send + 'static,
        diesel::query_builder::InsertStatement<T, V::Values>:
            ExecuteDsl<AsyncMysqlConnection> + diesel::query_dsl::methods::ExecuteDsl<SqliteConnection> + Send,
    {
        self.insert_rows(diesel::insert_into(table).values(rows)).await
    }

    /// As [`Conn::insert_all`], but a row whose key is taken is left out instead of failing the statement
    /// (`INSERT IGNORE`, `INSERT OR IGNORE`).
    pub(crate) async fn insert_all_new<T, V>(&mut self, table: T, rows: V) -> Result<()>
    where
        T: diesel::Table + Send + 'static,
        V: diesel::Insertable<T> + Send + 'static,
        diesel::query_builder::InsertStatement<T, V::Values, diesel::query_builder::InsertOrIgnore>:
            ExecuteDsl<AsyncMysqlConnection> + diesel::query_dsl::methods::ExecuteDsl<SqliteConnection> + Send,
    {
        self.insert_rows(diesel::insert_or_ignore_into(table).values(rows)).await
    }

    async fn insert_rows<S>(&mut self, statement: S) -> Result<()>
    where
        S: ExecuteDsl<AsyncMysqlConnection> + diesel::query_dsl::methods::ExecuteDsl<SqliteConnection> + Send + 'static,
    {
        let outcome = tokio::time::timeout(self.timeout, async {
            match &mut self.inner {
                Backed::Mysql(c) => RunQueryDsl::execute(statement, &mut **c).await,
                Backed::Sqlite(c) => {
                    c.spawn_blocking(move |conn| diesel::query_dsl::methods::ExecuteDsl::execute(statement, conn)).await
                }
            }
        })
        .await;
        self.answered(outcome).map(|_| ())
    }

    /// Runs a query and collects its rows. Every query of this crate goes through this method (or
    /// [`Conn::execute`]), so that it is written once and compiled for both backends: the query must be
    /// loadable on both, or it does not compile.
    ///
    /// (These return `impl Future + Send` rather than being `async fn`: spelled out, the future's `Send` is
    /// proven here, once, instead of in every transaction body, where the compiler cannot prove it through
    /// the query's lifetimes.)
    #[allow(clippy::manual_async_fn, reason = "the explicit `Send` is the point: see `Conn::load`")]
    pub(crate) fn load<'a, 'q, U, Q>(&'a mut self, query: Q) -> impl Future<Output = Result<Vec<U>>> + Send + 'a
    where
        U: Send + 'a,
        Q: LoadQuery<'q, AsyncMysqlConnection, U> + LoadQuery<'q, SqliteConn, U> + Send + 'q,
        'q: 'a,
    {
        async move {
            let outcome = tokio::time::timeout(self.timeout, async {
                match &mut self.inner {
                    Backed::Mysql(c) => RunQueryDsl::load(query, &mut **c).await,
                    Backed::Sqlite(c) => RunQueryDsl::load(query, &mut **c).await,
                }
            })
            .await;
            self.answered(outcome)
        }
    }

    /// Runs a query and returns its first row, if any.
    #[allow(clippy::manual_async_fn, reason = "the explicit `Send` is the point: see `Conn::load`")]
    pub(crate) fn first<'a, 'q, U, Q>(&'a mut self, query: Q) -> impl Future<Output = Result<Option<U>>> + Send + 'a
    where
        U: Send + 'a,
        Q: LoadQuery<'q, AsyncMysqlConnection, U> + LoadQuery<'q, SqliteConn, U> + Send + 'q,
        'q: 'a,
    {
        async move { Ok(self.load(query).await?.into_iter().next()) }
    }

    /// Runs a statement and returns the number of rows it changed.
    #[allow(clippy::manual_async_fn, reason = "the explicit `Send` is the point: see `Conn::load`")]
    pub(crate) fn execute<'a, 'q, Q>(&'a mut self, query: Q) -> impl Future<Output = Result<usize>> + Send + 'a
    where
        Q: ExecuteDsl<AsyncMysqlConnection> + ExecuteDsl<SqliteConn> + Send + 'q,
        'q: 'a,
    {
        async move {
            let outcome = tokio::time::timeout(self.timeout, async {
                match &mut self.inner {
                    Backed::Mysql(c) => RunQueryDsl::execute(query, &mut **c).await,
                    Backed::Sqlite(c) => RunQueryDsl::execute(query, &mut **c).await,
                }
            })
            .await;
            self.answered(outcome)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(redact("mysql://parley:s3cret@db.example:3306/parley"), "mysql://parley:***@db.example:3306/parley");
        assert_eq!(redact("mysql://root@localhost/x"), "mysql://root@localhost/x");
        assert_eq!(redact("sqlite:///var/lib/parley.db"), "sqlite:///var/lib/parley.db");
    }

    #[test]
    fn debug_hides_the_password() {
        let config = DbConfig::new("mysql://parley:s3cret@db.example:3306/parley?require_ssl=true");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("mysql://parley:***@db.example:3306/parley?require_ssl=true"), "{printed}");
    }

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_url_that_requires_tls_keeps_to_tcp() -> TestResult {
        let opts = mysql_opts("mysql://u@127.0.0.1:3306/db?require_ssl=true", None)?;
        let ssl = opts.ssl_opts().ok_or("no TLS")?;
        assert!(!ssl.accept_invalid_certs() && !ssl.skip_domain_validation());
        assert!(!opts.prefer_socket());
        let plain = mysql_opts("mysql://u@127.0.0.1:3306/db", None)?;
        assert!(plain.ssl_opts().is_none());
        assert!(plain.prefer_socket(), "without TLS, mysql_async's default stays");
        Ok(())
    }

    #[test]
    fn a_ca_file_turns_tls_on_and_is_the_only_trust() -> TestResult {
        let dir = tempfile::tempdir()?;
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")?;
        let opts = mysql_opts("mysql://u@db.example/db", Some(&ca))?;
        let ssl = opts.ssl_opts().ok_or("no TLS")?;
        assert_eq!(ssl.root_certs().len(), 1);
        assert!(ssl.disable_built_in_roots());
        assert!(!ssl.accept_invalid_certs() && !ssl.skip_domain_validation());
        assert!(!opts.prefer_socket());
        // The URL's own choices stand.
        let opts = mysql_opts("mysql://u@db.example/db?require_ssl=true&verify_identity=false", Some(&ca))?;
        assert!(opts.ssl_opts().ok_or("no TLS")?.skip_domain_validation());
        Ok(())
    }

    #[test]
    fn an_unusable_ca_file_or_parameter_is_a_settings_error() -> TestResult {
        let dir = tempfile::tempdir()?;
        let missing = dir.path().join("missing.pem");
        assert!(
            matches!(mysql_opts("mysql://u@h/db", Some(&missing)), Err(Error::Config(m)) if m.contains("missing.pem"))
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate")?;
        assert!(
            matches!(mysql_opts("mysql://u@h/db", Some(&junk)), Err(Error::Config(m)) if m.contains("no PEM certificate"))
        );
        assert!(matches!(mysql_opts("mysql://u:pw@h/db?nonsense=1", None), Err(Error::Config(m)) if !m.contains("pw")));
        Ok(())
    }

    #[tokio::test]
    async fn a_ca_file_with_sqlite_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut config = DbConfig::new(format!("sqlite://{}", dir.path().join("p.db").display()));
        config.tls_ca = Some(dir.path().join("ca.pem"));
        assert!(matches!(Db::open(&config).await, Err(Error::Config(_))));
        Ok(())
    }

    #[test]
    fn understands_both_schemes() {
        assert!(matches!(parse_url("sqlite://data/parley.db"), Ok(Target::Sqlite(p)) if p == "data/parley.db"));
        assert!(matches!(parse_url("sqlite:///abs/p.db"), Ok(Target::Sqlite(p)) if p == "/abs/p.db"));
        assert!(matches!(parse_url("mariadb://u:p@h/db"), Ok(Target::Mysql(u)) if u == "mysql://u:p@h/db"));
        assert!(matches!(parse_url("postgres://u:p@h/db"), Err(Error::BadUrl(u)) if u == "postgres://u:***@h/db"));
        assert!(matches!(parse_url("sqlite://"), Err(Error::BadUrl(_))));
    }
}
