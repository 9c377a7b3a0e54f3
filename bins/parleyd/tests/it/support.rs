//! Starting servers and talking to them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::message_service_client::MessageServiceClient;
use api::v1::presence_service_client::PresenceServiceClient;
use api::v1::room_service_client::RoomServiceClient;
use api::v1::{RegisterRequest, Tokens, User};
use testkit::TestDb;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The JWT secret of every test server, so tests can forge tokens.
pub const SECRET: &[u8] = b"test secret, at least thirty-two bytes long";

/// A running server on a loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), gateway::Error>>>,
}

impl TestServer {
    /// A server with test defaults on the database of `t`.
    pub async fn start(t: &TestDb) -> anyhow::Result<Self> {
        Self::start_with(t, |_| {}).await
    }

    /// A server whose config `adjust` may change.
    pub async fn start_with(t: &TestDb, adjust: impl FnOnce(&mut gateway::Config)) -> anyhow::Result<Self> {
        let mut config = gateway::Config::new(SECRET.to_vec());
        config.shutdown_grace = Duration::from_secs(2);
        adjust(&mut config);
        // A fresh handle, as a restarted process would have: nothing in memory survives a restart.
        let db = gateway::Db::open(&gateway::DbConfig::new(t.url())).await?;
        let app = gateway::App::new(db, config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(gateway::serve(app, listener, async move {
            let _ = stopped.await;
        }));
        Ok(Self { addr, url: format!("http://{addr}"), stop: Some(stop), task: Some(task) })
    }

    /// Stops the server as SIGTERM would, and waits until it has stopped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Channel::from_shared(self.url.clone())?.connect().await.context("connecting to the test server")
    }

    pub async fn auth(&self) -> anyhow::Result<AuthServiceClient<Channel>> {
        Ok(AuthServiceClient::new(self.channel().await?))
    }

    /// Registers `username` (email `username@example.com`, password `password-of-USERNAME`).
    pub async fn register(&self, username: &str) -> anyhow::Result<Client> {
        let response = self
            .auth()
            .await?
            .register(RegisterRequest {
                username: username.into(),
                email: format!("{username}@example.com"),
                password: password_of(username),
                display_name: String::new(),
            })
            .await?
            .into_inner();
        let user = response.user.context("no user")?;
        let tokens = response.tokens.context("no tokens")?;
        Client::new(self.channel().await?, user, tokens)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn password_of(username: &str) -> String {
    format!("password-of-{username}")
}

/// A signed-in user with clients for every service.
#[derive(Clone)]
pub struct Client {
    pub user: User,
    pub tokens: Tokens,
    pub channel: Channel,
}

impl Client {
    pub fn new(channel: Channel, user: User, tokens: Tokens) -> anyhow::Result<Self> {
        Ok(Self { user, tokens, channel })
    }

    /// `message` with this user's access token.
    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        bearer(message, &self.tokens.access_token)
    }

    pub fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }

    pub fn rooms(&self) -> RoomServiceClient<Channel> {
        RoomServiceClient::new(self.channel.clone())
    }

    pub fn messages(&self) -> MessageServiceClient<Channel> {
        MessageServiceClient::new(self.channel.clone())
    }

    pub fn presence(&self) -> PresenceServiceClient<Channel> {
        PresenceServiceClient::new(self.channel.clone())
    }
}

/// `message` with `authorization: Bearer TOKEN`.
pub fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Asserts that `result` failed with `code`, and returns the status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: tonic::Code) -> tonic::Status {
    match result {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// Waits until `check` holds, up to `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("condition did not hold within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
