//! Teleport access-request plugin for Jira, built on the shared plugin runtime: an issue per
//! request, a comment per review, the issue moved to Approved / Denied / Expired with the
//! request, and decisions made in Jira applied to Teleport, learned by webhook, by polling,
//! or both.

pub mod client;
pub mod config;
pub mod decision;
pub mod error;
pub mod handler;
pub mod poll;
pub mod record;
pub mod render;
pub mod search;
pub mod types;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use teleport_plugin_runtime::app::{self, Companions, PluginContext};
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::inbound::{
    InboundTuning, InsecureNoTls, PollOptions, Polling, Webhook,
};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_runtime::service_error::ServiceError;
use tokio_util::sync::CancellationToken;

use crate::client::{JiraClient, JiraError, JiraUser};
use crate::config::{Config, JiraConfig, JiraFile};
use crate::decision::Inbound;
use crate::handler::{Jira, JiraHandler};
use crate::poll::JiraPoller;

pub use crate::record::PLUGIN_NAME;

/// The project permissions the plugin's Jira user needs (checked at start-up, as Go).
pub const REQUIRED_PERMISSIONS: [&str; 4] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
];

/// The Jira plugin, for the runtime's CLI (`start --insecure-no-tls` for a TLS-terminating
/// ingress).
pub struct JiraPlugin;

impl Plugin for JiraPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = JiraFile;
    type Args = InsecureNoTls;
    type Config = Config;

    fn config(loaded: Loaded<JiraFile>, args: InsecureNoTls) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded, args.insecure_no_tls)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and Jira, checks both, and handles access requests — and, once the
/// checks passed, decisions from Jira by webhook and/or polling — until `stop` is cancelled.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let settings = config.jira.clone();
    let http = http_client(&HttpClientOptions {
        extra_ca: settings.ca_file.clone(),
        user_agent: Some(config.runtime.user_agent.clone()),
        ..HttpClientOptions::default()
    })?;
    let jira = JiraClient::new(http, &settings.url, &settings.username, &settings.api_token)
        .context("[jira]")?;
    let handler_jira = jira.clone();
    let handler_settings = settings.clone();
    let (http_config, inbound_tuning) = (config.http, config.inbound);
    app::run_with_companions(
        config.runtime,
        move |ctx| {
            let tracker = Jira::new(handler_jira, handler_settings, ctx.web_base());
            Ok(JiraHandler::in_context(tracker, ctx, PLUGIN_NAME))
        },
        move |ctx: &PluginContext, handler: Arc<JiraHandler>| {
            start_inbound(ctx, jira, settings, handler, http_config, inbound_tuning)
        },
        stop,
    )
    .await
}

/// The inbound side, once the start-up checks passed: the webhook listener and/or the poller.
fn start_inbound(
    ctx: &PluginContext,
    jira: JiraClient,
    settings: JiraConfig,
    handler: Arc<JiraHandler>,
    http_config: Option<teleport_plugin_runtime::inbound::HttpConfig>,
    tuning: InboundTuning,
) -> impl Future<Output = anyhow::Result<Companions>> + use<> {
    let inbound = Arc::new(Inbound::new(
        jira,
        ctx.client.clone(),
        &ctx.replica_id,
        handler,
        ctx.metrics.clone(),
    ));
    let stop = ctx.stop.clone();
    async move { start_inbound_tasks(inbound, settings, http_config, tuning, stop).await }
}

async fn start_inbound_tasks(
    inbound: Arc<Inbound>,
    settings: JiraConfig,
    http_config: Option<teleport_plugin_runtime::inbound::HttpConfig>,
    tuning: InboundTuning,
    stop: CancellationToken,
) -> anyhow::Result<Companions> {
    let webhook = http_config.as_ref().map(|http| Webhook {
        http,
        routes: webhook::routes(inbound.clone()),
        check: None,
    });
    let polling = settings.poll_interval.map(|interval| Polling {
        poller: JiraPoller::new(inbound, settings.project.clone()),
        interval,
        options: PollOptions::every,
    });
    teleport_plugin_runtime::inbound::start_inbound("Jira", webhook, polling, tuning, stop).await
}

/// Start-up checks, one attempt (the runtime retries what may pass within its start-up
/// budget), one clear error each: the credentials (`myself`), the project (and the issue type,
/// when Jira lists them), and the four project permissions.
pub async fn check_jira(
    jira: &JiraClient,
    settings: &JiraConfig,
) -> Result<JiraUser, ServiceError> {
    let me = jira.myself().await.map_err(|error| match error {
        JiraError::Auth { status, .. } => ServiceError::unauthorized(format!(
            "Jira refused the plugin's credentials (HTTP {status}): check jira.username and jira.api_token (an API token on Jira Cloud, the password on Data Center)"
        )),
        error @ (JiraError::NotFound { .. } | JiraError::Unexpected { .. }) => {
            ServiceError::permanent(format!(
                "{} does not answer like a Jira site ({error}); check jira.url",
                settings.url
            ))
        }
        error => with_context(error, &format!("cannot reach Jira at {}", settings.url)),
    })?;

    let project = jira
        .project(&settings.project)
        .await
        .map_err(|error| match error {
            JiraError::NotFound { .. } => ServiceError::permanent(format!(
                "Jira project {:?} (jira.project) does not exist, or the plugin's user cannot browse it",
                settings.project
            )),
            error => with_context(error, &format!("cannot read Jira project {:?}", settings.project)),
        })?;
    if let Some(types) = &project.issue_types
        && !types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(&settings.issue_type))
    {
        let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        return Err(ServiceError::permanent(format!(
            "issue type {:?} (jira.issue_type) does not exist in project {}; it has: {}",
            settings.issue_type,
            settings.project,
            names.join(", ")
        )));
    }

    let granted = jira
        .my_permissions(&settings.project, &REQUIRED_PERMISSIONS)
        .await
        .map_err(|error| with_context(error, "cannot read the plugin's Jira permissions"))?;
    let missing: Vec<&str> = REQUIRED_PERMISSIONS
        .iter()
        .copied()
        .filter(|p| !granted.get(*p).copied().unwrap_or(false))
        .collect();
    if !missing.is_empty() {
        return Err(ServiceError::permanent(format!(
            "the plugin's Jira user lacks the {} permission{} in project {}",
            missing.join(", "),
            if missing.len() > 1 { "s" } else { "" },
            settings.project
        )));
    }
    Ok(me)
}

/// `error` as the runtime classifies it, with `context` in front of its message.
fn with_context(error: JiraError, context: &str) -> ServiceError {
    ServiceError::from(error).with_context(context)
}
