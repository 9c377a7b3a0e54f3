//! Client-side load: connections, users, and the broadcast load (subscribers that time every delivery,
//! and a sender at a fixed rate) that drives parleyd and the reference alike.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::message_service_client::MessageServiceClient;
use api::v1::subscribe_response::Event;
use api::v1::{LoginRequest, MessageKind, RegisterRequest, SendMessageRequest, SubscribeRequest};
use futures::Stream;
use hdrhistogram::Histogram;
use tonic::transport::Channel;

use crate::progress::Progress;
use crate::socketio::{Packet, Socket};

pub const PASSWORD: &str = "benchmark password";

pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(url.to_owned())?.connect().await?)
}

pub async fn connect_many(url: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        channels.push(connect(url).await?);
    }
    Ok(channels)
}

pub fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A registered user's access token.
#[derive(Debug, Clone)]
pub struct User {
    pub token: String,
}

/// Registers `count` users named `PREFIX-N`, a few at a time (each costs one argon2 hash on the server),
/// with progress lines on stderr for a hundred or more.
pub async fn register(channel: &Channel, prefix: &str, count: usize) -> anyhow::Result<Vec<User>> {
    let calls = (0..count).map(|i| {
        let mut auth = AuthServiceClient::new(channel.clone());
        let name = format!("{prefix}-{i}");
        async move {
            let request = RegisterRequest {
                username: name.clone(),
                email: format!("{name}@bench.example"),
                password: PASSWORD.into(),
                display_name: String::new(),
            };
            let r = auth.register(request).await?.into_inner();
            anyhow::Ok(User { token: r.tokens.context("no tokens")?.access_token })
        }
    });
    let mut progress = (count >= 100).then(|| Progress::new(format!("registering {prefix} users"), count as u64));
    let mut users = Vec::with_capacity(count);
    let mut registered = futures::stream::iter(calls).buffered(4);
    while let Some(user) = registered.next().await {
        users.push(user?);
        if let Some(p) = progress.as_mut() {
            p.update(users.len() as u64);
        }
    }
    if let Some(p) = progress {
        p.finish();
    }
    Ok(users)
}

use futures::StreamExt as _;

/// Logs a registered user in again: a fresh access token, for a phase that follows a load longer than the
/// token's life.
pub async fn login(channel: &Channel, username: &str) -> anyhow::Result<User> {
    let request = LoginRequest { login: username.into(), password: PASSWORD.into() };
    let r = AuthServiceClient::new(channel.clone()).login(request).await?.into_inner();
    Ok(User { token: r.tokens.context("no tokens")?.access_token })
}

/// A message body of `size` bytes that starts with the time it was made (nanoseconds since `base`).
fn stamped(base: Instant, size: usize) -> String {
    let mut body = format!("{:020}", base.elapsed().as_nanos());
    body.extend(std::iter::repeat_n('x', size.saturating_sub(20)));
    body
}

fn sent_at(base: Instant, body: &str) -> Option<Instant> {
    let nanos: u64 = body.get(..20)?.parse().ok()?;
    Some(base + Duration::from_nanos(nanos))
}

/// What a broadcast run measured.
#[derive(Debug)]
pub struct Broadcast {
    pub sent: u64,
    pub delivered: u64,
    /// Send-to-deliver latency, microseconds.
    pub latency: Histogram<u64>,
    /// From the first send to the last delivery.
    pub elapsed: Duration,
}

impl Broadcast {
    /// Deliveries that never happened: every one of `subscribers` should have had every message sent.
    pub fn lost(&self, subscribers: usize) -> f64 {
        (self.sent * subscribers as u64).saturating_sub(self.delivered) as f64
    }

