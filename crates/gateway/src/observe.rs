//! The tower layer that measures every gRPC call: how long it took to answer and with which status code,
//! and, for calls a limit refused, which limit (the `google.rpc.ErrorInfo` reason).
//!
//! It sits inside the grpc-web layer (so browsers' calls count like any other) and outside the call layer
//! (so that refusals made there, before a service runs, count too). A unary call is timed to its answer; a
//! Subscribe stream to the moment it is opened or refused (its messages are counted by messaging).
//!
//! The method label comes from a fixed list, every method of the services this server serves (read from
//! their descriptors at start), so a client cannot grow the number of series by calling made-up paths:
//! those count as `unknown`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use prost::Message as _;
use tonic::Code;
use tonic::body::Body;
use tonic_types::StatusExt as _;
use tower::{Layer, Service};
use types::Reason;

/// The gRPC methods of the descriptor sets `sets`, as the paths they are called by (`/package.Service/Method`).
fn method_paths(sets: &[&[u8]]) -> Vec<String> {
    let mut paths = Vec::new();
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
            tracing::error!("an embedded descriptor set does not decode; its methods count as unknown");
            continue;
        };
        for file in set.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let service_name = service.name.unwrap_or_default();
                for method in service.method {
                    paths.push(format!("/{package}.{service_name}/{}", method.name.unwrap_or_default()));
                }
            }
        }
    }
    paths
}

/// The method labels: one shared string per known path.
#[derive(Debug)]
struct Methods {
    known: HashMap<String, Arc<str>>,
    unknown: Arc<str>,
}

impl Methods {
    fn served() -> Self {
        let sets = [
            api::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let known = method_paths(&sets).into_iter().map(|path| (path.clone(), Arc::from(path))).collect();
        Self { known, unknown: Arc::from("unknown") }
    }

    fn label(&self, path: &str) -> &Arc<str> {
        self.known.get(path).unwrap_or(&self.unknown)
    }
}

/// The canonical name of a gRPC status code, as gRPC's own libraries and dashboards spell it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The status a response carries at its start: a refusal (trailers-only, with the `Status` that made it
/// in the response's extensions, or at least its `grpc-status` header), else OK so far.
fn answered(response: &http::Response<Body>) -> (Code, Option<&tonic::Status>) {
    if let Some(status) = response.extensions().get::<tonic::Status>() {
        return (status.code(), Some(status));
    }
    let code = response.headers().get("grpc-status").map_or(Code::Ok, |v| Code::from_bytes(v.as_bytes()));
    (code, None)
}

/// The limit that refused a call, as its ErrorInfo reason, if a limit did.
fn limit_reason(code: Code, status: Option<&tonic::Status>) -> Option<&'static str> {
    if !matches!(code, Code::ResourceExhausted | Code::DeadlineExceeded) {
        return None;
    }
    let reason = status?.get_details_error_info()?.reason;
    Reason::ALL.iter().map(|r| r.as_str()).find(|r| *r == reason)
}

#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    metrics: metrics::Rpc,
    methods: Arc<Methods>,
}

impl ObserveLayer {
    pub(crate) fn new(metrics: metrics::Rpc) -> Self {
        Self { metrics, methods: Arc::new(Methods::served()) }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observed { inner, layer: self.clone() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Observed<S> {
    inner: S,
    layer: ObserveLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<Body>> for Observed<S>
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

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service that was polled ready is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let method = self.layer.methods.label(request.uri().path()).clone();
        let metrics = self.layer.metrics.clone();
        let started = Instant::now();
        Box::pin(async move {
            let response = inner.call(request).await?;
            let (code, status) = answered(&response);
            metrics.call(&method, code_name(code), started.elapsed());
            if let Some(reason) = limit_reason(code, status) {
                metrics.rejected(&method, reason);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_method_has_its_own_label_and_others_share_one() {
        let methods = Methods::served();
        assert_eq!(&**methods.label("/chat.v1.MessageService/SendMessage"), "/chat.v1.MessageService/SendMessage");
        assert_eq!(&**methods.label("/grpc.health.v1.Health/Check"), "/grpc.health.v1.Health/Check");
        assert_eq!(&**methods.label("/chat.v1.MessageService/Nonsense"), "unknown");
        assert!(methods.known.len() > 20, "{} methods", methods.known.len());
    }

    #[test]
    fn a_refusal_by_a_limit_is_told_by_its_reason() {
        let refused = crate::status::status(&limits::Error::TooManyStreams(16));
        let response: http::Response<Body> = refused.into_http();
        let (code, status) = answered(&response);
        assert_eq!(code, Code::ResourceExhausted);
        assert_eq!(limit_reason(code, status), Some("LIMIT_REACHED"));
        let other: http::Response<Body> = crate::status::status(&auth::Error::TokenExpired).into_http();
        let (code, status) = answered(&other);
        assert_eq!((code_name(code), limit_reason(code, status)), ("Unauthenticated", None));
    }
}
