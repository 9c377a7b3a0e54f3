//! The tower layer in front of every RPC: opens the request's tracing span and, for every `chat.v1` method
//! except Register, Login and RefreshToken, resolves `authorization: Bearer …` into an [`auth::Identity`]
//! stored in the request's extensions. A request whose credentials fail never reaches a service.
//!
//! **Invariant:** services read the caller only through [`caller`], which fails closed if the layer did not
//! run.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth::{Auth, Identity};
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::status::status;

/// Methods anyone may call.
const PUBLIC: [&str; 3] =
    ["/chat.v1.AuthService/Register", "/chat.v1.AuthService/Login", "/chat.v1.AuthService/RefreshToken"];

fn needs_identity(path: &str) -> bool {
    path.starts_with("/chat.v1.") && !PUBLIC.contains(&path)
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

#[derive(Debug, Clone)]
pub(crate) struct AuthLayer {
    auth: Arc<Auth>,
}

impl AuthLayer {
    pub(crate) fn new(auth: Arc<Auth>) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, auth: self.auth.clone() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Authenticate<S> {
    inner: S,
    auth: Arc<Auth>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<Body>> for Authenticate<S>
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
        let auth = self.auth.clone();
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            method = %path,
            user_id = tracing::field::Empty,
            room_id = tracing::field::Empty,
        );
        Box::pin(
            async move {
                if needs_identity(&path) {
                    let header = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                    match auth.authenticate(header).await {
                        Ok(identity) => {
                            tracing::Span::current().record("user_id", tracing::field::display(identity.user_id));
                            request.extensions_mut().insert(identity);
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "unauthenticated");
                            return Ok(status(&e).into_http());
                        }
                    }
                }
                inner.call(request).await
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
}
