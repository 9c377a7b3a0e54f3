//! A real parleyd, in-process on a free loopback port, over a [`TestDb`].

use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinHandle;
use tonic::transport::Channel;

use testdb::TestDb;

/// The JWT secret of every test server, so tests can forge tokens.
pub const SECRET: &[u8] = b"test secret, at least thirty-two bytes long";

/// A running server. Dropping it stops it.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), gateway::Error>>>,
}

impl TestServer {
    /// A server with test defaults on the database of `t`.
    ///
    /// # Errors
    /// When the database cannot be opened or the port bound.
    pub async fn start(t: &TestDb) -> anyhow::Result<Self> {
        Self::start_with(t, |_| {}).await
    }

    /// A server whose config `adjust` may change.
    ///
    /// # Errors
    /// As [`TestServer::start`].
    pub async fn start_with(t: &TestDb, adjust: impl FnOnce(&mut gateway::Config)) -> anyhow::Result<Self> {
        Self::start_at(t, "127.0.0.1:0".parse()?, adjust).await
    }

    /// A server on `addr` (to restart one where its clients expect it).
    ///
    /// # Errors
    /// As [`TestServer::start`]; also when `addr` stays taken for two seconds.
    pub async fn start_at(
        t: &TestDb,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut gateway::Config),
    ) -> anyhow::Result<Self> {
        let mut config = gateway::Config::new(SECRET.to_vec());
        config.shutdown_grace = Duration::from_secs(2);
        // Tests send, register and create rooms far faster than people do: request rate limits are off
        // unless a test turns them on (the limits have tests of their own).
        config.rates = gateway::RateConfig::off();
        adjust(&mut config);
        // A fresh handle, as a restarted process would have: nothing in memory survives a restart.
        let db = gateway::Db::open(&gateway::DbConfig::new(t.url())).await?;
        let app = gateway::App::new(db, config)?;
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if tries < 40 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(gateway::serve(app, listener, async move {
            let _ = stopped.await;
        }));
        Ok(Self { addr, url: format!("http://{addr}"), stop: Some(stop), task: Some(task) })
    }

    /// Stops the server as SIGTERM would, and waits until it has stopped.
    ///
    /// # Errors
    /// When the server failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }

    /// A new connection to the server.
    ///
    /// # Errors
    /// When it cannot connect.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(self.url.clone())?.connect().await?)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
