//! A minimal Socket.IO 4 client over WebSocket, enough to drive the benchmark's peer (`peer/server.mjs`)
//! with the same load as parleyd: one connection per subscriber, events with and without acks.
//!
//! The wire, as the protocol documents it (Engine.IO v4 carrying Socket.IO v5 packets, one packet per
//! WebSocket text frame):
//!
//! ```text
//! server: 0{"sid":…,"pingInterval":25000,…}   Engine.IO open
//! client: 40                                  connect to the main namespace
//! server: 40{"sid":…}                         connected
//! client: 42["name",data]                     an event; 42<id>["name",data] asks for an ack
//! server: 43<id>[data]                        the ack
//! server: 2                                   ping, answered with 3 (pong), or the server drops us
//! ```
//!
//! Binary attachments, other namespaces and HTTP long-polling are not needed here and not implemented.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use futures::stream::SplitStream;
use futures::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// A packet the server sent, other than the Engine.IO and namespace bookkeeping.
#[derive(Debug)]
pub enum Packet {
    /// `42[<id>]["name", data]`.
    Event { name: String, data: Value },
    /// `43<id>[data]`: the answer to an event we sent with `ack` `id`.
    Ack { id: u64, data: Value },
}

/// One Socket.IO connection in the main namespace. Pings are answered while [`Socket::next`] is polled, so
/// a connection that should stay open needs a task reading it (see [`Socket::into_caller`]).
#[derive(Debug)]
pub struct Socket {
    incoming: SplitStream<WebSocketStream<TcpStream>>,
    /// Frames to write, written by the connection's writer task (which ends when this is dropped).
    outgoing: mpsc::UnboundedSender<Message>,
    next_ack: u64,
}

impl Socket {
    /// Connects to the Socket.IO server at `addr` over WebSocket and joins the main namespace.
    ///
    /// # Errors
    /// When the connection, the WebSocket handshake or the namespace connect fails.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        // As the gRPC clients and servers do: small frames leave at once, not after a delayed ACK.
        tcp.set_nodelay(true)?;
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await?;
        let (mut sink, incoming) = ws.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                if sink.send(frame).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let mut socket = Self { incoming, outgoing, next_ack: 0 };
        let open = socket.frame().await?.context("closed before the Engine.IO open packet")?;
        anyhow::ensure!(open.starts_with('0'), "expected the Engine.IO open packet, got {open:?}");
        socket.write("40".to_owned())?;
        let connected = socket.frame().await?.context("closed before the namespace connect")?;
        anyhow::ensure!(connected.starts_with("40"), "namespace connect refused: {connected:?}");
        Ok(socket)
    }

    /// Sends event `name` with `data`, asking for an ack when `ack` is given (its id comes back in
    /// [`Packet::Ack`]).
    ///
    /// # Errors
    /// When the connection is gone.
    pub fn emit(&self, name: &str, data: &impl Serialize, ack: Option<u64>) -> anyhow::Result<()> {
        let payload = serde_json::to_string(&(name, data))?;
        let packet = match ack {
            Some(id) => format!("42{id}{payload}"),
            None => format!("42{payload}"),
        };
        self.write(packet)
    }

    /// Sends event `name` with `data` and waits for its ack, skipping events that arrive meanwhile.
    ///
    /// # Errors
    /// When the connection fails or closes first.
    pub async fn call(&mut self, name: &str, data: &impl Serialize) -> anyhow::Result<Value> {
        let id = self.next_ack;
        self.next_ack += 1;
        self.emit(name, data, Some(id))?;
        loop {
            match self.next().await?.with_context(|| format!("closed before the ack of {name:?}"))? {
                Packet::Ack { id: got, data } if got == id => return Ok(data),
                _ => {}
            }
        }
    }

    /// The next event or ack; `None` once the server closes the connection or the namespace.
    ///
    /// # Cancel safety
    /// Cancel safe: a packet is either returned or still unread.
    ///
    /// # Errors
    /// When the connection fails or the server sends something that is not Socket.IO.
    pub async fn next(&mut self) -> anyhow::Result<Option<Packet>> {
        while let Some(text) = self.frame().await? {
            match parse(&text)? {
                Parsed::Packet(packet) => return Ok(Some(packet)),
                Parsed::Ping => self.write("3".to_owned())?,
                Parsed::Closed => return Ok(None),
                Parsed::Other => {}
            }
        }
        Ok(None)
    }

    /// Turns this socket into a [`Caller`]: a task of its own reads it (answering pings) and hands each ack
    /// to its call, until the connection closes or the last clone of the caller is dropped.
    pub fn into_caller(mut self) -> Caller {
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let outgoing = self.outgoing.clone();
        let next_ack = Arc::new(AtomicU64::new(self.next_ack));
        let reader = tokio::spawn({
            let pending = pending.clone();
            async move {
                while let Ok(Some(packet)) = self.next().await {
                    if let Packet::Ack { id, data } = packet
                        && let Some(waiting) = pending.lock().ok().and_then(|mut p| p.remove(&id))
                    {
                        let _ = waiting.send(data);
                    }
                }
                // Closed: calls still waiting fail rather than hang.
                if let Ok(mut p) = pending.lock() {
                    p.clear();
                }
            }
        });
        Caller { outgoing, pending, next_ack, _reader: Arc::new(AbortOnDrop(reader)) }
    }

    /// The next text frame; `None` when the connection closes.
    async fn frame(&mut self) -> anyhow::Result<Option<String>> {
        while let Some(frame) = self.incoming.next().await {
            match frame? {
                Message::Text(text) => return Ok(Some(text.as_str().to_owned())),
                Message::Close(_) => return Ok(None),
                // WebSocket pings are answered by tungstenite itself; Engine.IO pings come as text.
                _ => {}
            }
        }
        Ok(None)
    }

    fn write(&self, text: String) -> anyhow::Result<()> {
        self.outgoing.send(Message::text(text)).ok().context("the connection's writer has stopped")
    }
}

