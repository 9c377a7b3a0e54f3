//! `parleyd`, the Parley server. Reads its configuration (flags and `PARLEY_*` variables), prepares the data
//! directory, the database and the JWT secret, and serves until SIGINT or SIGTERM. `parleyd admin …` runs
//! one of the operators' commands on the same configuration instead (see `admin.rs`).
//!
//! Every failure to start is reported as one line on stderr and a non-zero exit status: a person reading it
//! should know what to fix.

mod admin;
mod config;

/// jemalloc, not glibc's malloc: argon2 allocates 19 MiB per hash, and glibc keeps freed blocks of that size
/// in its heaps (its mmap threshold rises after the first free), so 100 registrations and 100 logins left a
/// server 380 MiB larger; with jemalloc the same burst costs about 2 MiB and a server holding 1,000
/// connections sits at about 80 MB instead of 660 MB. Measured in docs/BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use clap::Parser as _;
use config::{Config, LogFormat, Switch};
use rand::RngCore as _;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(e) = init_logging(&config) {
        report(&e);
        return ExitCode::FAILURE;
    }
    // A panic anywhere (a supervised task restarts after one) is logged like everything else, so that it
    // reaches the log collector and, with --log-format json, stays one JSON object per line.
    std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "panicked")));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            report(&anyhow::Error::new(e).context("cannot start the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    let outcome = match config.command {
        Some(config::Command::Admin { ref action }) => runtime.block_on(admin::run(&config, action)),
        None => runtime.block_on(run(config)).inspect_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "parleyd stopped");
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// Prints the error and its causes on one line.
fn report(e: &anyhow::Error) {
    let _ = writeln!(std::io::stderr(), "parleyd: error: {e:#}");
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log).with_context(|| format!("invalid --log filter {:?}", config.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let data_dir = data_dir(&config);
    fs::create_dir_all(&data_dir).with_context(|| format!("cannot create data directory {}", data_dir.display()))?;

    let jwt_secret = match &config.jwt_secret {
        Some(secret) if secret.len() < 32 => bail!("--jwt-secret must be at least 32 bytes long"),
        Some(secret) => secret.as_bytes().to_vec(),
        None => stored_secret(&data_dir.join("jwt-secret"))?,
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?,
        ),
        None => None,
    };

    let database_url = database_url(&config, &data_dir);
    let db = open_database(&config, &database_url).await?;

    let mut app_config = gateway::Config::new(jwt_secret);
    app_config.auth.access_token_ttl = config.access_token_ttl;
    app_config.auth.refresh_token_ttl = config.refresh_token_ttl;
    app_config.auth.throttle = gateway::ThrottleConfig {
        per_account: config.login_max_failures,
        per_address: config.login_max_failures_per_address,
        per_account_any_address: config.login_max_failures_per_account,
        window: config.login_throttle_window,
    };
    app_config.trust_forwarded_for = config.trust_forwarded_for;
    app_config.presence_grace = config.presence_grace;
    app_config.messaging.heartbeat_interval = config.heartbeat_interval;
    app_config.messaging.writers = config.send_writers.map(usize::from);
    app_config.shutdown_grace = config.shutdown_grace;
    app_config.health_check_interval = config.health_check_interval;
    app_config.messaging.streams_per_user = config.max_streams_per_user;
    app_config.auth.hashing = gateway::HashingConfig {
        workers: config.password_hash_workers.unwrap_or(app_config.auth.hashing.workers),
        queue: config.password_hash_queue,
    };
    app_config.transport = gateway::TransportLimits {
        max_concurrent_streams: config.max_concurrent_streams,
        max_local_error_resets: config.max_local_error_resets,
        max_request_bytes: config.max_request_size,
        max_header_list_bytes: u32::try_from(config.max_header_list_size).unwrap_or(u32::MAX),
        max_connections: config.max_connections,
        request_timeout: config.request_timeout,
    };
    app_config.rates = rate_config(&config);
    app_config.messaging.reconcile_interval = config.tail_check_interval;
    app_config.cluster = cluster_config(&config);
    let cluster = app_config.cluster.is_some();
    app_config.tls = tls_config(&config)?;
    let tls = app_config.tls.is_some();
    app_config.web_dir = match &config.web_dir {
        Some(dir) if !dir.join("index.html").is_file() => {
            bail!(
                "--web-dir {} has no index.html; build the app first: npm --prefix web install && npm --prefix web run build",
                dir.display()
            )
        }
        Some(dir) => Some(dir.clone()),
        None => Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").is_file()),
    };
    if app_config.web_dir.is_none() {
        tracing::info!("no web app to serve (build it with: npm --prefix web install && npm --prefix web run build)");
    }
    let app = gateway::App::new(db, app_config)?;

    let shutdown = shutdown_signal()?;
    if let Some(metrics_listener) = metrics_listener {
        let address = metrics_listener.local_addr().context("cannot read the metrics address")?;
        gateway::serve_metrics(&app, metrics_listener);
        tracing::info!(%address, "serving metrics at /metrics");
    }
    let address = listener.local_addr().context("cannot read the listening address")?;
    tracing::info!(
        %address,
        tls,
        cluster,
        data_dir = %data_dir.display(),
        database = %gateway::redact(&database_url),
        "parleyd listening"
    );
    gateway::serve(app, listener, shutdown).await?;
    tracing::info!("parleyd stopped");
    Ok(())
}

/// The data directory the flags name, or the platform's.
fn data_dir(config: &Config) -> PathBuf {
    config.data_dir.clone().unwrap_or_else(default_data_dir)
}

/// The database the flags name: `--database-url`, or SQLite in the data directory.
fn database_url(config: &Config, data_dir: &Path) -> String {
    match &config.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", data_dir.join("parley.db").display()),
    }
}

