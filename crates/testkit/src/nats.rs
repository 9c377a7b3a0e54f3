//! A NATS server of a test's own (Debian's `nats-server`), on a free loopback port, for cluster tests that
//! must be able to kill it and bring it back. Killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A running private NATS server.
#[derive(Debug)]
pub struct Nats {
    child: Option<Child>,
    program: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

fn program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

impl Nats {
    /// Whether `nats-server` is here. Outside CI a missing one is a skip: this prints a notice and returns
    /// `false`.
    ///
    /// # Panics
    /// When it is missing and `CI` is set: CI must not pass by skipping.
    pub fn available() -> bool {
        if program().is_some() {
            return true;
        }
        let message = "nats-server not found (apt-get install nats-server)";
        assert!(std::env::var_os("CI").is_none(), "cluster tests need, in CI: {message}");
        crate::notice(&format!("cluster tests skipped: {message}"));
        false
    }

    /// Starts `nats-server` on a free port and waits until it accepts connections.
    ///
    /// # Errors
    /// When it is missing or does not listen within 10 seconds.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut nats = Self { child: None, program: program().context("nats-server not found")?, port };
        nats.restart().await?;
        Ok(nats)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port, and waits until it accepts connections.
    ///
    /// # Errors
    /// When it does not listen within 10 seconds.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let child = Command::new(&self.program)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start nats-server")?;
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("nats-server did not listen on port {} within 10 s", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}
