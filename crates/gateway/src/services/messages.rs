//! `chat.v1.MessageService`.

use std::pin::Pin;
use std::task::{Context, Poll};

use api::v1::message_service_server::MessageService;
use api::v1::*;
use futures::Stream;
use messaging::{Messaging, Subscription};
use presence::{Connection, Presence};
use tonic::{Request, Response, Status};
use types::Violations;

use crate::convert::{self, room_id};
use crate::layer::caller;
use crate::status::status;

#[derive(Debug)]
pub(crate) struct MessagesApi {
    pub(crate) messaging: Messaging,
    pub(crate) presence: Presence,
}

/// A subscription as a gRPC response stream, before encoding. Holds the subscriber's presence
/// connection, so the user is online exactly as long as the stream is open.
pub(crate) struct EventStream {
    subscription: Subscription,
    _online: Connection,
}

impl Stream for EventStream {
    type Item = Result<messaging::StreamEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.subscription).poll_next(cx).map(|item| item.map(|event| event.map_err(|e| status(&e))))
    }
}

/// The generated server's stream type: each event converted for its stream alone. Served only where the
/// generated `MessageServiceServer` is mounted by itself; parleyd routes Subscribe to
/// [`super::subscribe`], which encodes each entry once for all streams.
pub(crate) struct ConvertedStream(EventStream);

impl Stream for ConvertedStream {
    type Item = Result<SubscribeResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|item| item.map(|event| event.map(convert::stream_event)))
    }
}

impl MessagesApi {
    /// Opens the caller's subscription (the work of Subscribe before anything is sent).
    pub(crate) async fn open(&self, request: Request<SubscribeRequest>) -> Result<EventStream, Status> {
        let who = caller(&request)?;
        let request = request.into_inner();
        let cursors = request
            .rooms
            .iter()
            .map(|c| Ok((room_id("rooms.room_id", &c.room_id)?, c.after_seq)))
            .collect::<Result<Vec<_>, Status>>()?;
        let subscription =
            self.messaging.subscribe(who, cursors, request.follow_joins).await.map_err(|e| status(&e))?;
        let online = self.presence.connect(who.user_id);
        Ok(EventStream { subscription, _online: online })
    }
}

#[tonic::async_trait]
impl MessageService for MessagesApi {
    async fn send_message(
        &self,
        request: Request<SendMessageRequest>,
    ) -> Result<Response<SendMessageResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let reply_to = (r.reply_to_seq != 0).then_some(r.reply_to_seq);
        let entry =
            self.messaging.send(who, room, &r.body, &r.client_message_id, reply_to).await.map_err(|e| status(&e))?;
        Ok(Response::new(SendMessageResponse { message: Some(convert::message(&entry)) }))
    }

    async fn get_message(&self, request: Request<GetMessageRequest>) -> Result<Response<GetMessageResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let entry = self.messaging.get(who, room, r.seq).await.map_err(|e| status(&e))?;
        Ok(Response::new(GetMessageResponse { message: Some(convert::message(&entry)) }))
    }

    async fn edit_message(
        &self,
        request: Request<EditMessageRequest>,
    ) -> Result<Response<EditMessageResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let client_id = (!r.client_message_id.is_empty()).then_some(r.client_message_id.as_str());
        let entry = self.messaging.edit(who, room, r.seq, &r.body, client_id).await.map_err(|e| status(&e))?;
        Ok(Response::new(EditMessageResponse { message: Some(convert::message(&entry)) }))
    }

    async fn delete_message(
        &self,
        request: Request<DeleteMessageRequest>,
    ) -> Result<Response<DeleteMessageResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        self.messaging.delete(who, room, r.seq).await.map_err(|e| status(&e))?;
        Ok(Response::new(DeleteMessageResponse {}))
    }

    async fn add_reaction(
        &self,
        request: Request<AddReactionRequest>,
    ) -> Result<Response<AddReactionResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        self.messaging.react(who, room, r.seq, &r.emoji, true).await.map_err(|e| status(&e))?;
        Ok(Response::new(AddReactionResponse {}))
    }

    async fn remove_reaction(
        &self,
        request: Request<RemoveReactionRequest>,
    ) -> Result<Response<RemoveReactionResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        self.messaging.react(who, room, r.seq, &r.emoji, false).await.map_err(|e| status(&e))?;
        Ok(Response::new(RemoveReactionResponse {}))
    }

    async fn set_typing(&self, request: Request<SetTypingRequest>) -> Result<Response<SetTypingResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        self.messaging.set_typing(who, room, r.typing).await.map_err(|e| status(&e))?;
        Ok(Response::new(SetTypingResponse {}))
    }

    async fn mark_read(&self, request: Request<MarkReadRequest>) -> Result<Response<MarkReadResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let last_read_seq = self.messaging.mark_read(who, room, r.seq).await.map_err(|e| status(&e))?;
        Ok(Response::new(MarkReadResponse { last_read_seq }))
    }

    async fn search_messages(
        &self,
        request: Request<SearchMessagesRequest>,
    ) -> Result<Response<SearchMessagesResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = if r.room_id.is_empty() { None } else { Some(room_id("room_id", &r.room_id)?) };
        let size = convert::page_size("page_size", r.page_size).map_err(|v| status(&Violations::from(v)))?;
        let (found, next) =
            self.messaging.search(who, &r.query, room, size, &r.page_token).await.map_err(|e| status(&e))?;
        Ok(Response::new(SearchMessagesResponse {
            results: found.iter().map(|e| SearchResult { message: Some(convert::message(e)) }).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn list_messages(
        &self,
        request: Request<ListMessagesRequest>,
    ) -> Result<Response<ListMessagesResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let (page, size) = convert::timeline_page(r.before_seq, r.after_seq, r.limit).map_err(|v| status(&v))?;
        let (entries, has_more) = self.messaging.history(who, room, page, size).await.map_err(|e| status(&e))?;
        Ok(Response::new(ListMessagesResponse { messages: entries.iter().map(convert::message).collect(), has_more }))
    }

    type SubscribeStream = ConvertedStream;

    async fn subscribe(&self, request: Request<SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        Ok(Response::new(ConvertedStream(self.open(request).await?)))
    }
}