/// Opens (and migrates) the database at `url` with the pool the flags ask for.
async fn open_database(config: &Config, url: &str) -> anyhow::Result<gateway::Db> {
    let db_config = gateway::DbConfig {
        url: url.to_owned(),
        max_connections: config.db_max_connections,
        acquire_timeout: config.db_acquire_timeout,
        tls_ca: config.database_ca.clone(),
        query_timeout: config.db_query_timeout,
    };
    gateway::Db::open(&db_config).await.with_context(|| format!("cannot open the database {}", gateway::redact(url)))
}

/// The cluster the flags name, if any.
fn cluster_config(config: &Config) -> Option<gateway::ClusterConfig> {
    config.nats_url.as_ref().map(|url| gateway::ClusterConfig {
        prefix: config.nats_prefix.clone(),
        heartbeat: config.nats_heartbeat,
        node_timeout: config.nats_node_timeout,
        ca: config.nats_ca.clone(),
        client_cert: config.nats_cert.clone().zip(config.nats_key.clone()),
        creds: config.nats_creds.clone(),
        ..gateway::ClusterConfig::new(url.clone())
    })
}

/// The request rate limits the flags ask for.
fn rate_config(config: &Config) -> gateway::RateConfig {
    use gateway::{Quota, RateKind};
    if config.rate_limits == Switch::Off {
        return gateway::RateConfig::off();
    }
    let quota = |rate: &Quota, burst: u32| Quota { burst, ..*rate };
    let quotas = [
        (RateKind::Send, quota(&config.send_rate, config.send_burst)),
        (RateKind::Typing, quota(&config.typing_rate, config.typing_burst)),
        (RateKind::CreateRoom, quota(&config.room_create_rate, config.room_create_burst)),
        (RateKind::Invite, quota(&config.invite_rate, config.invite_burst)),
        (RateKind::DirectRoom, quota(&config.direct_room_rate, config.direct_room_burst)),
        (RateKind::Register, quota(&config.register_rate, config.register_burst)),
        (RateKind::Login, quota(&config.login_rate, config.login_burst)),
        (RateKind::MarkRead, quota(&config.mark_read_rate, config.mark_read_burst)),
        (RateKind::Search, quota(&config.search_rate, config.search_burst)),
    ];
    gateway::RateConfig { quotas: Some(quotas.into_iter().collect()) }
}

/// The TLS certificate, key and client CA the flags name, read now so that a bad path fails at start.
fn tls_config(config: &Config) -> anyhow::Result<Option<gateway::TlsConfig>> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else { return Ok(None) };
    let read = |path: &PathBuf, what: &str| {
        fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    Ok(Some(gateway::TlsConfig {
        cert_pem: read(cert, "TLS certificate")?,
        key_pem: read(key, "TLS key")?,
        client_ca_pem: config.tls_client_ca.as_ref().map(|ca| read(ca, "client CA")).transpose()?,
    }))
}

fn default_data_dir() -> PathBuf {
    dirs::data_local_dir().map_or_else(|| PathBuf::from("parley-data"), |d| d.join("parley"))
}

/// The JWT secret kept in `path`, generated (256 random bits) on first start. The file is created with
/// mode 0600 and never logged.
fn stored_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim();
            if secret.len() < 32 {
                bail!("{} holds a secret shorter than 32 bytes; delete it to generate a new one", path.display());
            }
            let mode = fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "JWT secret file is readable by others; chmod 600 it");
            }
            Ok(secret.as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{secret}").with_context(|| format!("cannot write {}", path.display()))?;
            file.sync_all().with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a JWT secret");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from now on, and returns a future that completes on either.
/// The handlers are installed here, before parleyd says it is listening: a signal that arrives after that
/// line is always a graceful shutdown, never the default action.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("received SIGINT"),
            _ = term.recv() => tracing::info!("received SIGTERM"),
        }
    })
}
