//! `--callgrind DIR`: the servers run under valgrind's callgrind, which counts the instructions they execute
//! (repeatable on a noisy machine, where CPU seconds are not). Instrumentation is off while a scenario sets
//! up (registrations hash passwords) and on only during its measured broadcast, whose counts are dumped to
//! `DIR/<server>.<pid>.<n>` for `callgrind_annotate` and read back as instructions per delivery.
//!
//! Under valgrind a server runs one thread at a time and many times slower: latencies mean nothing, and the
//! load must be small enough for it to keep up (e.g. `--only spread --spread-subscribers 100 --spread-rate 20`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// Where the counts go.
#[derive(Debug, Clone)]
pub struct Callgrind {
    pub dir: PathBuf,
}

impl Callgrind {
    /// The command line that runs `binary args…` under callgrind, instrumentation off, as `name`.
    pub fn wrap(&self, name: &str, binary: &Path, args: &[&str]) -> (PathBuf, Vec<String>) {
        let mut wrapped = vec![
            "--tool=callgrind".to_owned(),
            "--instr-atstart=no".to_owned(),
            format!("--callgrind-out-file={}/{name}.%p", self.dir.display()),
            binary.display().to_string(),
        ];
        wrapped.extend(args.iter().map(|a| (*a).to_owned()));
        (PathBuf::from("valgrind"), wrapped)
    }

    /// Starts counting in process `pid`.
    ///
    /// # Errors
    /// When `callgrind_control` fails.
    pub fn start(&self, pid: u32) -> anyhow::Result<()> {
        control(pid, &["--zero", "--instr=on"])
    }

    /// Stops counting in process `pid`, dumps what was counted since [`Callgrind::start`], and returns the
    /// number of instructions.
    ///
    /// # Errors
    /// When `callgrind_control` fails or the dump cannot be read.
    pub fn stop(&self, pid: u32) -> anyhow::Result<u64> {
        control(pid, &["--dump", "--instr=off"])?;
        let newest = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(&format!(".{pid}.")))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .max()
            .map(|(_, path)| path)
            .with_context(|| format!("no callgrind dump of process {pid} in {}", self.dir.display()))?;
        let text = std::fs::read_to_string(&newest)?;
        let totals = text
            .lines()
            .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
            .with_context(|| format!("no totals in {}", newest.display()))?;
        Ok(totals.split_whitespace().next().context("empty totals")?.parse()?)
    }
}

fn control(pid: u32, args: &[&str]) -> anyhow::Result<()> {
    for arg in args {
        let output = Command::new("callgrind_control").arg(arg).arg(pid.to_string()).output()?;
        anyhow::ensure!(
            output.status.success(),
            "callgrind_control {arg} {pid}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
