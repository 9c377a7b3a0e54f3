//! Starting servers and talking to them.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context as _;
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::message_service_client::MessageServiceClient;
use api::v1::presence_service_client::PresenceServiceClient;
use api::v1::room_service_client::RoomServiceClient;
use api::v1::{RegisterRequest, Tokens, User};
use tonic::transport::Channel;

pub use testkit::{SECRET, TestServer};

/// parleyd as a separate process, listening on a free port.
pub struct Daemon;

impl Daemon {
    /// Starts the parleyd binary of this build with `args` and `envs` (see [`testkit::Daemon`]).
    pub async fn spawn(args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<testkit::Daemon> {
        testkit::Daemon::spawn(std::path::Path::new(env!("CARGO_BIN_EXE_parleyd")), args, envs).await
    }
}

/// Registers users on a server (a [`TestServer`] or a [`testkit::Daemon`]).
pub trait Register {
    /// A new connection to the server.
    async fn connect(&self) -> anyhow::Result<Channel>;

    /// Registers `username` (email `username@example.com`, password `password-of-USERNAME`).
    async fn register(&self, username: &str) -> anyhow::Result<Client> {
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
        Client::new(self.connect().await?, user, tokens)
    }

    /// A client for the auth service.
    async fn auth(&self) -> anyhow::Result<AuthServiceClient<Channel>> {
        Ok(AuthServiceClient::new(self.connect().await?))
    }
}

impl Register for TestServer {
    async fn connect(&self) -> anyhow::Result<Channel> {
        self.channel().await
    }
}

impl Register for testkit::Daemon {
    async fn connect(&self) -> anyhow::Result<Channel> {
        self.channel().await
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

impl Client {
    /// Creates a room and returns it.
    pub async fn create_room(&self, name: &str, visibility: api::v1::Visibility) -> anyhow::Result<api::v1::Room> {
        let request =
            api::v1::CreateRoomRequest { name: name.into(), topic: String::new(), visibility: visibility.into() };
        self.rooms().create_room(self.req(request)).await?.into_inner().room.context("no room")
    }

    /// Joins a room.
    pub async fn join(&self, room: &str) -> Result<api::v1::Room, tonic::Status> {
        let r = self.rooms().join_room(self.req(api::v1::JoinRoomRequest { room_id: room.into() })).await?;
        r.into_inner().room.ok_or_else(|| tonic::Status::internal("no room"))
    }

    /// Invites `username` to a room.
    pub async fn invite(&self, room: &str, username: &str) -> Result<(), tonic::Status> {
        let request = api::v1::InviteMemberRequest { room_id: room.into(), username: username.into() };
        self.rooms().invite_member(self.req(request)).await.map(|_| ())
    }

    /// Sends a text message with a fresh client message id.
    pub async fn send(&self, room: &str, body: &str) -> Result<api::v1::Message, tonic::Status> {
        self.send_with_id(room, body, &uuid::Uuid::new_v4().to_string()).await
    }

    /// Sends a text message with the given client message id.
    pub async fn send_with_id(&self, room: &str, body: &str, id: &str) -> Result<api::v1::Message, tonic::Status> {
        let request = api::v1::SendMessageRequest {
            room_id: room.into(),
            body: body.into(),
            client_message_id: id.into(),
            reply_to_seq: 0,
        };
        let r = self.messages().send_message(self.req(request)).await?;
        r.into_inner().message.ok_or_else(|| tonic::Status::internal("no message"))
    }

    /// The whole timeline of a room, oldest first, read page by page backwards from the newest (0 means
    /// "unset" for both cursors, so the newest page is where reading starts).
    pub async fn timeline(&self, room: &str) -> anyhow::Result<Vec<api::v1::Message>> {
        let mut pages = Vec::new();
        let mut before = 0;
        loop {
            let request =
                api::v1::ListMessagesRequest { room_id: room.into(), before_seq: before, after_seq: 0, limit: 200 };
            let page = self.messages().list_messages(self.req(request)).await?.into_inner();
            before = page.messages.first().map_or(before, |m| m.seq);
            let more = page.has_more;
            pages.push(page.messages);
            if !more {
                return Ok(pages.into_iter().rev().flatten().collect());
            }
        }
    }

    /// Members of a room (first page, up to 200).
    pub async fn members(&self, room: &str) -> Result<Vec<api::v1::Member>, tonic::Status> {
        let request = api::v1::ListMembersRequest { room_id: room.into(), page_size: 200, page_token: String::new() };
        Ok(self.rooms().list_members(self.req(request)).await?.into_inner().members)
    }

    /// The room as this user sees it.
    pub async fn room(&self, room: &str) -> Result<api::v1::Room, tonic::Status> {
        let r = self.rooms().get_room(self.req(api::v1::GetRoomRequest { room_id: room.into() })).await?;
        r.into_inner().room.ok_or_else(|| tonic::Status::internal("no room"))
    }

    /// Opens a Subscribe stream.
    pub async fn subscribe(&self, rooms: &[(&str, i64)]) -> Result<Events, tonic::Status> {
        self.subscribe_following(rooms, false).await
    }

    /// Opens a Subscribe stream that may also follow new joins.
    pub async fn subscribe_following(
        &self,
        rooms: &[(&str, i64)],
        follow_joins: bool,
    ) -> Result<Events, tonic::Status> {
        let request = api::v1::SubscribeRequest {
            rooms: rooms
                .iter()
                .map(|(room, after)| api::v1::RoomCursor { room_id: (*room).into(), after_seq: *after })
                .collect(),
            follow_joins,
        };
        let stream = self.messages().subscribe(self.req(request)).await?.into_inner();
        Ok(Events { stream })
    }
}

/// A Subscribe stream with helpers that wait for what a test expects.
#[derive(Debug)]
pub struct Events {
    pub stream: tonic::Streaming<api::v1::SubscribeResponse>,
}

/// How long a test waits for an expected event.
pub const WAIT: Duration = Duration::from_secs(10);

impl Events {
    /// The next event, failing after [`WAIT`].
    pub async fn next(&mut self) -> anyhow::Result<api::v1::subscribe_response::Event> {
        let item = tokio::time::timeout(WAIT, self.stream.message()).await.context("no event in time")??;
        item.and_then(|r| r.event).context("stream ended")
    }

    /// The next event that `pick` accepts, skipping the others (heartbeats, presence…).
    pub async fn next_where<T>(
        &mut self,
        mut pick: impl FnMut(api::v1::subscribe_response::Event) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let item =
                tokio::time::timeout(left, self.stream.message()).await.context("no matching event in time")??;
            let event = item.and_then(|r| r.event).context("stream ended")?;
            if let Some(found) = pick(event) {
                return Ok(found);
            }
        }
    }

    /// The next timeline entry.
    pub async fn message(&mut self) -> anyhow::Result<api::v1::Message> {
        use api::v1::subscribe_response::Event;
        self.next_where(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .await
    }

    /// The next `n` timeline entries.
    pub async fn messages(&mut self, n: usize) -> anyhow::Result<Vec<api::v1::Message>> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            got.push(self.message().await?);
        }
        Ok(got)
    }

    /// Reads until the stream ends and returns its final status.
    pub async fn end(&mut self) -> anyhow::Result<tonic::Status> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.message()).await.context("stream did not end in time")? {
                Ok(Some(_)) => continue,
                Ok(None) => anyhow::bail!("stream ended without an error"),
                Err(status) => return Ok(status),
            }
        }
    }
}

/// Runs the binary to completion (for configurations that must fail) and returns its status and stderr.
pub fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<(std::process::ExitStatus, String)> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_parleyd"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
        command.env_remove(key);
    }
    let output = command.args(args).envs(envs.iter().copied()).output()?;
    Ok((output.status, String::from_utf8_lossy(&output.stderr).into_owned()))
}
