//! Time as the database stores it: milliseconds since the Unix epoch, UTC. An integer is portable across
//! SQLite and MySQL (whose date types follow the session time zone) and sorts correctly everywhere.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Millis(pub i64);

impl Millis {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// This time plus `d`, saturating.
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// Whole seconds and the remaining nanoseconds, as protobuf's Timestamp wants them.
    pub fn to_seconds_nanos(self) -> (i64, i32) {
        let secs = self.0.div_euclid(1000);
        // The remainder is in 0..1000, so the product fits an i32.
        let nanos = i32::try_from(self.0.rem_euclid(1000) * 1_000_000).unwrap_or(0);
        (secs, nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_seconds_and_nanos_also_before_the_epoch() {
        assert_eq!(Millis(1_500).to_seconds_nanos(), (1, 500_000_000));
        assert_eq!(Millis(-1).to_seconds_nanos(), (-1, 999_000_000));
    }
}
