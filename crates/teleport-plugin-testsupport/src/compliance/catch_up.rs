//! Catch-up after downtime: what happened to requests while the plugin was stopped is
//! reflected in the service once it starts again, and nothing is delivered twice.

use super::ComplianceWorld;
use super::harness::Harness;

/// A request made before the plugin ever ran is delivered at its start; after a clean stop,
/// two requests are made and the first one is approved; the restarted plugin delivers the
/// two new ones once, shows the first one approved, and delivers nothing again.
pub async fn catch_up_after_downtime<W: ComplianceWorld>() {
    let h = Harness::<W>::start().await;
    let early = h.create_request("made before the plugin ever ran");
    let plugin = h.spawn("first-run");
    h.wait_delivered(std::slice::from_ref(&early)).await;
    let output = plugin.stop().await;
    assert!(
        output.contains("shut down cleanly"),
        "the first run shut down cleanly:\n{output}"
    );
    h.kit
        .wait_for_watchers(0, super::harness::WAIT)
        .await
        .expect("nothing watches while the plugin is stopped");

    let missed: Vec<String> = (0..2)
        .map(|n| h.create_request(&format!("made while the plugin was stopped {n}")))
        .collect();
    h.kit
        .approve(&early, "approved while the plugin was stopped")
        .expect("the request is approved");

    let plugin = h.spawn("second-run");
    h.wait_delivered(&missed).await;
    h.wait_until(
        "the service to show the request approved while the plugin was stopped",
        || h.world.shows_approved(&early) && h.released(&early),
        || format!("plugin data: {:?}", h.kit.plugin_data(&early, W::PLUGIN)),
    )
    .await;
    let mut all = missed;
    all.push(early);
    h.assert_exactly_once(&all).await;
    plugin.stop().await;
}
