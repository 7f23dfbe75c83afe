//! Prometheus metrics every plugin exposes on `/metrics`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label for watch events.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    /// `init`, `put` or `delete`.
    pub op: &'static str,
}

/// Label for outbound sends.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabel {
    /// `request`, `review`, `update` or `requester`.
    pub kind: &'static str,
}

/// The plugin's metrics. Cheap to clone; all clones update the same values.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Watch events received, by operation.
    pub events: Family<OpLabel, Counter>,
    /// Messages sent successfully, by kind.
    pub sends: Family<SendLabel, Counter>,
    /// Sends that failed, by kind.
    pub send_failures: Family<SendLabel, Counter>,
    /// Calls the service refused for the plugin's credentials (401/403, a revoked token).
    pub auth_failures: Counter,
    /// Handling steps that will be retried.
    pub retries: Counter,
    /// Watch reconnects.
    pub reconnects: Counter,
    /// Requests with work in progress.
    pub requests_in_flight: Gauge,
    /// When the Teleport certificate expires (Unix seconds).
    pub identity_expiry: Gauge<f64, AtomicU64>,
    /// 1 once the watch is established.
    pub ready: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("teleport_plugin");
        let events = Family::<OpLabel, Counter>::default();
        let sends = Family::<SendLabel, Counter>::default();
        let send_failures = Family::<SendLabel, Counter>::default();
        let retries = Counter::default();
        let auth_failures = Counter::default();
        let reconnects = Counter::default();
        let requests_in_flight = Gauge::default();
        let identity_expiry = Gauge::<f64, AtomicU64>::default();
        let ready = Gauge::default();
        registry.register(
            "events",
            "Access request watch events received",
            events.clone(),
        );
        registry.register("sends", "Messages sent", sends.clone());
        registry.register(
            "send_failures",
            "Message sends that failed",
            send_failures.clone(),
        );
        registry.register(
            "auth_failures",
            "Calls the service refused for the plugin's credentials",
            auth_failures.clone(),
        );
        registry.register(
            "retries",
            "Request handling steps scheduled for retry",
            retries.clone(),
        );
        registry.register(
            "watch_reconnects",
            "Reconnects of the Teleport watch",
            reconnects.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Access requests with work in progress",
            requests_in_flight.clone(),
        );
        registry.register(
            "identity_expiry_timestamp_seconds",
            "When the Teleport client certificate expires",
            identity_expiry.clone(),
        );
        registry.register("ready", "1 when the plugin watches Teleport", ready.clone());
        Self {
            registry: Arc::new(registry),
            events,
            sends,
            send_failures,
            auth_failures,
            retries,
            reconnects,
            requests_in_flight,
            identity_expiry,
            ready,
        }
    }

    /// Counts a successful send.
    pub fn sent(&self, kind: &'static str) {
        self.sends.get_or_create(&SendLabel { kind }).inc();
    }

    /// Counts a failed send.
    pub fn send_failed(&self, kind: &'static str) {
        self.send_failures.get_or_create(&SendLabel { kind }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
