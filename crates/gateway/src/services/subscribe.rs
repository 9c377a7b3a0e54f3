//! Subscribe, routed by hand so that each timeline entry is encoded once for every stream that delivers it.
//!
//! The generated `MessageServiceServer` would convert and encode every event per stream: with a thousand
//! subscribers to a room, a thousand conversions (ids formatted, strings copied) and a thousand encodings
//! of the same message. [`MessageRoutes`] serves the service's other methods through the generated server
//! and answers Subscribe itself, with a stream of [`Encoded`] messages: a live entry arrives as the same
//! `Arc` at every subscription, and its bytes are made by the first stream that sends it and kept in the
//! entry's [`types::WireCache`] for the others, so each further delivery only copies them into its
//! stream's buffer. Other events are rare and encoded per stream.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use api::codec::{Encoded, SmallBufferCodec};
use api::v1::SubscribeRequest;
use api::v1::message_service_server::MessageServiceServer;
use futures::Stream;
use messaging::StreamEvent;
use tonic::body::Body;
use tonic::codegen::BoxFuture;
use tonic::server::{Grpc, NamedService, ServerStreamingService};
use tonic::{Request, Response, Status};

use super::messages::{EventStream, MessagesApi};
use crate::convert;

/// `chat.v1.MessageService` with Subscribe served by [`subscribe`](self).
#[derive(Clone)]
pub(crate) struct MessageRoutes {
    generated: MessageServiceServer<MessagesApi>,
    api: Arc<MessagesApi>,
    max_request_bytes: usize,
}

impl MessageRoutes {
    pub(crate) fn new(api: MessagesApi, max_request_bytes: usize) -> Self {
        let api = Arc::new(api);
        let generated = MessageServiceServer::from_arc(api.clone()).max_decoding_message_size(max_request_bytes);
        Self { generated, api, max_request_bytes }
    }
}

impl NamedService for MessageRoutes {
    const NAME: &'static str = <MessageServiceServer<MessagesApi> as NamedService>::NAME;
}

fn is_subscribe(path: &str) -> bool {
    path.strip_prefix('/').and_then(|p| p.strip_prefix(MessageRoutes::NAME)) == Some("/Subscribe")
}

impl tower::Service<http::Request<Body>> for MessageRoutes {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if !is_subscribe(request.uri().path()) {
            return self.generated.call(request);
        }
        let (api, max) = (self.api.clone(), self.max_request_bytes);
        Box::pin(async move {
            let codec = SmallBufferCodec::<Encoded, SubscribeRequest>::default();
            let mut grpc = Grpc::new(codec).apply_max_message_size_config(Some(max), None);
            Ok(grpc.server_streaming(Subscribe(api), request).await)
        })
    }
}

struct Subscribe(Arc<MessagesApi>);

impl ServerStreamingService<SubscribeRequest> for Subscribe {
    type Response = Encoded;
    type ResponseStream = EncodedStream;
    type Future = BoxFuture<Response<EncodedStream>, Status>;

    fn call(&mut self, request: Request<SubscribeRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { Ok(Response::new(EncodedStream(api.open(request).await?))) })
    }
}

/// A subscription's events as sent.
pub(crate) struct EncodedStream(EventStream);

impl Stream for EncodedStream {
    type Item = Result<Encoded, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|item| item.map(|event| event.map(encode)))
    }
}

/// An event's bytes: a timeline entry's made once and shared (see the module's documentation).
pub(crate) fn encode(event: StreamEvent) -> Encoded {
    match event {
        StreamEvent::Entry(entry) => {
            let shared = entry.clone();
            Encoded(entry.wire.get_or_init(|| Encoded::of(&convert::stream_event(StreamEvent::Entry(shared))).0))
        }
        other => Encoded::of(&convert::stream_event(other)),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn only_subscribe_is_routed_here() {
        assert!(is_subscribe("/chat.v1.MessageService/Subscribe"));
        assert!(!is_subscribe("/chat.v1.MessageService/SendMessage"));
        assert!(!is_subscribe("/chat.v1.MessageService/SubscribeX"));
        assert!(!is_subscribe("/chat.v1.RoomService/Subscribe"));
    }

    #[test]
    fn an_entry_is_encoded_once_and_reads_as_the_converted_event() {
        let entry = Arc::new(types::Entry {
            id: types::EntryId::new(),
            room_id: types::RoomId::new(),
            seq: 42,
            kind: types::EntryKind::Text,
            sender_id: types::UserId::new(),
            sender_username: "alice".into(),
            sender_display_name: "Alice".into(),
            subject: None,
            body: "hello, everyone".into(),
            client_message_id: Some("c-1".into()),
            created_at: types::Millis(1_700_000_000_000),
            message: types::MessageState::default(),
            target_seq: None,
            reaction: None,
            wire: types::WireCache::default(),
        });
        let first = encode(StreamEvent::Entry(entry.clone()));
        let second = encode(StreamEvent::Entry(entry.clone()));
        // The second stream got the first one's bytes, not a copy.
        assert_eq!(first.0.as_ptr(), second.0.as_ptr());
        let expected = convert::stream_event(StreamEvent::Entry(entry));
        assert_eq!(api::v1::SubscribeResponse::decode(first.0), Ok(expected));
    }
}
