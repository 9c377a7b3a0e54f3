//! The web app: a directory of built files served at `/` to every request that is not gRPC or grpc-web.
//!
//! This layer sits outside the grpc-web layer because that one answers any HTTP/1.1 request that is not
//! grpc-web with 400, and browsers fetch pages over HTTP/1.1.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt as _};
use tower_http::services::{ServeDir, ServeFile};

/// Serves files from the directory, if one is configured; paths that name no file get `index.html` (the app
/// routes them itself).
#[derive(Debug, Clone)]
pub(crate) struct WebLayer {
    files: Option<ServeDir<ServeFile>>,
}

impl WebLayer {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Self { files: dir.map(|dir| ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html")))) }
    }
}

impl<S> Layer<S> for WebLayer {
    type Service = Web<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Web { inner, files: self.files.clone() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Web<S> {
    inner: S,
    files: Option<ServeDir<ServeFile>>,
}

/// Whether a request is for the API (gRPC or grpc-web), by its content type.
fn is_api<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<Request<Body>> for Web<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match &self.files {
            Some(files) if !is_api(&request) => {
                let files = files.clone();
                Box::pin(async move {
                    match files.oneshot(request).await {
                        Ok(response) => Ok(response.map(Body::new)),
                        Err(never) => match never {},
                    }
                })
            }
            _ => {
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move { inner.call(request).await })
            }
        }
    }
}
