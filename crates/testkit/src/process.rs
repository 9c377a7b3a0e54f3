//! A server binary as a separate process (parleyd, or the benchmark's reference server).

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tonic::transport::{Channel, ClientTlsConfig};

/// A server process listening on a free loopback port. Killed when dropped.
#[derive(Debug)]
pub struct Daemon {
    child: std::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://ADDR`, or `https://ADDR` when it was started with `--tls-cert`.
    pub url: String,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `binary` with `args` (plus a free port and JSON logs, and `--rate-limits off` unless `args`
    /// say otherwise: tests go faster than people) and `envs`, and waits until it logs a JSON line whose
    /// message ends in "listening" with an `address` field.
    ///
    /// # Errors
    /// When the process cannot start or does not listen within 30 seconds (the error has its output).
    pub async fn spawn(binary: &Path, args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut command = std::process::Command::new(binary);
        // Only what the test says: nothing inherited from the environment running the tests.
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
            command.env_remove(key);
        }
        if !args.contains(&"--rate-limits") && binary.file_name().is_some_and(|n| n == "parleyd") {
            command.args(["--rate-limits", "off"]);
        }
        let mut child = command
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("PARLEY_LOG", "warn,parleyd=info")
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().context("no stderr")?;
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (found, listening) = tokio::sync::oneshot::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let addr = line
                    .contains("listening")
                    .then(|| serde_json::from_str::<serde_json::Value>(&line).ok())
                    .flatten()
                    .filter(|v| v["message"].as_str().is_some_and(|m| m.ends_with("listening")))
                    .and_then(|v| v["address"].as_str().and_then(|a| a.parse::<SocketAddr>().ok()));
                // Kept before the address is announced, so that a test reading the log once the daemon is
                // up finds the listening line in it.
                kept.lock().map(|mut l| l.push(line)).ok();
                if let (Some(found), Some(addr)) = (found.take_if(|_| addr.is_some()), addr) {
                    let _ = found.send(addr);
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(30), listening).await {
            Ok(Ok(addr)) => {
                let tls = args.contains(&"--tls-cert") || envs.iter().any(|(key, _)| *key == "PARLEY_TLS_CERT");
                let url = format!("{}://{addr}", if tls { "https" } else { "http" });
                Ok(Self { child, addr, url, stderr: lines })
            }
            _ => {
                let _ = child.kill();
                let output = lines.lock().map(|l| l.join("\n")).unwrap_or_default();
                anyhow::bail!("{} did not start listening:\n{output}", binary.display())
            }
        }
    }

    /// A new connection to it (in clear: for a daemon serving TLS, see [`Daemon::tls_channel`]).
    ///
    /// # Errors
    /// When it cannot connect.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(self.url.clone())?.connect().await?)
    }

    /// A new TLS connection to it, trusting and showing what `tls` says (see [`crate::TestCerts`]).
    ///
    /// # Errors
    /// When it cannot connect, or the TLS handshake fails.
    pub async fn tls_channel(&self, tls: ClientTlsConfig) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(format!("https://{}", self.addr))?.tls_config(tls)?.connect().await?)
    }

    /// Sends SIGTERM and waits for the process to exit.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn terminate(self) -> anyhow::Result<std::process::ExitStatus> {
        Ok(self.terminate_with_log()?.0)
    }

    /// As [`Daemon::terminate`], and what the process wrote on stderr, to its last line.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn terminate_with_log(mut self) -> anyhow::Result<(std::process::ExitStatus, String)> {
        std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        let status = self.child.wait()?;
        Ok((status, self.log()))
    }

    /// Kills the process as a crash would (SIGKILL), and waits for it.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Whether the process has exited, and how.
    ///
    /// # Errors
    /// When its status cannot be read.
    pub fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// The resident memory of the process, in KiB.
    ///
    /// # Errors
    /// When /proc cannot be read.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS:")
    }

    /// The largest resident memory the process has had so far, in KiB.
    ///
    /// # Errors
    /// When /proc cannot be read.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmHWM:")
    }

    /// The process id, for tools that look at the process from outside (e.g. `callgrind_control`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field}"))?;
        Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
    }

    /// CPU time the process has used so far (user + system), in seconds, from `/proc/PID/stat`.
    ///
    /// # Errors
    /// When `/proc` cannot be read (not Linux, or the process is gone).
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name (which may hold spaces), from the third: utime and stime are the
        // 14th and 15th, in clock ticks of USER_HZ, which is 100 on Linux whatever the kernel's HZ.
        let after_name = stat.rsplit_once(')').context("no command name")?.1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11).context("no utime")?.parse::<u64>()? + fields.get(12).context("no stime")?.parse::<u64>()?;
        Ok(ticks as f64 / 100.0)
    }

    /// What the process wrote on stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
