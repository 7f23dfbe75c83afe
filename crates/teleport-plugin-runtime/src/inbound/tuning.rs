//! What starts the inbound side of a plugin (Jira, GitLab) once its start-up checks passed:
//! [`InboundTuning`], the settings that are not in the TOML, and [`start_inbound`], the
//! webhook listener and the poller run as the process's companions.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio_util::sync::CancellationToken;

use super::config::HttpConfig;
use super::listener::{HeaderCheck, InboundListener, ListenerOptions};
use super::poll::{PollOptions, Poller, run_poller};
use crate::app::Companions;

/// Timings and hooks of the inbound side that are not in the TOML: production defaults;
/// tests shorten them.
#[derive(Clone, Debug, Default)]
pub struct InboundTuning {
    /// Webhook listener limits.
    pub listener: ListenerOptions,
    /// Poll driver settings (default: the plugin's, around its `poll_interval`).
    pub poll: Option<PollOptions>,
    /// Told the webhook listener's bound address (for a listener on port 0).
    pub listening: Option<Arc<OnceLock<SocketAddr>>>,
}

/// The webhook side of [`start_inbound`]: where and what to serve.
pub struct Webhook<'a> {
    /// `[http]`.
    pub http: &'a HttpConfig,
    /// The plugin's routes.
    pub routes: Router,
    /// A header check made before the body is read (GitLab's token).
    pub check: Option<HeaderCheck>,
}

/// The polling side of [`start_inbound`].
pub struct Polling<P> {
    /// The plugin's poller.
    pub poller: P,
    /// The plugin's `poll_interval`.
    pub interval: Duration,
    /// The plugin's poll settings for that interval, unless the tuning has its own.
    pub options: fn(Duration) -> PollOptions,
}

/// Starts the webhook listener and/or the poller until `stop`; `tracker` names the service in
/// log lines (`Jira`, `GitLab`).
pub async fn start_inbound<P: Poller + Send + Sync + 'static>(
    tracker: &str,
    webhook: Option<Webhook<'_>>,
    polling: Option<Polling<P>>,
    tuning: InboundTuning,
    stop: CancellationToken,
) -> anyhow::Result<Companions> {
    let mut started = Vec::new();
    if let Some(webhook) = webhook {
        let listener = InboundListener::bind_checked(
            webhook.http,
            webhook.routes,
            webhook.check,
            tuning.listener,
        )
        .await
        .context("cannot start the webhook listener ([http])")?;
        let bound = listener.local_addr()?;
        tracing::info!(addr = %bound, url = %listener.base_url(), "listening for {tracker} webhooks");
        if let Some(cell) = &tuning.listening {
            let _ = cell.set(bound);
        }
        started.push(tokio::spawn(listener.serve(stop.clone())));
    }
    if let Some(polling) = polling {
        let options = tuning
            .poll
            .unwrap_or_else(|| (polling.options)(polling.interval));
        tracing::info!(interval = ?polling.interval, "polling {tracker} for decisions");
        started.push(tokio::spawn(async move {
            run_poller(&polling.poller, &options, &stop).await
        }));
    }
    Ok(started)
}
