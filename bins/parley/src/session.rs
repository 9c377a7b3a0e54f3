//! The signed-in session, kept in the user's config directory (`~/.config/parley/session.json`, mode
//! 0600), and the client that uses it: it refreshes the access token before it expires and once more if the
//! server says it has, saving the rotated tokens each time.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::{RefreshTokenRequest, Tokens, User};
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

/// What is saved between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub user_id: String,
    pub username: String,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

fn seconds(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map_or(0, |t| t.seconds)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Saved {
    pub fn new(server: &str, user: &User, tokens: &Tokens) -> Self {
        let mut saved = Self {
            server: server.to_owned(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            access_token: String::new(),
            access_expires_at: 0,
            refresh_token: String::new(),
            refresh_expires_at: 0,
        };
        saved.set_tokens(tokens);
        saved
    }

    fn set_tokens(&mut self, tokens: &Tokens) {
        self.access_token.clone_from(&tokens.access_token);
        self.access_expires_at = seconds(tokens.access_token_expires_at.as_ref());
        self.refresh_token.clone_from(&tokens.refresh_token);
        self.refresh_expires_at = seconds(tokens.refresh_token_expires_at.as_ref());
    }
}

/// Where sessions are kept.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let dir = match dir {
            Some(dir) => dir,
            None => dirs::config_dir().context("cannot find your config directory; pass --config-dir")?.join("parley"),
        };
        Ok(Self { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    pub fn load(&self) -> anyhow::Result<Option<Saved>> {
        match fs::read_to_string(self.path()) {
            Ok(text) => Ok(Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is damaged; run parley login", self.path().display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path().display())),
        }
    }

    /// Writes the session readable by the user only, atomically (a crash leaves the old one or the new).
    pub fn save(&self, saved: &Saved) -> anyhow::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let temporary = self.dir.join(".session.json.tmp");
        let _ = fs::remove_file(&temporary);
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
        file.write_all(serde_json::to_string_pretty(saved)?.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, self.path()).with_context(|| format!("cannot write {}", self.path().display()))?;
        Ok(())
    }

    pub fn forget(&self) -> anyhow::Result<()> {
        match fs::remove_file(self.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub fn location(&self) -> &Path {
        &self.dir
    }
}

/// A connection with a signed-in session.
#[derive(Debug)]
pub struct Session {
    pub saved: Saved,
    pub channel: Channel,
    store: Store,
}

impl Session {
    pub async fn open(store: Store, server: Option<&str>) -> anyhow::Result<Self> {
        let Some(saved) = store.load()? else {
            bail!("not signed in; run parley login (or parley register)");
        };
        let url = server.unwrap_or(&saved.server).to_owned();
        let channel = connect(&url).await?;
        Ok(Self { saved, channel, store })
    }

    /// `message` with a current access token, refreshing it first if it expires within a minute.
    pub async fn req<T>(&mut self, message: T) -> anyhow::Result<tonic::Request<T>> {
        if self.saved.access_expires_at - now() < 60 {
            self.refresh().await?;
        }
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {}", self.saved.access_token).parse()?);
        Ok(request)
    }

    /// Exchanges the refresh token for new tokens and saves them.
    pub async fn refresh(&mut self) -> anyhow::Result<()> {
        let request = RefreshTokenRequest { refresh_token: self.saved.refresh_token.clone() };
        let tokens = match AuthServiceClient::new(self.channel.clone()).refresh_token(request).await {
            Ok(response) => response.into_inner().tokens.unwrap_or_default(),
            Err(status) if status.code() == tonic::Code::Unauthenticated => {
                bail!("your session has ended ({}); run parley login", status.message())
            }
            Err(status) => return Err(crate::describe(status)),
        };
        self.saved.set_tokens(&tokens);
        self.store.save(&self.saved)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(url.to_owned())
        .with_context(|| format!("{url} is not a server URL (try http://127.0.0.1:50051)"))?
        .connect()
        .await
        .with_context(|| format!("cannot reach the server at {url}"))
}
