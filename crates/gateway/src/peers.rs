//! Wiring a node into a cluster: the domain crates' `Peers` hooks over the cluster transport, what other
//! nodes say routed to the domain crates, and the link's state in readiness and the logs.
//!
//! **Health when NATS is down:** the node keeps answering SERVING for the server (`""`) and the `chat.v1`
//! services, because it still serves every call correctly (storage is the truth; other nodes' messages
//! reach its subscribers through the tail check, a few seconds late), and because NATS going down takes
//! every node's link at once: a load balancer that pulled nodes for it would take the whole service down
//! for a loss of latency. The link has a health name of its own, [`LINK_SERVICE`], which is SERVING only
//! while connected, for monitoring; and every change of the link is logged.

use std::net::IpAddr;
use std::sync::Arc;

use cluster::{Change, Cluster, Count, Inbound, Link};
use tokio::sync::mpsc;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use types::{PresenceStatus, UserId};

use crate::App;

/// The health name of the link to the other nodes.
pub(crate) const LINK_SERVICE: &str = "parley.Cluster";

/// The domain crates' view of the other nodes, over the cluster transport.
#[derive(Debug)]
pub(crate) struct Peers(pub(crate) Cluster);

impl presence::Peers for Peers {
    fn changed(&self, user: UserId, status: PresenceStatus) {
        let status = (status != PresenceStatus::Offline).then_some(status);
        self.0.set(Change::Presence { user, status });
    }
}

impl limits::Peers for Peers {
    fn counted(&self, kind: limits::Kind, subject: limits::Subject) {
        self.0.count(Count::Rate { kind, subject });
    }

    fn streams(&self, user: UserId, open: usize) {
        self.0.set(Change::Streams { user, open: u32::try_from(open).unwrap_or(u32::MAX) });
    }
}

impl auth::Peers for Peers {
    fn login_failed(&self, account: &str, address: Option<IpAddr>) {
        self.0.count(Count::LoginFailed { account: account.to_owned(), address });
    }

    fn login_succeeded(&self, account: &str, address: Option<IpAddr>) {
        self.0.count(Count::LoginSucceeded { account: account.to_owned(), address });
    }
}

/// Connects the domain services of `app` to the cluster.
pub(crate) fn share(app: &App, cluster: &Cluster) {
    let peers = Arc::new(Peers(cluster.clone()));
    app.presence.share_with(peers.clone());
    app.rates.share_with(peers.clone());
    app.messaging.streams().share_with(peers.clone());
    app.auth.share_with(peers);
}

/// Hands what other nodes say to the domain services of `app`, for as long as the node runs.
pub(crate) fn route(app: &App, inbound: mpsc::Receiver<Inbound>) {
    let inbound = Arc::new(tokio::sync::Mutex::new(inbound));
    let app = app.clone();
    app.supervisor.clone().spawn("cluster inbound", move || {
        let (app, inbound) = (app.clone(), inbound.clone());
        async move {
            let mut inbound = inbound.lock().await;
            while let Some(message) = inbound.recv().await {
                apply(&app, message);
            }
        }
    });
}

fn apply(app: &App, message: Inbound) {
    match message {
        Inbound::State { node, change: Change::Presence { user, status } } => app.presence.remote(node, user, status),
        Inbound::State { node, change: Change::Streams { user, open } } => {
            app.messaging.streams().remote(node, user, usize::try_from(open).unwrap_or(usize::MAX));
        }
        Inbound::Count(Count::Rate { kind, subject }) => app.rates.charge(kind, subject),
        Inbound::Count(Count::LoginFailed { account, address }) => app.auth.login_failed_elsewhere(&account, address),
        Inbound::Count(Count::LoginSucceeded { account, address }) => {
            app.auth.login_succeeded_elsewhere(&account, address);
        }
        Inbound::SessionsRevoked { user, session } => app.auth.sessions_ended_elsewhere(user, session),
    }
}

/// Reports the link's state under [`LINK_SERVICE`] for as long as the node runs.
pub(crate) async fn watch(cluster: Cluster, reporter: HealthReporter) {
    let mut link = cluster.link();
    loop {
        let state = *link.borrow_and_update();
        let status = if state == Link::Connected { ServingStatus::Serving } else { ServingStatus::NotServing };
        reporter.set_service_status(LINK_SERVICE, status).await;
        if link.changed().await.is_err() {
            return;
        }
    }
}
