//! Teleport access-request plugin for PagerDuty, built on the shared plugin runtime: an
//! incident per request on the service its role names, a note per review, the incident
//! resolved with the request, and approval of requesters who are on call.

pub mod app;
pub mod approval;
pub mod config;
pub mod pagerduty_api;
pub mod plugin_data;
pub mod render;

use std::time::Duration;

use anyhow::Context;
use teleport_plugin_runtime::app::{self as runtime_app, PluginContext, RunOptions};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::retry::{self, Failure, RetryPolicy};
use tokio_util::sync::CancellationToken;

use crate::app::{AppOptions, PagerDutyApp};
use crate::config::Config;
use crate::pagerduty_api::{PagerDutyApi, PagerDutyError, User};

pub use crate::app::PLUGIN_NAME;

/// The example config printed by `configure`.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// How long start-up keeps retrying PagerDuty while it answers with transient errors.
const STARTUP_CHECK_BUDGET: Duration = Duration::from_secs(30);

/// Connects to Teleport and PagerDuty, checks the API key and the `From` user, and handles
/// access requests until `stop` is cancelled (or, without a token, until SIGTERM/SIGINT).
pub async fn run(
    config: Config,
    user_agent: String,
    stop: Option<CancellationToken>,
) -> anyhow::Result<()> {
    run_with(config, user_agent, stop, RunOptions::default(), None).await
}

/// [`run`] with explicit runtime options and, optionally, a fixed lease length (tests).
pub async fn run_with(
    config: Config,
    user_agent: String,
    stop: Option<CancellationToken>,
    mut options: RunOptions,
    lease: Option<Duration>,
) -> anyhow::Result<()> {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // Broken Teleport credentials are reported before anything about PagerDuty.
    runtime_app::check_credentials(&config.teleport)?;
    let settings = config.pagerduty;
    let http = http_client(&HttpClientOptions {
        user_agent: Some(user_agent),
        ..HttpClientOptions::default()
    })?;
    let api = PagerDutyApi::new(
        http,
        &settings.api_endpoint,
        &settings.api_key,
        &settings.user_email,
    )
    .context("[pagerduty]")?;
    if options.ops_listen.is_none() {
        options.ops_listen = config.ops.listen_addr;
    }
    let make_handler = move |ctx: PluginContext| async move {
        let user = check_pagerduty(&api, &ctx.stop).await?;
        tracing::info!(pd_user = %user.name, pd_user_id = %user.id, endpoint = %settings.api_endpoint, "PagerDuty API key works; acting as this user");
        let mut app_options = AppOptions::new(&settings, ctx.web_base(), ctx.replica_id.clone());
        if let Some(lease) = lease {
            app_options.lease = lease;
        }
        Ok(PagerDutyApp::new(
            api,
            ctx.client.clone(),
            app_options,
            ctx.metrics.clone(),
        ))
    };
    let stop = stop.unwrap_or_else(runtime_app::stop_on_signals);
    let result =
        runtime_app::run_until(&config.teleport, options, make_handler, stop.clone()).await;
    // A failed start-up check returns early; stop what the runtime already started.
    stop.cancel();
    result
}

/// Start-up check: the key works (`GET /abilities`) and the `From` user exists.
pub async fn check_pagerduty(api: &PagerDutyApi, stop: &CancellationToken) -> anyhow::Result<User> {
    let policy = RetryPolicy {
        max_elapsed: Some(STARTUP_CHECK_BUDGET),
        ..RetryPolicy::default()
    };
    let email = api.user_email().to_owned();
    let found = retry::retry(&policy, stop, "PagerDuty start-up check", |_| {
        let email = email.clone();
        async move {
            let classify = |error: PagerDutyError| {
                if error.is_transient() {
                    let after = error.retry_after();
                    Failure::retry_after(error, after)
                } else {
                    Failure::give_up(error)
                }
            };
            api.abilities().await.map_err(classify)?;
            api.find_user_by_email(&email).await.map_err(classify)
        }
    })
    .await
    .context("PagerDuty API health check failed")?;
    found.with_context(|| {
        format!("PagerDuty has no user with the e-mail {email} (pagerduty.user_email); the plugin acts as that user")
    })
}
