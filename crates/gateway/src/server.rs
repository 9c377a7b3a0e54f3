//! The server: every service on one port, for gRPC over HTTP/2 and grpc-web over HTTP/1.1 or HTTP/2.

use std::time::Duration;

use api::v1::auth_service_server::AuthServiceServer;
use api::v1::presence_service_server::PresenceServiceServer;
use api::v1::room_service_server::RoomServiceServer;
use http::header::HeaderName;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::app::{App, Error, TlsConfig};
use crate::health;
use crate::incoming::capped;
use crate::layer::{CallLayer, CallPolicy};
use crate::observe::ObserveLayer;
use crate::services::auth::AuthApi;
use crate::services::messages::MessagesApi;
use crate::services::presence::PresenceApi;
use crate::services::rooms::RoomsApi;
use crate::services::subscribe::MessageRoutes;
use crate::web::WebLayer;

/// How long a new connection may take to complete its TLS handshake. Without a limit, a client that opens
/// a connection and says nothing would hold one of the capped places for as long as it likes.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn cors() -> CorsLayer {
    // Browsers call from the web app's origin, which may differ from the API's. Credentials travel in the
    // authorization header, never in cookies, so any origin may call.
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(AllowHeaders::any())
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(24 * 3600))
}

/// tonic's TLS settings for `tls`. rustls then offers ALPN `h2` only (tonic's choice): gRPC and grpc-web over
/// HTTP/2. A client that offers ALPN without `h2` (an HTTP/1.1-only one) is refused in the handshake; one
/// that offers no ALPN at all may still speak HTTP/1.1 (see docs/BEHAVIOUR.md).
pub(crate) fn server_tls(tls: &TlsConfig) -> ServerTlsConfig {
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem)).timeout(TLS_HANDSHAKE_TIMEOUT);
    if let Some(ca) = &tls.client_ca_pem {
        config = config.client_ca_root(Certificate::from_pem(ca));
    }
    config
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, tells open streams to end,
/// and waits up to the configured grace period for calls in flight.
///
/// # Errors
/// [`Error::Serve`] when the server fails; [`Error::Reflection`] for a broken descriptor set.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health::set_all(&health, tonic_health::ServingStatus::Serving).await;
    {
        let (db, reporter, stopping) = (app.db.clone(), health.clone(), app.stopping.clone());
        let interval = app.config.health_check_interval;
        app.supervisor
            .spawn("health check", move || health::watch(db.clone(), reporter.clone(), interval, stopping.clone()));
    }
    if let Some(cluster) = app.cluster.clone() {
        let reporter = health.clone();
        app.supervisor.spawn("cluster health", move || crate::peers::watch(cluster.clone(), reporter.clone()));
    }

    // Each reflection service describes itself; each also gets the other's descriptors so that both list
    // everything. google.rpc's descriptors let grpcurl print BadRequest and RetryInfo details.
    let reflection = |other_reflection: &'static [u8]| {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(other_reflection)
    };
    let reflection_v1 = reflection(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET).build_v1()?;
    let reflection_v1alpha = reflection(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET).build_v1alpha()?;

    let limits = app.config.transport;
    let max = limits.max_request_bytes;
    let auth = AuthServiceServer::new(AuthApi { auth: app.auth.clone() }).max_decoding_message_size(max);
    let rooms = RoomServiceServer::new(RoomsApi { rooms: app.rooms.clone(), presence: app.presence.clone() })
        .max_decoding_message_size(max);
    let messages =
        MessageRoutes::new(MessagesApi { messaging: app.messaging.clone(), presence: app.presence.clone() }, max);
    let presence =
        PresenceServiceServer::new(PresenceApi { presence: app.presence.clone() }).max_decoding_message_size(max);

    let mut routes = Routes::builder();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(auth)
        .add_service(rooms)
        .add_service(messages)
        .add_service(presence);
    let routes = routes.routes();
    if let Some(dir) = &app.config.web_dir {
        tracing::info!(dir = %dir.display(), "serving the web app");
    }

    let policy = CallPolicy {
        auth: app.auth.clone(),
        rates: app.rates.clone(),
        trust_forwarded_for: app.config.trust_forwarded_for,
        request_timeout: limits.request_timeout,
        max_request_bytes: limits.max_request_bytes,
    };
    let mut builder = Server::builder()
        .accept_http1(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        .http2_max_local_error_reset_streams(Some(limits.max_local_error_resets))
        .http2_max_header_list_size(Some(limits.max_header_list_bytes));
    if let Some(tls) = &app.config.tls {
        builder = builder.tls_config(server_tls(tls))?;
    }
    let router = builder
        .layer(cors())
        .layer(WebLayer::new(app.config.web_dir.clone()))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(ObserveLayer::new(app.metrics.rpc()))
        .layer(CallLayer::new(policy))
        .add_routes(routes);

    let stopping = app.stopping.clone();
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; ending open streams");
            // Load balancers stop sending new work here.
            health::set_all(&health, tonic_health::ServingStatus::NotServing).await;
            stopping.cancel();
        }
    };
    let incoming = capped(listener, limits.max_connections, app.metrics.rpc());
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    let grace = app.config.shutdown_grace;
    let supervisor = app.supervisor.clone();
    tokio::select! {
        result = server => result?,
        () = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "calls still open after the grace period; stopping anyway");
        }
        task = supervisor.failed() => {
            stopping.cancel();
            return Err(Error::TaskFailed(task));
        }
    }
    Ok(())
}