    pub fn deliveries_per_second(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Where a broadcast run goes: the server, the room, who sends, and who subscribes.
#[derive(Debug, Clone)]
pub struct Room {
    pub url: String,
    pub room_id: String,
    pub sender: String,
    /// Tokens of the subscribing users; streams are spread over them.
    pub readers: Vec<String>,
    /// Where the streams are opened, spread evenly (other nodes of a cluster); empty: `url`.
    pub subscribe_at: Vec<String>,
}

/// Opens `subscribers` streams over `connections` connections, waits until all are ready, sends `rate`
/// messages a second of `size` bytes for `duration`, and waits until every subscriber has every message
/// (or 60 s more have passed).
pub async fn broadcast(
    room: &Room,
    subscribers: usize,
    connections: usize,
    rate: f64,
    duration: Duration,
    size: usize,
) -> anyhow::Result<Broadcast> {
    let base = Instant::now();
    let mut channels = Vec::with_capacity(connections.max(1));
    if room.subscribe_at.is_empty() {
        channels = connect_many(&room.url, connections.max(1)).await?;
    } else {
        // Interleaved, so that subscriber `i` on channel `i % n` spreads the streams evenly over the nodes.
        for i in 0..connections.max(room.subscribe_at.len()) {
            channels.push(connect(&room.subscribe_at[i % room.subscribe_at.len()]).await?);
        }
    }
    // Every subscriber is told how many messages to expect once sending is over.
    let expected = Arc::new(AtomicU64::new(u64::MAX));
    let mut readers = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let mut client = MessageServiceClient::new(channels[i % channels.len()].clone());
        let token = &room.readers[i % room.readers.len()];
        let mut stream = client.subscribe(bearer(SubscribeRequest::default(), token)).await?.into_inner();
        // The first event confirms the subscription.
        let first = stream.message().await?.and_then(|r| r.event);
        anyhow::ensure!(matches!(first, Some(Event::Ready(_))), "subscription {i} did not start with ready");
        let bodies = futures::stream::unfold(stream, |mut stream| async move {
            let body = match stream.message().await {
                Ok(Some(response)) => match response.event {
                    Some(Event::Message(m)) if m.kind() == MessageKind::Text => Ok(Some(m.body)),
                    _ => Ok(None),
                },
                Ok(None) => return None,
                Err(e) => Err(e.into()),
            };
            Some((body, stream))
        });
        readers.push(time_deliveries(Box::pin(bodies), base, duration, expected.clone()));
    }

    // The sender: one message per tick, each send on its own task so a slow ack does not slow the rate.
    let sender = MessageServiceClient::new(connect(&room.url).await?);
    let (room_id, token) = (room.room_id.clone(), room.sender.clone());
    let (started, sent) = send_at_rate(base, rate, duration, size, move |n, body| {
        let mut client = sender.clone();
        let request =
            SendMessageRequest { room_id: room_id.clone(), body, client_message_id: format!("b{n}"), reply_to_seq: 0 };
        let token = token.clone();
        async move { client.send_message(bearer(request, &token)).await.map(|_| ()).map_err(Into::into) }
    })
    .await?;
    expected.store(sent, Ordering::Relaxed);
    gather(readers, sent, started).await
}

/// The same load as [`broadcast`] on the Socket.IO peer at `addr` (`peer/server.mjs`): `subscribers`
/// connections, each subscribed to room `bench`, and a sender on a connection of its own that waits for
/// each message's ack.
pub async fn broadcast_socketio(
    addr: SocketAddr,
    subscribers: usize,
    rate: f64,
    duration: Duration,
    size: usize,
) -> anyhow::Result<Broadcast> {
    const ROOM: &str = "bench";
    let base = Instant::now();
    let expected = Arc::new(AtomicU64::new(u64::MAX));
    let mut readers = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let mut socket = Socket::connect(addr).await?;
        socket.call("subscribe", &ROOM).await.with_context(|| format!("subscriber {i}"))?;
        let bodies = futures::stream::unfold(socket, |mut socket| async move {
            let body = match socket.next().await {
                Ok(Some(Packet::Event { name, data })) if name == "message" => {
                    Ok(data.get("body").and_then(|b| b.as_str()).map(str::to_owned))
                }
                Ok(Some(_)) => Ok(None),
                Ok(None) => return None,
                Err(e) => Err(e),
            };
            Some((body, socket))
        });
        readers.push(time_deliveries(Box::pin(bodies), base, duration, expected.clone()));
    }