/// A connection that makes calls (events with acks) concurrently, from any number of tasks; made by
/// [`Socket::into_caller`]. Events the server sends it are dropped.
#[derive(Debug, Clone)]
pub struct Caller {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    next_ack: Arc<AtomicU64>,
    /// The task reading the connection, stopped when the last clone goes (which closes the connection).
    _reader: Arc<AbortOnDrop>,
}

/// A task that stops when its handle is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Caller {
    /// Sends event `name` with `data` and waits for its ack.
    ///
    /// # Errors
    /// When the connection fails or closes before the ack.
    pub async fn call(&self, name: &str, data: &impl Serialize) -> anyhow::Result<Value> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        self.pending.lock().map_err(|_| anyhow::anyhow!("a caller's task panicked"))?.insert(id, answer);
        let payload = serde_json::to_string(&(name, data))?;
        self.outgoing.send(Message::text(format!("42{id}{payload}"))).ok().context("the connection has closed")?;
        answered.await.ok().with_context(|| format!("the connection closed before the ack of {name:?}"))
    }
}

/// What one Engine.IO packet (one text frame) says.
#[derive(Debug)]
enum Parsed {
    Packet(Packet),
    /// Engine.IO ping: answer with a pong.
    Ping,
    /// Engine.IO close, or Socket.IO disconnect.
    Closed,
    /// Bookkeeping (open, namespace connected, pong, noop).
    Other,
}

fn parse(text: &str) -> anyhow::Result<Parsed> {
    if text == "2" {
        return Ok(Parsed::Ping);
    }
    if text == "1" || text.starts_with("41") {
        return Ok(Parsed::Closed);
    }
    let Some(body) = text.strip_prefix('4') else { return Ok(Parsed::Other) };
    let (kind, rest) = body.split_at_checked(1).context("empty Socket.IO packet")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (id, json) = rest.split_at(digits);
    match kind {
        "2" => {
            let value: Value = serde_json::from_str(json).with_context(|| format!("event {text:?}"))?;
            let Value::Array(mut items) = value else { anyhow::bail!("event is not an array: {text:?}") };
            anyhow::ensure!(!items.is_empty(), "event without a name: {text:?}");
            let data = if items.len() > 1 { items.swap_remove(1) } else { Value::Null };
            let name = items.swap_remove(0).as_str().context("event name is not a string")?.to_owned();
            Ok(Parsed::Packet(Packet::Event { name, data }))
        }
        "3" => {
            let id = id.parse().with_context(|| format!("ack without an id: {text:?}"))?;
            let value: Value = serde_json::from_str(json).with_context(|| format!("ack {text:?}"))?;
            let data = match value {
                Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
                _ => Value::Null,
            };
            Ok(Parsed::Packet(Packet::Ack { id, data }))
        }
        "4" => anyhow::bail!("the server refused the namespace: {text:?}"),
        _ => Ok(Parsed::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_parse_as_the_protocol_writes_them() -> anyhow::Result<()> {
        let Parsed::Packet(Packet::Event { name, data }) = parse(r#"42["message",{"body":"hi"}]"#)? else {
            anyhow::bail!("not an event")
        };
        assert_eq!((name.as_str(), &data["body"]), ("message", &Value::from("hi")));
        let Parsed::Packet(Packet::Ack { id, data }) = parse(r#"4317[{"ok":true}]"#)? else {
            anyhow::bail!("not an ack")
        };
        assert_eq!((id, &data["ok"]), (17, &Value::Bool(true)));
        assert!(matches!(parse("2")?, Parsed::Ping));
        assert!(matches!(parse("41")?, Parsed::Closed));
        assert!(matches!(parse(r#"40{"sid":"x"}"#)?, Parsed::Other));
        assert!(parse(r#"44{"message":"no"}"#).is_err(), "a refused namespace is an error");
        Ok(())
    }
}
