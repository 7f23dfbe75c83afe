//! The watcher job: follows Teleport's access-request watch and, after every
//! (re)connect, lists the requests so that nothing that happened while the
//! plugin was down or disconnected is missed — including requests deleted or
//! expired meanwhile, found as records in plugin data whose request is gone.

use std::sync::Arc;

use futures::StreamExt;
use teleport_client::{ClientError, RequestFilter, TeleportClient, WatchEvent, WatchOptions};
use tokio_util::sync::CancellationToken;

use crate::dispatch::{Dispatcher, Observation, RequestHandler};
use crate::metrics::{Metrics, OpLabel};
use crate::ops::Readiness;
use crate::routing::RuleCache;

/// Environment variable (as in the Go plugins) that makes connection problems
/// fatal, so that an orchestrator restarts the process instead.
pub const FAIL_FAST_ENV: &str = "TELEPORT_PLUGIN_FAIL_FAST";

/// Follows the watch and feeds the dispatcher.
pub struct Watcher<H> {
    /// The Teleport client.
    pub client: TeleportClient,
    /// The plugin's namespace in plugin data, whose records are checked against the
    /// requests after every (re)connect.
    pub plugin: String,
    /// Where observations go.
    pub dispatcher: Dispatcher<H>,
    /// Set once the watch is established.
    pub readiness: Readiness,
    /// Metrics.
    pub metrics: Metrics,
    /// Access monitoring rules to keep current from the watch's rule events, if followed.
    pub rules: Option<Arc<RuleCache>>,
    /// Watch options (INIT timeout, reconnect backoff).
    pub options: WatchOptions,
    /// Exit on connection problems instead of reconnecting.
    pub fail_fast: bool,
}

impl<H: RequestHandler> Watcher<H> {
    /// Runs until `stop` is cancelled (Ok) or a fatal error (Err).
    pub async fn run(self, stop: CancellationToken) -> Result<(), ClientError> {
        let mut stream = self.client.watch_access_requests(self.options.clone());
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = stop.cancelled() => return Ok(()),
            };
            let Some(item) = item else { return Ok(()) };
            let event = item?;
            // Rule events first, awaited: the rules are loaded before the INIT that follows
            // a confirmed watch starts the catch-up listing.
            if let Some(rules) = &self.rules
                && rules.handle(&event).await
            {
                continue;
            }
            match event {
                WatchEvent::Init => {
                    self.metrics
                        .events
                        .get_or_create(&OpLabel { op: "init" })
                        .inc();
                    self.readiness.set(true);
                    self.metrics.ready.set(1);
                    tracing::info!("watching Teleport access requests");
                    tokio::spawn(reconcile(
                        self.client.clone(),
                        self.plugin.clone(),
                        self.dispatcher.clone(),
                    ));
                }
                WatchEvent::Put(request) => {
                    self.metrics
                        .events
                        .get_or_create(&OpLabel { op: "put" })
                        .inc();
                    tracing::debug!(request_id = %request.id, request_op = "put", request_state = %request.state, "access request event");
                    self.dispatcher.observe(Observation::Put(request));
                }
                WatchEvent::Delete(id) => {
                    self.metrics
                        .events
                        .get_or_create(&OpLabel { op: "delete" })
                        .inc();
                    tracing::debug!(request_id = %id, request_op = "delete", "access request event");
                    self.dispatcher.observe(Observation::Deleted(id));
                }
                // Only sent when the options ask for rules, which are then handled above.
                WatchEvent::Confirmed(_) | WatchEvent::RulePut(_) | WatchEvent::RuleDelete(_) => {}
                WatchEvent::Reconnecting { reason, attempt } => {
                    self.readiness.set(false);
                    self.metrics.ready.set(0);
                    self.metrics.reconnects.inc();
                    if self.fail_fast {
                        return Err(ClientError::WatchProtocol(format!(
                            "{reason} (exiting because {FAIL_FAST_ENV} is set)"
                        )));
                    }
                    tracing::info!(attempt, %reason, "reconnecting to Teleport");
                }
            }
        }
    }
}

/// Listed requests the catch-up lets wait in the dispatcher before it reads the next
/// page: about one page (1 000), so a re-listing of tens of thousands of requests holds
/// a page or two of them at a time, not all (issue 16: peaks of 53–65 MiB).
const CATCH_UP_IN_FLIGHT: usize = 1_000;

/// Lists every request and hands each to the dispatcher, unless the watch
/// already delivered something newer for it; then hands over as deleted every
/// request that has a record in plugin data but no longer exists (its DELETE was
/// missed while the plugin was down), so its messages say EXPIRED.
///
/// The records are listed *before* the requests: a record listed then belongs to a
/// request created earlier, which the request listing shows unless it is gone. Only the
/// records' IDs are kept, and each listed request's ID is struck off them, so what is
/// left at the end is gone. The requests come a page at a time, each page only once the
/// dispatcher has room ([`CATCH_UP_IN_FLIGHT`]).
async fn reconcile<H: RequestHandler>(
    client: TeleportClient,
    plugin: String,
    dispatcher: Dispatcher<H>,
) {
    let mut records = match client.list_plugin_data_ids(&plugin).await {
        Ok(records) => Some(records),
        Err(error) => {
            tracing::warn!(%error, "cannot list plugin data to find requests deleted meanwhile");
            None
        }
    };
    let mut pages = client.access_request_pages(&RequestFilter::default());
    let mut listed = 0_usize;
    loop {
        dispatcher.wait_below(CATCH_UP_IN_FLIGHT).await;
        let page = match pages.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            // The next INIT tries again; events keep flowing meanwhile.
            Err(error) => {
                tracing::warn!(%error, listed, "cannot list access requests to catch up");
                return;
            }
        };
        listed += page.len();
        for request in page {
            if let Some(records) = records.as_mut() {
                records.remove(&request.id);
            }
            dispatcher.observe_if_idle(Observation::Put(Box::new(request)));
        }
    }
    tracing::info!(
        count = listed,
        "reconciling access requests with plugin data"
    );
    let gone = records.unwrap_or_default();
    if !gone.is_empty() {
        tracing::info!(
            count = gone.len(),
            "records of requests deleted meanwhile; resolving them as expired"
        );
    }
    for id in gone {
        dispatcher.observe_if_idle(Observation::Deleted(id));
    }
}
