//! The operator's commands (`parleyd admin …`), wired: each calls one domain function on the server's
//! database and, for those that end sessions, tells the running nodes.
//!
//! The commands run in a process of their own, which cannot reach a node's bus. Nodes learn of ended
//! sessions in two ways: from storage, within their session-check interval (2 s; see
//! `auth::RevocationWatch`), on every deployment; and at once over NATS when the command is given the
//! cluster's `--nats-url` (as the nodes are). A failure to reach NATS is only logged: storage still tells
//! the nodes, a little later. A deleted room's subscribers are told by their node's tail check, within
//! its interval (5 s).

use auth::{Accounts, Managed, Registration, SessionRecord};
use rooms::Rooms;
use storage::Db;
use types::{Account, RoomId, SessionId, UserId};

use crate::Error;

/// The operator's commands over one database, and the cluster to tell, if any.
#[derive(Debug)]
pub struct Admin {
    accounts: Accounts,
    rooms: Rooms,
    cluster: Option<cluster::ClusterConfig>,
}

impl Admin {
    /// Commands on `db`; ended sessions are announced to the nodes of `cluster` too.
    ///
    /// # Errors
    /// [`Error::Auth`] if the password hasher cannot start.
    pub fn new(db: Db, cluster: Option<cluster::ClusterConfig>) -> Result<Self, Error> {
        // Nothing listens on this process's bus: the rooms service publishes into the void.
        let rooms = Rooms::new(db.clone(), bus::Bus::default());
        Ok(Self { accounts: Accounts::new(db)?, rooms, cluster })
    }

    /// Creates an account (see [`Accounts::create`]).
    ///
    /// # Errors
    /// [`Error::Auth`] with the fields that are wrong, or the one taken.
    pub async fn create_user(&self, registration: Registration<'_>) -> Result<Account, Error> {
        Ok(self.accounts.create(registration).await?)
    }

    /// The account named by `login` (username or email).
    ///
    /// # Errors
    /// [`Error::Auth`] when there is none.
    pub async fn user(&self, login: &str) -> Result<Managed, Error> {
        Ok(self.accounts.find(login).await?)
    }

    /// Sets a new password and ends the account's sessions everywhere.
    ///
    /// # Errors
    /// [`Error::Auth`] for an unknown account or an unusable password.
    pub async fn reset_password(&self, login: &str, password: &str) -> Result<UserId, Error> {
        let user = self.accounts.reset_password(login, password).await?;
        self.announce(&[(user, None)]).await;
        Ok(user)
    }

    /// Disables the account and ends its sessions and streams everywhere.
    ///
    /// # Errors
    /// [`Error::Auth`] for an unknown account.
    pub async fn disable(&self, login: &str) -> Result<UserId, Error> {
        let user = self.accounts.disable(login).await?;
        self.announce(&[(user, None)]).await;
        Ok(user)
    }

    /// Lets a disabled account sign in again.
    ///
    /// # Errors
    /// [`Error::Auth`] for an unknown account.
    pub async fn enable(&self, login: &str) -> Result<UserId, Error> {
        Ok(self.accounts.enable(login).await?)
    }

    /// The account's sessions, newest first.
    ///
    /// # Errors
    /// [`Error::Auth`] for an unknown account.
    pub async fn sessions(&self, login: &str) -> Result<Vec<SessionRecord>, Error> {
        Ok(self.accounts.sessions(login).await?.1)
    }

    /// Ends one session of the account (or all, with `None`) everywhere.
    ///
    /// # Errors
    /// [`Error::Auth`] for an unknown account, or a session that is not the account's.
    pub async fn revoke(&self, login: &str, session: Option<SessionId>) -> Result<UserId, Error> {
        let user = self.accounts.revoke(login, session).await?;
        self.announce(&[(user, session)]).await;
        Ok(user)
    }

    /// Deletes a room with its timeline.
    ///
    /// # Errors
    /// [`Error::Rooms`] when there is no such room.
    pub async fn delete_room(&self, room: RoomId) -> Result<(), Error> {
        Ok(self.rooms.delete(room).await?)
    }

    async fn announce(&self, revoked: &[(UserId, Option<SessionId>)]) {
        let Some(config) = &self.cluster else { return };
        match cluster::announce(config, revoked).await {
            Ok(()) => tracing::info!("told the cluster's nodes over NATS"),
            Err(e) => tracing::warn!(
                error = %e,
                "could not tell the cluster over NATS; the nodes notice from the database within seconds"
            ),
        }
    }
}
