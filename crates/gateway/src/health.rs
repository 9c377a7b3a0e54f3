//! Readiness that tells the truth: `grpc.health.v1` answers SERVING only while this node can reach its
//! database, so that a load balancer stops sending work to a node that cannot do it.
//!
//! A supervised task asks the database a trivial question every `interval`, with the same timeout as any
//! query. Two failures in a row turn every service (and the server as a whole, `""`) NOT_SERVING; two
//! successes in a row turn them SERVING again, so one slow answer does not make the status flap. From
//! shutdown on, the status stays NOT_SERVING.

use std::time::Duration;

use storage::Db;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Consecutive answers of one kind that it takes to change the status.
const THRESHOLD: u32 = 2;

/// The names health is reported under: the server as a whole and each `chat.v1` service.
pub(crate) const SERVICES: [&str; 5] =
    ["", "chat.v1.AuthService", "chat.v1.RoomService", "chat.v1.MessageService", "chat.v1.PresenceService"];

/// Sets every name of [`SERVICES`] to `status`.
pub(crate) async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

/// What the last checks said, and when to change the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Readiness {
    serving: bool,
    /// Consecutive answers that disagree with `serving`.
    against: u32,
}

impl Readiness {
    /// Takes one check's answer; the new status, if it changes.
    fn observe(&mut self, reachable: bool) -> Option<bool> {
        if reachable == self.serving {
            self.against = 0;
            return None;
        }
        self.against += 1;
        if self.against < THRESHOLD {
            return None;
        }
        self.serving = reachable;
        self.against = 0;
        Some(reachable)
    }
}

/// Watches the database for as long as `stopping` is not cancelled.
pub(crate) async fn watch(db: Db, reporter: HealthReporter, interval: Duration, stopping: CancellationToken) {
    let mut readiness = Readiness { serving: true, against: 0 };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let answer = db.ping().await;
        let Some(serving) = readiness.observe(answer.is_ok()) else { continue };
        if stopping.is_cancelled() {
            return;
        }
        if serving {
            tracing::info!("the database answers again: serving");
            set_all(&reporter, ServingStatus::Serving).await;
        } else {
            tracing::warn!(error = ?answer.err(), "the database does not answer: not serving until it does");
            set_all(&reporter, ServingStatus::NotServing).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_changes_after_two_answers_in_a_row_and_not_before() {
        let mut r = Readiness { serving: true, against: 0 };
        assert_eq!(r.observe(false), None, "one failure is not enough");
        assert_eq!(r.observe(true), None);
        assert_eq!(r.observe(false), None);
        assert_eq!(r.observe(false), Some(false));
        assert_eq!(r.observe(false), None, "already not serving");
        assert_eq!(r.observe(true), None);
        assert_eq!(r.observe(true), Some(true));
    }
}
