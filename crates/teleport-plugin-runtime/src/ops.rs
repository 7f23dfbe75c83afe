//! The operations endpoint: `/healthz`, `/readyz` and `/metrics`.
//!
//! It is served by the same bounded listener as the webhooks ([`InboundListener`]), with
//! tighter limits: the endpoint is often reachable from a whole cluster network, and a
//! probe or a scrape needs no body, a second at most and a handful of connections, so a
//! misbehaving client cannot hold memory, descriptors or tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::inbound::{HttpConfig, InboundListener, ListenerError, ListenerOptions};
use crate::metrics::Metrics;

/// `[ops]`: where to serve health and metrics (ours; the Go plugins have none).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// `listen_addr = "0.0.0.0:8080"`; unset = not served.
    #[serde(default)]
    pub listen_addr: Option<SocketAddr>,
}

/// Readiness shared between the watcher and the endpoint.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks ready (watch established) or not (reconnecting).
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    /// Whether ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct OpsState {
    readiness: Readiness,
    metrics: Metrics,
}

/// The limits of the ops listener.
pub fn ops_listener_options() -> ListenerOptions {
    ListenerOptions {
        // GET endpoints: any body is refused before it is read.
        body_limit: 1024,
        deadline: Duration::from_secs(5),
        // Probes and scrapers hold a few at a time; more wait to be accepted.
        max_connections: 32,
        // Covers a client that connects and sends nothing (or its headers slowly).
        handshake_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(1),
        max_connection_age: Duration::from_secs(60),
    }
}

/// Binds the endpoint; serving starts with [`OpsServer::serve`].
pub struct OpsServer {
    listener: InboundListener,
}

impl OpsServer {
    /// Binds `addr` with [`ops_listener_options`].
    pub async fn bind(
        addr: SocketAddr,
        readiness: Readiness,
        metrics: Metrics,
    ) -> Result<Self, ListenerError> {
        Self::bind_with(addr, readiness, metrics, ops_listener_options()).await
    }

    /// Binds `addr` with the given limits (tests shorten them).
    pub async fn bind_with(
        addr: SocketAddr,
        readiness: Readiness,
        metrics: Metrics,
        options: ListenerOptions,
    ) -> Result<Self, ListenerError> {
        let router = Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .route("/metrics", get(metrics_text))
            .with_state(OpsState { readiness, metrics });
        let listener =
            InboundListener::bind(&HttpConfig::plain(addr.to_string()), router, options).await?;
        Ok(Self { listener })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is cancelled.
    pub async fn serve(self, stop: CancellationToken) {
        self.listener.serve(stop).await;
    }
}

async fn ready(State(state): State<OpsState>) -> (StatusCode, &'static str) {
    if state.readiness.get() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics_text(
    State(state): State<OpsState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
