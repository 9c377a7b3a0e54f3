//! The tower layer in front of every RPC. For each call it:
//! - opens the request's tracing span;
//! - works out the client's address ([`ClientAddress`], from the connection or, behind a trusted proxy, from
//!   `x-forwarded-for`) and stores it in the request's extensions;
//! - for every `chat.v1` method except Register, Login and RefreshToken, resolves `authorization: Bearer …`
//!   into an [`auth::Identity`] stored in the request's extensions;
//! - applies the request rate limits (per user, or per address before signing in);
//! - gives unary calls a deadline;
//! - refuses a request whose message is over the size limit as soon as its length prefix arrives, with a
//!   reason like every other status (tonic's own check, behind it, would answer without one).
//!
//! A request refused here never reaches a service. **Invariant:** services read the caller only through
//! [`caller`], which fails closed if the layer did not run.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use auth::{Auth, Identity};
use limits::{Kind, RateLimits, Subject};
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};
use tracing::Instrument as _;
use types::{DomainError, ErrorCode, Reason};

use crate::status::status;

/// Methods anyone may call.
const PUBLIC: [&str; 3] =
    ["/chat.v1.AuthService/Register", "/chat.v1.AuthService/Login", "/chat.v1.AuthService/RefreshToken"];

/// Methods whose response is a stream (no deadline: they last as long as the client wants).
const STREAMING: [&str; 1] = ["/chat.v1.MessageService/Subscribe"];

fn needs_identity(path: &str) -> bool {
    path.starts_with("/chat.v1.") && !PUBLIC.contains(&path)
}

/// The rate limit that applies to a method, if any.
fn rate_kind(path: &str) -> Option<Kind> {
    Some(match path {
        "/chat.v1.MessageService/SendMessage"
        | "/chat.v1.MessageService/EditMessage"
        | "/chat.v1.MessageService/DeleteMessage"
        | "/chat.v1.MessageService/AddReaction"
        | "/chat.v1.MessageService/RemoveReaction" => Kind::Send,
        "/chat.v1.MessageService/SetTyping" => Kind::Typing,
        "/chat.v1.RoomService/CreateRoom" => Kind::CreateRoom,
        "/chat.v1.RoomService/InviteMember" => Kind::Invite,
        "/chat.v1.RoomService/GetDirectRoom" => Kind::DirectRoom,
        "/chat.v1.AuthService/Register" => Kind::Register,
        "/chat.v1.AuthService/Login" => Kind::Login,
        "/chat.v1.MessageService/MarkRead" => Kind::MarkRead,
        "/chat.v1.MessageService/SearchMessages" => Kind::Search,
        _ => return None,
    })
}

/// The client's address, as the layer worked it out (in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

/// The client's address: the last `x-forwarded-for` entry when the proxy in front is trusted (it appends
/// the address it saw), else the connection's peer.
fn client_address(request: &http::Request<Body>, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    let peer = request.extensions().get::<TcpConnectInfo>().and_then(TcpConnectInfo::remote_addr).or_else(|| {
        type Tls = tonic::transport::server::TlsConnectInfo<TcpConnectInfo>;
        request.extensions().get::<Tls>().and_then(|tls| tls.get_ref().remote_addr())
    });
    peer.as_ref().map(SocketAddr::ip)
}

/// The caller of an authenticated RPC.
///
/// # Errors
/// UNAUTHENTICATED if the auth layer did not resolve one (a method wired wrongly).
pub(crate) fn caller<T>(request: &tonic::Request<T>) -> Result<Identity, tonic::Status> {
    request.extensions().get::<Identity>().copied().ok_or_else(|| {
        tracing::error!("authenticated method reached without an identity");
        status(&auth::Error::MissingCredentials)
    })
}

/// How the layer treats calls.
#[derive(Debug, Clone)]
pub(crate) struct CallPolicy {
    pub(crate) auth: Arc<Auth>,
    pub(crate) rates: Arc<RateLimits>,
    pub(crate) trust_forwarded_for: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) max_request_bytes: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct CallLayer {
    policy: Arc<CallPolicy>,
}

