//! The references measured beside Parley in every run.
//!
//! - A bare tonic server-streaming broadcast: the same `chat.v1.MessageService` API, no auth, no database,
//!   one tokio broadcast channel; lagging subscribers just lose messages. It runs as a separate process
//!   (`parley-bench reference-server`), as parleyd does, and the same client load drives both.
//! - A bare argon2 verification loop, for logins.
//! - (In `storage::bench`) a bare insert loop, and the history SQL run directly.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api::v1::message_service_server::{MessageService, MessageServiceServer};
use api::v1::subscribe_response::Event;
use api::v1::*;
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use futures::Stream;
use tokio::sync::broadcast;
use tonic::{Request, Response, Status};

struct Broadcast {
    next: AtomicI64,
    sender: broadcast::Sender<Arc<Message>>,
}

fn now() -> prost_types::Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(0),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MessageService for Broadcast {
    async fn send_message(
        &self,
        request: Request<SendMessageRequest>,
    ) -> Result<Response<SendMessageResponse>, Status> {
        let r = request.into_inner();
        let message = Message {
            id: uuid::Uuid::now_v7().to_string(),
            room_id: r.room_id,
            seq: self.next.fetch_add(1, Ordering::Relaxed) + 1,
            body: r.body,
            client_message_id: r.client_message_id,
            created_at: Some(now()),
            kind: MessageKind::Text.into(),
            ..Message::default()
        };
        let _ = self.sender.send(Arc::new(message.clone()));
        Ok(Response::new(SendMessageResponse { message: Some(message) }))
    }

    async fn list_messages(&self, _: Request<ListMessagesRequest>) -> Result<Response<ListMessagesResponse>, Status> {
        // The reference keeps no history.
        Ok(Response::new(ListMessagesResponse { messages: Vec::new(), has_more: false }))
    }

    async fn get_message(&self, _: Request<GetMessageRequest>) -> Result<Response<GetMessageResponse>, Status> {
        Err(Status::unimplemented("the reference keeps no history"))
    }

    async fn edit_message(&self, _: Request<EditMessageRequest>) -> Result<Response<EditMessageResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    async fn delete_message(
        &self,
        _: Request<DeleteMessageRequest>,
    ) -> Result<Response<DeleteMessageResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    async fn add_reaction(&self, _: Request<AddReactionRequest>) -> Result<Response<AddReactionResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    async fn remove_reaction(
        &self,
        _: Request<RemoveReactionRequest>,
    ) -> Result<Response<RemoveReactionResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    async fn set_typing(&self, _: Request<SetTypingRequest>) -> Result<Response<SetTypingResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    async fn mark_read(&self, _: Request<MarkReadRequest>) -> Result<Response<MarkReadResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    async fn search_messages(
        &self,
        _: Request<SearchMessagesRequest>,
    ) -> Result<Response<SearchMessagesResponse>, Status> {
        Err(Status::unimplemented("the reference only relays new messages"))
    }

    type SubscribeStream = Events;

    async fn subscribe(&self, request: Request<SubscribeRequest>) -> Result<Response<Events>, Status> {
        let rooms = request.into_inner().rooms;
        let ready = SubscribeResponse { event: Some(Event::Ready(SubscriptionReady { rooms })) };
        let live = futures::stream::unfold(self.sender.subscribe(), |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(m) => {
                        return Some((Ok(SubscribeResponse { event: Some(Event::Message((*m).clone())) }), receiver));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Response::new(Box::pin(futures::stream::once(async { Ok(ready) }).chain(live))))
    }
}

use futures::StreamExt as _;

/// Runs the reference broadcast server until killed, announcing its address on stderr as parleyd does.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    eprintln!("{}", serde_json::json!({ "message": "reference server listening", "address": address.to_string() }));
    let service = Broadcast { next: AtomicI64::new(0), sender: broadcast::channel(1024).0 };
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(MessageServiceServer::new(service))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// Password verifications per second with the server's argon2 parameters, `concurrency` at a time, for
/// `duration`.
pub async fn argon2_loop(concurrency: usize, duration: Duration) -> anyhow::Result<f64> {
    let hash = Argon2::default().hash_password(b"benchmark password").map_err(|e| anyhow::anyhow!("{e}"))?.to_string();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let hash = hash.clone();
        workers.push(tokio::task::spawn_blocking(move || {
            let mut n = 0u64;
            while started.elapsed() < duration {
                let ok = Argon2::default().verify_password(b"benchmark password", hash.as_str()).is_ok();
                n += u64::from(ok);
            }
            n
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
