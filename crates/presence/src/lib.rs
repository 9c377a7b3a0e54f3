//! Who is online. A user is online while at least one of their connections (Subscribe streams, on any
//! device) is open, and goes offline a grace period after the last one closes, so that a quick reconnect is
//! not seen at all. Connected users may say they are away.
//!
//! Every change is published as [`bus::Event::Presence`] on the topics of the user's rooms, so it reaches
//! exactly the subscribers who share a room with the user. Each change carries a version that grows per
//! user, so a subscriber who hears of one change through several rooms can deliver it once.
//!
//! In a cluster, a user is online if they are connected to any node. Each node tells the others how it
//! sees its own users ([`Peers`], carried by the cluster transport) and hears how they see theirs
//! ([`Presence::remote`]); a user's status is the best of all nodes' (online, then away, then offline), and
//! each node announces changes of that status to its own subscribers. A node that dies is forgotten by the
//! others after the transport's node timeout, and its users go offline with it unless they are connected
//! elsewhere.
//!
//! **Boundary:** this crate knows nothing of streams or gRPC; the gateway holds a [`Connection`] for as
//! long as a stream is open. Errors: [`Error`], mapped through [`types::DomainError`].

mod store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bus::{Bus, Event, Topic};
use rooms::Rooms;
use storage::Db;
use types::{DomainError, ErrorCode, Millis, NodeId, PresenceStatus, Reason, RoomId, UserId, UserPresence};

pub use store::{Known, LocalStore, PresenceStore};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SetPresence without an open stream.
    #[error("you have no open Subscribe stream, so you are offline; subscribe first")]
    NotConnected,
    /// SetPresence with a status other than online or away.
    #[error("invalid request: status: must be PRESENCE_STATUS_ONLINE or PRESENCE_STATUS_AWAY")]
    InvalidStatus,
    /// Room access failed.
    #[error(transparent)]
    Rooms(#[from] rooms::Error),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotConnected => ErrorCode::FailedPrecondition,
            Self::InvalidStatus => ErrorCode::InvalidArgument,
            Self::Rooms(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn reason(&self) -> Reason {
        match self {
            Self::NotConnected => Reason::NotConnected,
            Self::InvalidStatus => Reason::FieldInvalid,
            Self::Rooms(e) => e.reason(),
            Self::Storage(e) => e.reason(),
        }
    }

    fn field_violations(&self) -> &[types::FieldViolation] {
        match self {
            Self::Rooms(e) => e.field_violations(),
            _ => &[],
        }
    }
}

/// The other nodes of a cluster, as presence sees them: told how this node sees each of its users. (The
/// cluster transport implements it.)
pub trait Peers: Send + Sync + std::fmt::Debug + 'static {
    /// `user`'s status on this node changed; offline means no connection here (after the grace period).
    fn changed(&self, user: UserId, status: PresenceStatus);
}

/// This node's view of one user.
#[derive(Debug, Default)]
struct Local {
    connections: usize,
    away: bool,
    /// The status last published (`None`: never connected here).
    published: Option<PresenceStatus>,
    /// Bumped by every connect and disconnect, so that a pending offline timer can tell it is stale.
    epoch: u64,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    bus: Bus,
    rooms: Rooms,
    store: Arc<dyn PresenceStore>,
    grace: Duration,
    local: Mutex<HashMap<UserId, Local>>,
    /// How other nodes see their users (online or away; absent when not connected there).
    remote: Mutex<HashMap<UserId, HashMap<NodeId, PresenceStatus>>>,
    peers: OnceLock<Arc<dyn Peers>>,
    version: AtomicU64,
    metrics: metrics::Presence,
}

/// The presence service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

/// One open connection of a user; dropping it disconnects.
#[derive(Debug)]
pub struct Connection {
    presence: Presence,
    user: UserId,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.presence.disconnect(self.user);
    }
}

