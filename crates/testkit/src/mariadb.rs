//! A MariaDB server of a test's own, for tests that need one configured their own way (TLS required, a
//! server to stop): a fresh data directory made by `mariadb-install-db` in a temporary directory, and
//! `mariadbd` on a free loopback port with the options the test adds. Killed, and its files removed, when
//! dropped. It takes a few seconds to start.
//!
//! Root logs in without a password, over TCP or over the server's Unix socket; [`MariaDb::sql`] uses the
//! socket, which MariaDB counts as secure transport, so it works whatever the test requires of TCP clients.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A running private MariaDB.
#[derive(Debug)]
pub struct MariaDb {
    child: Child,
    dir: tempfile::TempDir,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// The options the test added, for restarts.
    args: Vec<String>,
}

/// `name` on PATH or in the directories Debian installs MariaDB's programs in.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn client() -> Option<PathBuf> {
    program("mariadb").or_else(|| program("mysql"))
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl MariaDb {
    /// Whether MariaDB's programs are here (`mariadbd`, `mariadb-install-db` and the `mariadb` client).
    /// Outside CI a missing one is a skip: this prints a notice and returns `false`.
    ///
    /// # Panics
    /// When one is missing and `CI` is set: CI must not pass by skipping.
    pub fn available() -> bool {
        let missing: Vec<&str> =
            [("mariadbd", program("mariadbd")), ("mariadb-install-db", program("mariadb-install-db"))]
                .into_iter()
                .chain([("mariadb", client())])
                .filter(|(_, found)| found.is_none())
                .map(|(name, _)| name)
                .collect();
        if missing.is_empty() {
            return true;
        }
        let message = format!("missing {} (apt-get install mariadb-server mariadb-client)", missing.join(", "));
        assert!(std::env::var_os("CI").is_none(), "tests with a private MariaDB need, in CI: {message}");
        crate::notice(&format!("tests with a private MariaDB skipped: {message}"));
        false
    }

    /// Makes a data directory and starts `mariadbd` on a free port with `args` added to its command line
    /// (e.g. `--require-secure-transport=ON`), and waits until it answers.
    ///
    /// # Errors
    /// When a program is missing, the data directory cannot be made, or the server does not answer within
    /// 60 seconds (the error has its log).
    pub async fn start(args: &[String]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let user = running_as_root().then_some("--user=root");
        let install = program("mariadb-install-db").context("mariadb-install-db not found")?;
        let mut command = Command::new(install);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(user)
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db");
        let output = tokio::task::spawn_blocking(move || command.output()).await??;
        anyhow::ensure!(
            output.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        // A free port, bound and released: good enough on a test machine.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Self::spawn(dir.path(), port, args)?;
        let mut db = Self { child, dir, port, args: args.to_vec() };
        db.wait_until_up().await?;
        Ok(db)
    }

    /// Starts `mariadbd` on the data directory in `dir`.
    fn spawn(dir: &Path, port: u16, args: &[String]) -> anyhow::Result<Child> {
        let data = dir.join("data");
        let user = running_as_root().then_some("--user=root");
        let server = program("mariadbd").context("mariadbd not found")?;
        Command::new(server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .args(user)
            .arg("--innodb-buffer-pool-size=64M")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mariadbd")
    }

    async fn wait_until_up(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if self.dir.path().join("sock").exists() && self.sql("SELECT 1").await.is_ok() {
                return Ok(());
            }
            let exited = self.child.try_wait()?;
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                anyhow::bail!("mariadbd did not start ({exited:?}):\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The URL of the server (root, no password), without a database: `mysql://root@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Kills the server as a crash would (SIGKILL): nothing is flushed that was not durable already.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn crash(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Starts the server again on the same data directory and port (after [`MariaDb::crash`]), and waits
    /// until it answers; crash recovery happens here.
    ///
    /// # Errors
    /// As [`MariaDb::start`].
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.dir.path().join("sock"));
        self.child = Self::spawn(self.dir.path(), self.port, &self.args)?;
        self.wait_until_up().await
    }

    /// Freezes the server (SIGSTOP), as a hung host or a network partition would: connections stay open
    /// and nothing answers.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    /// Lets a paused server go on (SIGCONT).
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill {signal} failed");
        Ok(())
    }

    /// Runs `sql` as root over the server's Unix socket with the `mariadb` client, and returns what it
    /// printed (tab-separated rows, without column names).
    ///
    /// # Errors
    /// When the client is missing or the statement fails (the error has the client's message).
    pub async fn sql(&self, sql: &str) -> anyhow::Result<String> {
        let mut command = Command::new(client().context("the mariadb client is not installed")?);
        command
            .arg("--no-defaults")
            .arg("--protocol=socket")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-uroot", "--batch", "--skip-column-names", "-e", sql]);
        let output = tokio::task::spawn_blocking(move || command.output()).await??;
        anyhow::ensure!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr).trim());
        Ok(String::from_utf8(output.stdout)?)
    }

    /// The server's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The server's error log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("error.log")).unwrap_or_default()
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