impl CallLayer {
    pub(crate) fn new(policy: CallPolicy) -> Self {
        Self { policy: Arc::new(policy) }
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = Calls<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Calls { inner, policy: self.policy.clone() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Calls<S> {
    inner: S,
    policy: Arc<CallPolicy>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A call that took longer than the server allows.
#[derive(Debug, thiserror::Error)]
#[error("the call took longer than {0:?}")]
struct TimedOut(Duration);

impl DomainError for TimedOut {
    fn code(&self) -> ErrorCode {
        ErrorCode::DeadlineExceeded
    }

    fn reason(&self) -> Reason {
        Reason::Timeout
    }
}

/// A request message over the size limit.
#[derive(Debug, thiserror::Error)]
#[error("the request is larger than the server accepts")]
struct TooLarge;

impl DomainError for TooLarge {
    fn code(&self) -> ErrorCode {
        ErrorCode::ResourceExhausted
    }

    fn reason(&self) -> Reason {
        Reason::RequestTooLarge
    }
}

/// The length the request's first gRPC message declares (its 5-byte prefix: a compression flag and a
/// big-endian length), read from the front of the body, and the body again, still whole.
async fn first_message_length(mut body: Body) -> (Option<u32>, Body) {
    use http_body_util::BodyExt as _;
    let mut head = bytes::BytesMut::new();
    let mut held = None;
    while head.len() < 5 {
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => head.extend_from_slice(&data),
                Err(trailers) => {
                    held = Some(Ok(trailers));
                    break;
                }
            },
            Some(Err(e)) => {
                held = Some(Err(e));
                break;
            }
            None => break,
        }
    }
    let length = (head.len() >= 5).then(|| u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
    let front = (!head.is_empty()).then(|| Ok(http_body::Frame::data(head.freeze())));
    let frames = futures::StreamExt::chain(
        futures::stream::iter(front.into_iter().chain(held)),
        http_body_util::BodyStream::new(body),
    );
    (length, Body::new(http_body_util::StreamBody::new(frames)))
}

impl<S> Service<http::Request<Body>> for Calls<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The service that was polled ready is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            method = %path,
            user_id = tracing::field::Empty,
            room_id = tracing::field::Empty,
        );
        Box::pin(
            async move {
                let address = client_address(&request, policy.trust_forwarded_for);
                request.extensions_mut().insert(ClientAddress(address));
                let mut subject = address.map(Subject::Address);
                if needs_identity(&path) {
                    let header = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                    match policy.auth.authenticate(header).await {
                        Ok(identity) => {
                            tracing::Span::current().record("user_id", tracing::field::display(identity.user_id));
                            request.extensions_mut().insert(identity);
                            subject = Some(Subject::User(identity.user_id));
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "unauthenticated");
                            return Ok(status(&e).into_http());
                        }
                    }
                }
                if path.starts_with("/chat.v1.") {
                    let (parts, body) = request.into_parts();
                    let (length, body) = first_message_length(body).await;
                    if length.is_some_and(|n| usize::try_from(n).map_or(true, |n| n > policy.max_request_bytes)) {
                        return Ok(status(&TooLarge).into_http());
                    }
                    request = http::Request::from_parts(parts, body);
                }
                if let (Some(kind), Some(subject)) = (rate_kind(&path), subject)
                    && let Err(e) = policy.rates.check(kind, subject)
                {
                    tracing::info!(?subject, ?kind, "rate limited");
                    return Ok(status(&e).into_http());
                }
                let response = if STREAMING.contains(&path.as_str()) {
                    inner.call(request).await?
                } else {
                    match tokio::time::timeout(policy.request_timeout, inner.call(request)).await {
                        Ok(response) => response?,
                        Err(_) => return Ok(status(&TimedOut(policy.request_timeout)).into_http()),
                    }
                };
                Ok(response)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chat_methods_other_than_sign_in_need_identity() {
        assert!(needs_identity("/chat.v1.RoomService/CreateRoom"));
        assert!(needs_identity("/chat.v1.AuthService/Logout"));
        assert!(needs_identity("/chat.v1.AuthService/GetMe"));
        assert!(!needs_identity("/chat.v1.AuthService/Login"));
        assert!(!needs_identity("/grpc.health.v1.Health/Check"));
        assert!(!needs_identity("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
        assert!(!needs_identity("/index.html"));
    }

    #[test]
    fn the_last_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let mut request = http::Request::new(Body::empty());
        request.headers_mut().insert("x-forwarded-for", http::HeaderValue::from_static("1.2.3.4, 10.0.0.9"));
        assert_eq!(client_address(&request, true), Some(IpAddr::from([10, 0, 0, 9])));
        assert_eq!(client_address(&request, false), None, "no connection info in this request");
    }
}
