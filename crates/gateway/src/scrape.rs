//! The metrics endpoint: `GET /metrics` on its own address (`--metrics-listen`), over HTTP/1.1, answering
//! the node's metrics in the OpenMetrics text format that Prometheus scrapes.
//!
//! It is a separate port from the API so that it can be bound to a private address, and it serves nothing
//! else: every other path is 404, every other method 405. It asks for no credentials, so bind it where only
//! the monitoring system reaches. Connections are few (one scraper, every few seconds), capped at
//! [`MAX_CONNECTIONS`] and given [`HEADER_TIMEOUT`] to send their request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::App;

/// Scrapers connected at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take to send a request's headers before it is closed.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn respond(metrics: &metrics::Metrics, request: &http::Request<hyper::body::Incoming>) -> http::Response<Full<Bytes>> {
    let plain = |status: http::StatusCode, text: &'static str| {
        let mut response = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *response.status_mut() = status;
        response
    };
    if request.uri().path() != "/metrics" {
        return plain(http::StatusCode::NOT_FOUND, "not found: the metrics are at /metrics\n");
    }
    if !matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
        return plain(http::StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
    }
    let mut response = http::Response::new(Full::new(Bytes::from(metrics.render())));
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(metrics::CONTENT_TYPE));
    response
}

/// Serves the node's metrics on `listener` until the node stops, as one of its supervised tasks.
pub fn serve_metrics(app: &App, listener: TcpListener) {
    let listener = Arc::new(listener);
    let (metrics, stopping) = (app.metrics.clone(), app.stopping.clone());
    app.supervisor.spawn("metrics endpoint", move || {
        let (listener, metrics, stopping) = (listener.clone(), metrics.clone(), stopping.clone());
        async move {
            let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
            loop {
                let Ok(place) = places.clone().acquire_owned().await else { return };
                let accepted = tokio::select! {
                    () = stopping.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: wait a little rather than spin.
                        tracing::warn!(error = %e, "the metrics endpoint cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (metrics, stopping) = (metrics.clone(), stopping.clone());
                // A connection is short and bounded by the header timeout and the node's stop: not a
                // long-lived task for the supervisor.
                tokio::spawn(async move {
                    let _place = place;
                    let service = hyper::service::service_fn(move |request| {
                        let response = respond(&metrics, &request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        () = stopping.cancelled() => {}
                        served = connection => if let Err(e) = served {
                            tracing::debug!(error = %e, "a metrics connection failed");
                        }
                    }
                });
            }
        }
    });
}
