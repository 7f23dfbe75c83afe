//! Teleport access-request plugin for GitLab, built on the shared plugin runtime: an issue
//! per request with a pending label, a note per review, and on resolution a note, the
//! outcome's label and the issue closed; decisions taken in GitLab by labelling the issue,
//! learned by webhook, by polling, or both.

pub mod apply;
pub mod assess;
pub mod client;
pub mod config;
pub mod decision;
pub mod handler;
pub mod poll;
pub mod record;
pub mod render;
pub mod setup;
pub mod webhook;

use std::sync::Arc;

use anyhow::Context;
use teleport_plugin_runtime::app::{self, Companions, PluginContext};
use teleport_plugin_runtime::config::Loaded;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::inbound::{
    HttpConfig, InboundTuning, InsecureNoTls, Polling, Webhook,
};
use teleport_plugin_runtime::plugin::Plugin;
use teleport_plugin_runtime::service_error::ServiceError;
use tokio_util::sync::CancellationToken;

use crate::apply::Inbound;
use crate::assess::Assessor;
use crate::client::{GitlabApi, GitlabError, HookSpec, Project, User};
use crate::config::{Config, GitlabConfig, GitlabFile};
use crate::handler::{Gitlab, GitlabHandler};
use crate::poll::GitlabPoller;
use crate::setup::LabelNames;

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "gitlab";

/// The GitLab plugin, for the runtime's CLI (`start --insecure-no-tls` for a
/// TLS-terminating ingress, as in Go).
pub struct GitlabPlugin;

impl Plugin for GitlabPlugin {
    const NAME: &'static str = PLUGIN_NAME;
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = GitlabFile;
    type Args = InsecureNoTls;
    type Config = Config;

    fn config(loaded: Loaded<GitlabFile>, args: InsecureNoTls) -> anyhow::Result<Config> {
        Ok(Config::from_loaded(loaded, args.insecure_no_tls)?)
    }

    async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
        run(config, stop).await
    }
}

/// Connects to Teleport and GitLab, checks the token and the project, sets up the labels and
/// the webhook (the integration's health check), and handles access requests — and, once
/// the checks passed, decisions taken in GitLab by webhook and/or polling — until `stop` is
/// cancelled or a fatal error.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let settings = config.gitlab;
    let http = http_client(&HttpClientOptions {
        extra_ca: settings.ca_file.clone(),
        user_agent: Some(config.runtime.user_agent.clone()),
        ..HttpClientOptions::default()
    })
    .context("[gitlab] ca_file")?;
    let api = GitlabApi::new(http, &settings.url, &settings.token).context("[gitlab]")?;
    let handler_api = api.clone();
    let handler_settings = settings.clone();
    let (http_config, tuning) = (config.http, config.inbound);
    app::run_with_companions(
        config.runtime,
        move |ctx| {
            let gitlab = Gitlab::new(handler_api, handler_settings, ctx.web_base());
            Ok(GitlabHandler::in_context(gitlab, ctx, PLUGIN_NAME))
        },
        move |ctx: &PluginContext, handler: Arc<GitlabHandler>| {
            let inbound = inbound(ctx, api, &settings, handler);
            let stop = ctx.stop.clone();
            async move { start_inbound(inbound?, settings, http_config, tuning, stop).await }
        },
        stop,
    )
    .await
}

/// What applies decisions, from what start-up found (the project's ID, the token's user).
fn inbound(
    ctx: &PluginContext,
    api: GitlabApi,
    settings: &GitlabConfig,
    handler: Arc<GitlabHandler>,
) -> anyhow::Result<Arc<Inbound>> {
    let started = handler
        .tracker()
        .started_gitlab()
        .context("GitLab start-up did not finish before decisions were wired")?;
    let assessor = Assessor::new(
        api,
        ctx.client.clone(),
        started.bot.id,
        settings.min_access_level,
    );
    Ok(Arc::new(Inbound::new(
        assessor,
        started.project.id,
        apply::writer(ctx.client.clone(), &ctx.replica_id),
        handler.clone(),
        ctx.metrics.clone(),
    )))
}

