//! The peer: a Socket.IO 4 room-broadcast server in Node (`peer/server.mjs`, memory only), what people would
//! pick instead of Parley, run beside it under the same load (docs/BENCHMARKS.md). Its npm packages are
//! installed on first use, from the lock file, into `peer/node_modules` (ignored by git).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use testkit::Daemon;

/// Where the peer's `package.json` and `server.mjs` are: in the source tree this binary was built from.
fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// Whether the peer can run here. Outside CI, a machine without Node or npm skips it with the reason
/// printed; in CI (`CI` set), where Node is installed for the web client, its absence is an error.
///
/// # Errors
/// In CI, when Node or npm is missing.
pub fn available() -> anyhow::Result<bool> {
    let missing = ["node", "npm"]
        .into_iter()
        .find(|tool| !Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()));
    match missing {
        None => Ok(true),
        Some(tool) if std::env::var_os("CI").is_some() => {
            anyhow::bail!("the Socket.IO peer needs {tool}, and CI has it: is Node.js installed?")
        }
        Some(tool) => {
            eprintln!("skipping the Socket.IO peer: `{tool}` is not installed (Node.js 18 or later runs it)");
            Ok(false)
        }
    }
}

/// Starts the peer on a free loopback port, first installing its packages if they are missing or older than
/// the lock file.
///
/// # Errors
/// When `npm ci` fails or the server does not start listening.
pub async fn spawn() -> anyhow::Result<Daemon> {
    let dir = dir();
    tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || install(&dir)
    })
    .await??;
    let script = dir.join("server.mjs");
    let script = script.to_str().context("the peer's path is not UTF-8")?;
    Daemon::spawn(Path::new("node"), &[script], &[]).await
}

fn install(dir: &Path) -> anyhow::Result<()> {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let lock = modified(dir.join("package-lock.json"));
    // npm writes this file at every install: older than the lock file means installed from an older lock.
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= lock {
        return Ok(());
    }
    eprintln!("installing the Socket.IO peer's packages (npm ci in {})…", dir.display());
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .context("running npm")?;
    anyhow::ensure!(
        output.status.success(),
        "npm ci for the peer failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
