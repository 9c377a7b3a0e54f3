//! `parley-bench`: drives a real parleyd over real gRPC through its scenarios and measures a reference for
//! each in the same run, because these machines are shared and noisy: only ratios travel.
//!
//! ```text
//! cargo build --release -p parleyd -p parley-bench
//! target/release/parley-bench                     # all of them, at the sizes the targets are stated for
//! target/release/parley-bench --quick             # seconds-long smoke run (CI)
//! target/release/parley-bench --only latency,fanout --json results.json
//! ```
//!
//! MySQL scenarios use a fresh database on `--mysql` (default `mysql://root@127.0.0.1:3306`).

// A command-line tool: its report is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod callgrind;
mod load;
mod peer;
mod progress;
mod reference;
mod report;
mod scenarios;
mod socketio;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use callgrind::Callgrind;
use clap::{Parser, Subcommand, ValueEnum};
use scenarios::{Env, Sizes};

/// Parley's benchmark: its scenarios, each with a same-run reference.
#[derive(Parser)]
#[command(name = "parley-bench", version, about, long_about = None)]
struct Cli {
    /// Scenarios to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,

    /// A seconds-long smoke configuration that exercises every path (what CI runs).
    #[arg(long)]
    quick: bool,

    /// MySQL/MariaDB server for the MySQL scenarios; each gets a fresh database that is dropped after.
    #[arg(long, env = "PARLEY_BENCH_MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306")]
    mysql: String,

    /// The parleyd binary to start. [default: the one next to this binary]
    #[arg(long)]
    parleyd: Option<PathBuf>,

    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,

    /// Length of each timed phase. [default: 10s, --quick 2s]
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,

    /// Messages in the history scenario's room. [default: 10000000, --quick 5000]
    #[arg(long)]
    history_messages: Option<u64>,

    /// Idle streams in the memory scenario. [default: 10000, --quick 300]
    #[arg(long)]
    idle_streams: Option<usize>,

    /// Connections, each with one Subscribe stream, in the connections scenario. [default: 10000, --quick 30]
    #[arg(long)]
    connections: Option<usize>,

    /// Messages in the search scenario's room. [default: 10000000, --quick 5000]
    #[arg(long)]
    search_messages: Option<u64>,

    /// Subscribers in the fan-out scenario. [default: 1000, --quick 50]
    #[arg(long)]
    fanout_subscribers: Option<usize>,

    /// Messages per second sent in the fan-out scenario; raise it to find where delivery stops keeping up.
    /// [default: 250, --quick 50]
    #[arg(long)]
    fanout_rate: Option<f64>,

    /// Connections (one subscriber each) in the spread fan-out scenario. [default: 1000, --quick 30]
    #[arg(long)]
    spread_subscribers: Option<usize>,

    /// Messages per second sent in the spread fan-out scenario. [default: 50, --quick 20]
    #[arg(long)]
    spread_rate: Option<f64>,

    /// Run parleyd and the reference server under valgrind's callgrind, counting instructions only while a
    /// broadcast is measured, and report instructions per delivery; the counts are written to this
    /// directory for callgrind_annotate. Servers run many times slower: use a small load.
    #[arg(long, value_name = "DIR")]
    callgrind: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference broadcast server (started by the benchmark itself).
    #[command(hide = true)]
    ReferenceServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Accepted for the same command line as parleyd; the reference always logs JSON.
        #[arg(long, hide = true)]
        log_format: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Latency,
    Fanout,
    Spread,
    Throughput,
    Memory,
    Connections,
    History,
    Logins,
    Cluster,
    Unread,
    Search,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("parley-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::ReferenceServer { listen, .. }) = cli.command {
        return reference::serve(listen).await;
    }
    raise_open_files_limit();
    let this = std::env::current_exe()?;
    let parleyd = cli.parleyd.unwrap_or_else(|| this.with_file_name("parleyd"));
    anyhow::ensure!(parleyd.is_file(), "no parleyd at {} (build it, or pass --parleyd)", parleyd.display());
    let mut sizes = if cli.quick { Sizes::quick() } else { Sizes::full() };
    if let Some(d) = cli.duration {
        sizes.duration = d;
    }
    if let Some(n) = cli.history_messages {
        sizes.history_messages = n;
    }
    if let Some(n) = cli.search_messages {
        sizes.search_messages = n;
    }
    if let Some(n) = cli.idle_streams {
        sizes.idle_streams = n;
    }
    if let Some(n) = cli.connections {
        sizes.connections = n;
    }
    if let Some(n) = cli.fanout_subscribers {
        sizes.fanout_subscribers = n;
    }
    if let Some(r) = cli.fanout_rate {
        sizes.fanout_rate = r;
    }
    if let Some(n) = cli.spread_subscribers {
        sizes.spread_subscribers = n;
    }
    if let Some(r) = cli.spread_rate {
        sizes.spread_rate = r;
    }
    let callgrind = match cli.callgrind {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            Some(Callgrind { dir: std::path::absolute(dir)? })
        }
        None => None,
    };
    let env = Env { parleyd, this, mysql: cli.mysql, sizes, callgrind };
    let all = [
        Scenario::Latency,
        Scenario::Fanout,
        Scenario::Spread,
        Scenario::Throughput,
        Scenario::Memory,
        Scenario::Connections,
        Scenario::History,
        Scenario::Logins,
        Scenario::Cluster,
        Scenario::Unread,
        Scenario::Search,
    ];
    let chosen: Vec<Scenario> = if cli.only.is_empty() { all.to_vec() } else { cli.only };
    let mut rows = Vec::new();
    for scenario in chosen {
        eprintln!("running {scenario:?}…");
        let started = std::time::Instant::now();
        let result = match scenario {
            Scenario::Latency => scenarios::latency(&env).await,
            Scenario::Fanout => scenarios::fanout(&env).await,
            Scenario::Spread => scenarios::spread(&env).await,
            Scenario::Throughput => scenarios::throughput(&env).await,
            Scenario::Memory => scenarios::memory(&env).await,
            Scenario::Connections => scenarios::connections(&env).await,
            Scenario::History => scenarios::history(&env).await,
            Scenario::Logins => scenarios::logins(&env).await,
            Scenario::Cluster => scenarios::cluster(&env).await,
            Scenario::Unread => scenarios::unread(&env).await,
            Scenario::Search => scenarios::search(&env).await,
        };
        rows.extend(result.map_err(|e| e.context(format!("scenario {scenario:?}")))?);
        eprintln!("{scenario:?} done in {:.1} s", started.elapsed().as_secs_f64());
    }
    println!("{}", report::table(&rows));
    if let Some(path) = cli.json {
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Raises this process's open-files limit to its hard limit, for the connections scenario (10,000 sockets
/// here, and as many in each server, which inherits the limit). Where that is not enough, says so: the
/// scenario will then fail to connect.
fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum
        && let Err(e) = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum })
    {
        eprintln!("could not raise the open-files limit from {:?}: {e}", limit.current);
    }
    let now = getrlimit(Resource::Nofile).current;
    if now.is_some_and(|n| n < 12_000) {
        eprintln!("the open-files limit is {now:?}: the connections scenario at full size needs about 12,000");
    }
}