/// The inbound side, once the start-up checks passed: the webhook listener and/or the poller.
async fn start_inbound(
    inbound: Arc<Inbound>,
    settings: GitlabConfig,
    http_config: Option<HttpConfig>,
    tuning: InboundTuning,
    stop: CancellationToken,
) -> anyhow::Result<Companions> {
    let webhook = match (&http_config, &settings.webhook) {
        (Some(http), Some(webhook)) => Some(Webhook {
            http,
            routes: webhook::routes(inbound.clone(), webhook.secret.clone()),
            check: Some(webhook::token_check(webhook.secret.clone())),
        }),
        _ => None,
    };
    let polling = settings.poll_interval.map(|interval| Polling {
        poller: GitlabPoller::new(inbound),
        interval,
        options: poll::options,
    });
    teleport_plugin_runtime::inbound::start_inbound("GitLab", webhook, polling, tuning, stop).await
}

/// What start-up learned about GitLab and set up there.
#[derive(Clone, Debug)]
pub struct Started {
    /// The project.
    pub project: Project,
    /// The token's owner.
    pub bot: User,
    /// The plugin's labels in the project.
    pub labels: LabelNames,
    /// The webhook, in webhook mode.
    pub hook_id: Option<u64>,
}

/// Start-up against GitLab, one attempt (the runtime retries what may pass within its
/// start-up budget): the token and project work, then labels and the webhook are set up.
/// Errors say what to check.
pub async fn start_gitlab(
    api: &GitlabApi,
    settings: &GitlabConfig,
) -> Result<Started, ServiceError> {
    let project = api
        .project(&settings.project)
        .await
        .map_err(|error| explain(error, settings))?;
    let bot = api
        .current_user()
        .await
        .map_err(|error| explain(error, settings))?;
    tracing::info!(gitlab_project_id = project.id, project = %project.path_with_namespace, gitlab_user = %bot.username, url = %settings.url, "GitLab token works; acting as this user");

    let labels = setup::setup_labels(api, project.id)
        .await
        .map_err(|error| match error {
            GitlabError::Refused { .. } => advised(
                error,
                "cannot set up the GitLab labels: the token's user needs at least the Reporter role in the project",
            ),
            error => advised(error, "cannot set up the GitLab labels"),
        })?;

    let hook_id = match &settings.webhook {
        None => None,
        Some(webhook) => {
            let spec = HookSpec {
                url: webhook.hook_url(),
                token: webhook.secret.expose().to_owned(),
            };
            let id = setup::setup_hook(api, project.id, &spec)
                .await
                .map_err(|error| match error {
                    GitlabError::Refused { .. } => advised(
                        error,
                        "cannot set up the GitLab webhook: the token's user needs the Maintainer role in the project to manage its webhooks",
                    ),
                    error => advised(error, "cannot set up the GitLab webhook"),
                })?;
            Some(id)
        }
    };
    Ok(Started {
        project,
        bot,
        labels,
        hook_id,
    })
}

/// `error` as the runtime classifies it, with `advice` in front of its message.
fn advised(error: GitlabError, advice: &str) -> ServiceError {
    ServiceError::from(error).with_context(advice)
}

/// Start-up errors with what to check.
fn explain(error: GitlabError, settings: &GitlabConfig) -> ServiceError {
    let advice = match &error {
        GitlabError::Refused { .. } => format!(
            "check gitlab.token: a personal, project or group access token for {} with the api scope",
            settings.url
        ),
        GitlabError::NotFound { .. } => format!(
            "project {} not found at {}, or the token's user cannot see it (gitlab.project_id)",
            settings.project, settings.url
        ),
        GitlabError::Unexpected { .. } => {
            format!("is {} a GitLab instance (gitlab.url)?", settings.url)
        }
        _ => return error.into(),
    };
    advised(error, &advice)
}
