//! The server: every service on one port, for gRPC over HTTP/2 and grpc-web over HTTP/1.1 or HTTP/2.

use std::time::Duration;

use api::v1::auth_service_server::AuthServiceServer;
use api::v1::message_service_server::MessageServiceServer;
use api::v1::presence_service_server::PresenceServiceServer;
use api::v1::room_service_server::RoomServiceServer;
use http::header::HeaderName;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::app::{App, Error};
use crate::layer::AuthLayer;
use crate::services::auth::AuthApi;
use crate::services::messages::MessagesApi;
use crate::services::presence::PresenceApi;
use crate::services::rooms::RoomsApi;
use crate::web::WebLayer;

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
    health.set_serving::<AuthServiceServer<AuthApi>>().await;
    health.set_serving::<RoomServiceServer<RoomsApi>>().await;
    health.set_serving::<MessageServiceServer<MessagesApi>>().await;
    health.set_serving::<PresenceServiceServer<PresenceApi>>().await;

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

    let auth = AuthApi { auth: app.auth.clone(), trust_forwarded_for: app.config.trust_forwarded_for };
    let rooms = RoomsApi { rooms: app.rooms.clone(), presence: app.presence.clone() };
    let messages = MessagesApi { messaging: app.messaging.clone(), presence: app.presence.clone() };
    let presence = PresenceApi { presence: app.presence.clone() };

    let mut routes = Routes::builder();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(AuthServiceServer::new(auth))
        .add_service(RoomServiceServer::new(rooms))
        .add_service(MessageServiceServer::new(messages))
        .add_service(PresenceServiceServer::new(presence));
    let routes = routes.routes();
    if let Some(dir) = &app.config.web_dir {
        tracing::info!(dir = %dir.display(), "serving the web app");
    }

    let router = Server::builder()
        .accept_http1(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(cors())
        .layer(WebLayer::new(app.config.web_dir.clone()))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(AuthLayer::new(app.auth.clone()))
        .add_routes(routes);

    let stopping = app.stopping.clone();
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; ending open streams");
            // Load balancers stop sending new work here.
            health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
            health.set_not_serving::<AuthServiceServer<AuthApi>>().await;
            health.set_not_serving::<RoomServiceServer<RoomsApi>>().await;
            health.set_not_serving::<MessageServiceServer<MessagesApi>>().await;
            health.set_not_serving::<PresenceServiceServer<PresenceApi>>().await;
            stopping.cancel();
        }
    };
    // Serving from a listener ignores the builder's TCP settings: set them on the accepted sockets here.
    // Without TCP_NODELAY, small responses wait for the client's delayed ACK (tens of milliseconds).
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(Some(Duration::from_secs(60)));
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    let grace = app.config.shutdown_grace;
    tokio::select! {
        result = server => result?,
        () = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "calls still open after the grace period; stopping anyway");
        }
    }
    Ok(())
}