    let sender = Socket::connect(addr).await?.into_caller();
    let (started, sent) = send_at_rate(base, rate, duration, size, move |n, body| {
        let sender = sender.clone();
        async move {
            let request = serde_json::json!({ "room": ROOM, "body": body, "client_message_id": format!("b{n}") });
            sender.call("send", &request).await.map(|_| ())
        }
    })
    .await?;
    expected.store(sent, Ordering::Relaxed);
    gather(readers, sent, started).await
}

/// What one subscriber received: deliveries, their latencies, and when the last one came.
type Deliveries = tokio::task::JoinHandle<anyhow::Result<(u64, Histogram<u64>, Option<Instant>)>>;

/// A subscriber's events as the body of each text message delivered (`None` for other events).
type Bodies = Pin<Box<dyn Stream<Item = anyhow::Result<Option<String>>> + Send>>;

/// Times every message `bodies` delivers (its send time is in its body) until it has `expected` of them,
/// the stream ends, or sending is over and 60 s more have passed.
fn time_deliveries(mut bodies: Bodies, base: Instant, duration: Duration, expected: Arc<AtomicU64>) -> Deliveries {
    tokio::spawn(async move {
        let mut latency = Histogram::<u64>::new(3)?;
        let (mut got, mut last) = (0u64, None);
        while got < expected.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_secs(1), bodies.next()).await {
                Ok(Some(Ok(Some(body)))) => {
                    if let Some(sent) = sent_at(base, &body) {
                        let now = Instant::now();
                        latency.record(u64::try_from(now.duration_since(sent).as_micros()).unwrap_or(u64::MAX))?;
                        got += 1;
                        last = Some(now);
                    }
                }
                Ok(Some(Ok(None))) => {}
                Ok(None | Some(Err(_))) => break,
                // Quiet for a second: give up only once sending is over and the drain time has passed.
                Err(_)
                    if expected.load(Ordering::Relaxed) != u64::MAX
                        && base.elapsed() > duration + Duration::from_secs(60) =>
                {
                    break;
                }
                Err(_) => {}
            }
        }
        anyhow::Ok((got, latency, last))
    })
}

/// Sends one message per tick for `duration`, each on its own task (at most 256 in flight) so that a slow
/// ack does not slow the rate, and waits for every ack. Returns when sending started and how many sends
/// were acknowledged.
async fn send_at_rate<F, Fut>(
    base: Instant,
    rate: f64,
    duration: Duration,
    size: usize,
    send: F,
) -> anyhow::Result<(Instant, u64)>
where
    F: Fn(u64, String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let started = Instant::now();
    let mut sends = Vec::new();
    let mut n = 0u64;
    while started.elapsed() < duration {
        ticks.tick().await;
        let permit = in_flight.clone().acquire_owned().await?;
        let call = send(n, stamped(base, size));
        sends.push(tokio::spawn(async move {
            let _permit = permit;
            call.await
        }));
        n += 1;
    }
    let mut sent = 0;
    for s in sends {
        if s.await?.is_ok() {
            sent += 1;
        }
    }
    Ok((started, sent))
}

/// Adds up what every subscriber received.
async fn gather(readers: Vec<Deliveries>, sent: u64, started: Instant) -> anyhow::Result<Broadcast> {
    let mut latency = Histogram::<u64>::new(3)?;
    let (mut delivered, mut last) = (0, started);
    for r in readers {
        let (got, histogram, at) = r.await??;
        delivered += got;
        latency.add(histogram)?;
        if let Some(at) = at {
            last = last.max(at);
        }
    }
    Ok(Broadcast { sent, delivered, latency, elapsed: last.duration_since(started) })
}
