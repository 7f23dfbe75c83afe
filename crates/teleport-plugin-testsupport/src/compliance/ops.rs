//! The ops endpoint: `/healthz` answers while the process lives, `/readyz` only while it
//! watches Teleport, `/metrics` counts what was sent.

use std::net::SocketAddr;

use teleport_testkit::Method;
use tonic::Code;

use super::ComplianceWorld;
use super::harness::{Harness, WAIT, ops_addr};
use crate::{eventually, http_get};

/// Teleport answers the ping but refuses the watch at first: healthy, not ready. The watch
/// allowed: ready. A request delivered: counted in `teleport_plugin_sends_total`. Teleport
/// gone: not ready, still healthy, and SIGTERM still stops the plugin cleanly.
pub async fn ops_endpoints<W: ComplianceWorld>() {
    let h = Harness::<W>::start().await;
    h.kit.reject(Method::WatchEvents, Code::Unavailable, None);
    let addr = ops_addr();
    let mut params = h.params();
    params.ops_listen_addr = Some(addr.to_string());
    let plugin = h.spawn_with("ops", &params);

    eventually("/healthz to answer 200", WAIT, || {
        answers(addr, "/healthz", 200)
    })
    .await;
    eventually("the plugin to try the watch twice", WAIT, || async {
        h.kit.call_count(Method::WatchEvents) >= 2
    })
    .await;
    let (status, body) = get(addr, "/readyz").await;
    assert!(
        status.contains(" 503"),
        "/readyz while Teleport refuses the watch: {status} {body}"
    );
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("teleport_plugin_ready 0"),
        "not ready in the metrics either:\n{metrics}"
    );

    h.kit.clear_rejections();
    eventually("/readyz to answer 200 once watching", WAIT, || {
        answers(addr, "/readyz", 200)
    })
    .await;
    let id = h.create_request("count me");
    h.wait_delivered(std::slice::from_ref(&id)).await;
    let wanted = h.world.recipients().len();
    eventually("the sends to be counted", WAIT, || async {
        sends(&get(addr, "/metrics").await.1) >= wanted
    })
    .await;
    let metrics = get(addr, "/metrics").await.1;
    assert!(
        metrics.contains("teleport_plugin_ready 1"),
        "ready in the metrics:\n{metrics}"
    );
    assert!(
        metrics.contains("teleport_plugin_events_total{op=\"put\"}"),
        "watch events counted:\n{metrics}"
    );
    assert!(
        metrics.contains("teleport_plugin_identity_expiry_timestamp_seconds"),
        "the identity's expiry exported:\n{metrics}"
    );

    h.kit.stop().await;
    eventually("/readyz to answer 503 without Teleport", WAIT, || {
        answers(addr, "/readyz", 503)
    })
    .await;
    let (status, _) = get(addr, "/healthz").await;
    assert!(
        status.contains(" 200"),
        "/healthz without Teleport: {status}"
    );
    plugin.stop().await;
}

/// Whether `path` answers with status `code`.
async fn answers(addr: SocketAddr, path: &str, code: u16) -> bool {
    http_get(addr, path)
        .await
        .is_some_and(|(status, _)| status.contains(&format!(" {code} ")))
}

/// The status line and body of `path`, which must answer.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    http_get(addr, path)
        .await
        .unwrap_or_else(|| panic!("{path} on {addr} did not answer"))
}

/// The sum of every `teleport_plugin_sends_total` sample in a metrics exposition.
fn sends(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|line| line.starts_with("teleport_plugin_sends_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}
