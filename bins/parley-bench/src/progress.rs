//! Progress of the long phases (bulk loads, registrations, opening streams): a line on stderr every few
//! seconds with how far the phase got, its rate and the time it has left, so that a phase of minutes (10M
//! messages take over four) is never silent, and a line when it is done. Nothing is printed for a phase
//! shorter than the interval but that last line.

use std::time::{Duration, Instant};

/// How often a running phase reports.
const EVERY: Duration = Duration::from_secs(5);

/// One phase's progress towards a known total.
#[derive(Debug)]
pub struct Progress {
    what: String,
    total: u64,
    started: Instant,
    reported: Instant,
}

impl Progress {
    /// Starts timing `what` (e.g. "history: loading messages"), which will do `total` things.
    pub fn new(what: impl Into<String>, total: u64) -> Self {
        let now = Instant::now();
        Self { what: what.into(), total, started: now, reported: now }
    }

    /// Records that `done` of the total are done, and prints a line if the last was long enough ago.
    pub fn update(&mut self, done: u64) {
        let now = Instant::now();
        if done < self.total && now.duration_since(self.reported) >= EVERY {
            self.reported = now;
            eprintln!("{}", self.line(done, now.duration_since(self.started)));
        }
    }

    /// Prints how long the whole phase took.
    pub fn finish(self) {
        eprintln!("{}", self.summary(self.started.elapsed()));
    }

    fn line(&self, done: u64, elapsed: Duration) -> String {
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
        let left = self.total.saturating_sub(done) as f64 / rate.max(1e-3);
        let percent = done as f64 * 100.0 / self.total.max(1) as f64;
        format!("{}: {done}/{} ({percent:.0}%), {rate:.0}/s, about {left:.0} s left", self.what, self.total)
    }

    fn summary(&self, elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64();
        let rate = self.total as f64 / seconds.max(1e-3);
        format!("{}: {} in {seconds:.1} s ({rate:.0}/s)", self.what, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_how_far_how_fast_and_how_long_is_left() {
        let p = Progress::new("history: loading messages", 10_000_000);
        assert_eq!(
            p.line(2_500_000, Duration::from_secs(10)),
            "history: loading messages: 2500000/10000000 (25%), 250000/s, about 30 s left"
        );
        assert_eq!(p.summary(Duration::from_secs(40)), "history: loading messages: 10000000 in 40.0 s (250000/s)");
    }

    #[test]
    fn nothing_done_yet_is_not_a_division_by_zero() {
        let p = Progress::new("streams", 0);
        assert_eq!(p.line(0, Duration::ZERO), "streams: 0/0 (0%), 0/s, about 0 s left");
    }
}