impl Presence {
    /// The service, keeping presence in `store`. `grace` is how long a user stays online after their last
    /// connection closes. How many users this node shows online goes to `metrics`.
    pub fn new(
        db: Db,
        bus: Bus,
        rooms: Rooms,
        store: Arc<dyn PresenceStore>,
        grace: Duration,
        metrics: metrics::Presence,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                bus,
                rooms,
                store,
                grace,
                local: Mutex::new(HashMap::new()),
                remote: Mutex::new(HashMap::new()),
                peers: OnceLock::new(),
                version: AtomicU64::new(0),
                metrics,
            }),
        }
    }

    /// Tells `peers` of every change of this node's view from now on (once; later calls are ignored).
    pub fn share_with(&self, peers: Arc<dyn Peers>) {
        let _ = self.inner.peers.set(peers);
    }

    /// The other node `node` sees `user` as `status` (`None`: not connected there, or the node is gone).
    /// Must be called within a Tokio runtime.
    pub fn remote(&self, node: NodeId, user: UserId, status: Option<PresenceStatus>) {
        {
            let mut remote = self.inner.remote.lock().unwrap_or_else(PoisonError::into_inner);
            let nodes = remote.entry(user).or_default();
            match status.filter(|s| *s != PresenceStatus::Offline) {
                Some(status) => {
                    nodes.insert(node, status);
                }
                None => {
                    nodes.remove(&node);
                    if nodes.is_empty() {
                        remote.remove(&user);
                    }
                }
            }
        }
        self.settle(user);
    }

    /// Records a new connection of `user`; the user is online until the returned guard, and every other of
    /// their connections, is dropped (plus the grace period).
    ///
    /// Must be called within a Tokio runtime.
    pub fn connect(&self, user: UserId) -> Connection {
        let publish = {
            let mut local = self.lock();
            let state = local.entry(user).or_default();
            state.connections += 1;
            state.epoch += 1;
            let status = if state.away { PresenceStatus::Away } else { PresenceStatus::Online };
            // A reconnect within the grace period finds the user still published as online: no event.
            if state.published.is_none_or(|p| p == PresenceStatus::Offline) {
                state.published = Some(status);
                self.inner.metrics.user_online();
                Some(status)
            } else {
                None
            }
        };
        if let Some(status) = publish {
            self.publish(user, status);
        }
        Connection { presence: self.clone(), user }
    }

    fn disconnect(&self, user: UserId) {
        let epoch = {
            let mut local = self.lock();
            let Some(state) = local.get_mut(&user) else { return };
            state.connections = state.connections.saturating_sub(1);
            state.epoch += 1;
            if state.connections > 0 {
                return;
            }
            state.epoch
        };
        let presence = self.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (the process is ending): nothing can be published anyway.
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(presence.inner.grace).await;
            let offline = {
                let mut local = presence.lock();
                match local.get_mut(&user) {
                    Some(state) if state.epoch == epoch && state.connections == 0 => {
                        state.published = Some(PresenceStatus::Offline);
                        state.away = false;
                        presence.inner.metrics.user_offline();
                        true
                    }
                    _ => false,
                }
            };
            if offline {
                presence.publish(user, PresenceStatus::Offline);
            }
        });
    }

    /// Switches a connected user between online and away.
    ///
    /// # Errors
    /// [`Error::InvalidStatus`] for offline; [`Error::NotConnected`] when the user has no connection.
    pub fn set_status(&self, user: UserId, status: PresenceStatus) -> Result<(), Error> {
        if status == PresenceStatus::Offline {
            return Err(Error::InvalidStatus);
        }
        let changed = {
            let mut local = self.lock();
            let state = local.get_mut(&user).filter(|s| s.connections > 0).ok_or(Error::NotConnected)?;
            state.away = status == PresenceStatus::Away;
            let changed = state.published != Some(status);
            state.published = Some(status);
            changed
        };
        if changed {
            self.publish(user, status);
        }
        Ok(())
    }

    /// Each user's status, in order (offline for users never seen).
    pub fn statuses(&self, users: &[UserId]) -> Vec<PresenceStatus> {
        self.inner.store.get(users).into_iter().map(|k| k.map_or(PresenceStatus::Offline, |k| k.status)).collect()
    }

    /// The users online or away in `room` (which `who` must be a member of), or, without a room, among
    /// everyone who shares a room with `who`; ordered by username.
    ///
    /// # Errors
    /// Room access errors ([`rooms::Error::RoomNotFound`], [`rooms::Error::NotMember`]).
    pub async fn online(&self, who: UserId, room: Option<RoomId>) -> Result<Vec<UserPresence>, Error> {
        let candidates = match room {
            Some(room) => {
                self.inner.rooms.access(who, room).await?;
                self.inner.db.read().await?.member_ids(room).await?
            }
            None => self.inner.db.read().await?.co_member_ids(who).await?,
        };
        let known = self.inner.store.get(&candidates);
        let online: Vec<(UserId, Known)> = candidates
            .into_iter()
            .zip(known)
            .filter_map(|(id, k)| k.filter(|k| k.status != PresenceStatus::Offline).map(|k| (id, k)))
            .collect();
        let ids: Vec<UserId> = online.iter().map(|(id, _)| *id).collect();
        let users = self.inner.db.read().await?.users(&ids).await?;
        let by_id: HashMap<UserId, Known> = online.into_iter().collect();
        let now = Millis::now();
        let mut list: Vec<UserPresence> = users
            .into_iter()
            .filter_map(|user| {
                let k = by_id.get(&user.id)?;
                Some(UserPresence { status: k.status, last_seen_at: Some(now), user })
            })
            .collect();
        list.sort_by(|a, b| a.user.username.cmp(&b.user.username));
        Ok(list)
    }

    /// This node's view of `user` changed: tells the other nodes, and settles the user's status.
    fn publish(&self, user: UserId, status: PresenceStatus) {
        if let Some(peers) = self.inner.peers.get() {
            peers.changed(user, status);
        }
        self.settle(user);
    }

    /// Works out `user`'s status across nodes and, if it changed, records it and tells the user's rooms
    /// (in the background).
    fn settle(&self, user: UserId) {
        let now = Millis::now();
        let (status, version) = {
            // Decided and recorded under the locks, so that concurrent changes of one user are recorded and
            // numbered in the order they are decided.
            let local = self.lock();
            let remote = self.inner.remote.lock().unwrap_or_else(PoisonError::into_inner);
            let here = local.get(&user).and_then(|l| l.published);
            let elsewhere = remote.get(&user).into_iter().flat_map(|nodes| nodes.values().copied());
            let status = here.into_iter().chain(elsewhere).min_by_key(|s| rank(*s)).unwrap_or(PresenceStatus::Offline);
            let known = self.inner.store.get(&[user]).pop().flatten();
            if known.map(|k| k.status) == Some(status) || (known.is_none() && status == PresenceStatus::Offline) {
                return;
            }
            self.inner.store.put(user, Known { status, last_seen_at: Some(now) });
            (status, self.inner.version.fetch_add(1, Ordering::Relaxed) + 1)
        };
        let inner = self.inner.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if let Err(e) = announce(&inner, user, status, now, version).await {
                tracing::warn!(%user, error = %e, "could not announce a presence change");
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Local>> {
        self.inner.local.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which status wins when nodes disagree: lowest first.
fn rank(status: PresenceStatus) -> u8 {
    match status {
        PresenceStatus::Online => 0,
        PresenceStatus::Away => 1,
        PresenceStatus::Offline => 2,
    }
}

async fn announce(
    inner: &Inner,
    user: UserId,
    status: PresenceStatus,
    now: Millis,
    version: u64,
) -> Result<(), storage::Error> {
    let mut conn = inner.db.write().await?;
    if status == PresenceStatus::Offline {
        conn.set_last_seen(&[user], now).await?;
    }
    let Some(profile) = conn.users(&[user]).await?.pop() else { return Ok(()) };
    let rooms = conn.room_ids_of(user).await?;
    drop(conn);
    let presence = Arc::new(UserPresence { user: profile, status, last_seen_at: Some(now) });
    tracing::debug!(%user, ?status, rooms = rooms.len(), "presence changed");
    for room in rooms {
        inner.bus.publish(Topic::Room(room), Event::Presence { presence: presence.clone(), version });
    }
    Ok(())
}
