//! Teleport access-request plugin for GitLab, built on the shared plugin runtime: an issue
//! per request with a pending label, a note per review, and on resolution a note, the
//! outcome's label and the issue closed; decisions taken in GitLab by labelling the issue.

pub mod assess;
pub mod client;
pub mod config;
pub mod decision;
pub mod handler;
pub mod record;
pub mod render;
pub mod setup;
pub mod webhook;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use teleport_plugin_runtime::app::{self as runtime_app, PluginContext, RunOptions};
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::retry::{self, Failure, RetryPolicy};
use tokio_util::sync::CancellationToken;

use crate::client::{GitlabApi, GitlabError, HookSpec, Project, User};
use crate::config::{Config, GitlabConfig};
use crate::handler::{GitlabHandler, HandlerOptions, LEASE};
use crate::setup::LabelNames;

pub use crate::handler::PLUGIN_NAME;

/// The example config printed by `configure`.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// How long start-up keeps retrying GitLab while it answers with transient errors.
const STARTUP_CHECK_BUDGET: Duration = Duration::from_secs(30);

/// Knobs that are not in the TOML (tests, embedding).
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    /// Runtime options (ops endpoint, dispatcher, watch).
    pub run: RunOptions,
    /// The lease length; default 30 s.
    pub lease: Option<Duration>,
    /// How long start-up retries GitLab; default 30 s.
    pub startup_budget: Option<Duration>,
}

/// Connects to Teleport and GitLab, checks the token and the project, sets up the labels and
/// the webhook, and handles access requests until `stop` is cancelled (or, without a token,
/// until SIGTERM/SIGINT).
pub async fn run(config: Config, stop: Option<CancellationToken>) -> anyhow::Result<()> {
    run_with(config, stop, Tuning::default()).await
}

/// [`run`] with explicit [`Tuning`].
pub async fn run_with(
    config: Config,
    stop: Option<CancellationToken>,
    tuning: Tuning,
) -> anyhow::Result<()> {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // Broken Teleport credentials are reported before anything about GitLab.
    runtime_app::check_credentials(&config.teleport)?;
    let settings = config.gitlab;
    let http = http_client(&HttpClientOptions {
        extra_ca: settings.ca_file.clone(),
        user_agent: Some(format!("teleport-gitlab/{}", env!("CARGO_PKG_VERSION"))),
        ..HttpClientOptions::default()
    })
    .context("[gitlab] ca_file")?;
    let api = GitlabApi::new(http, &settings.url, &settings.token).context("[gitlab]")?;
    let mut options = tuning.run;
    if options.ops_listen.is_none() {
        options.ops_listen = config.ops.listen_addr;
    }
    let budget = tuning.startup_budget.unwrap_or(STARTUP_CHECK_BUDGET);
    let lease = tuning.lease.unwrap_or(LEASE);
    let make_handler = move |ctx: PluginContext| async move {
        let started = start_gitlab(&api, &settings, &ctx.stop, budget).await?;
        if settings.webhook.is_some() || settings.poll_interval.is_some() {
            // The shared inbound side (listener, poller, decision writer) is wired in later.
            tracing::warn!(
                "decisions taken in GitLab are not applied by this build yet: the webhook listener and the poller are not running"
            );
        }
        let options = HandlerOptions {
            project_id: started.project.id,
            labels: started.labels,
            web_base: ctx.web_base(),
            replica_id: ctx.replica_id.clone(),
            lease,
        };
        Ok(GitlabHandler::new(
            api,
            ctx.client.clone(),
            options,
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

/// Start-up against GitLab: the token and project work, then labels and the webhook are set
/// up. Transient failures are retried within `budget`; anything else fails with advice.
pub async fn start_gitlab(
    api: &GitlabApi,
    settings: &GitlabConfig,
    stop: &CancellationToken,
    budget: Duration,
) -> anyhow::Result<Started> {
    let project = retried(stop, budget, "GitLab start-up check", || {
        api.project(&settings.project)
    })
    .await
    .map_err(|error| explain(error, settings))
    .context("GitLab API health check failed")?;
    let bot = retried(stop, budget, "GitLab start-up check", || api.current_user())
        .await
        .map_err(|error| explain(error, settings))
        .context("GitLab API health check failed")?;
    tracing::info!(gitlab_project_id = project.id, project = %project.path_with_namespace, gitlab_user = %bot.username, url = %settings.url, "GitLab token works; acting as this user");

    let labels = retried(stop, budget, "GitLab label set-up", || {
        setup::setup_labels(api, project.id)
    })
    .await
    .map_err(|error| match error {
        GitlabError::Refused { .. } => anyhow::Error::new(error).context(
            "the token's user needs at least the Reporter role in the project to create labels",
        ),
        error => anyhow::Error::new(error),
    })
    .context("cannot set up the GitLab labels")?;

    let hook_id = match &settings.webhook {
        None => None,
        Some(webhook) => {
            let spec = HookSpec {
                url: webhook.hook_url(),
                token: webhook.secret.expose().to_owned(),
            };
            let id = retried(stop, budget, "GitLab webhook set-up", || {
                setup::setup_hook(api, project.id, &spec)
            })
            .await
            .map_err(|error| match error {
                GitlabError::Refused { .. } => anyhow::Error::new(error).context(
                    "the token's user needs the Maintainer role in the project to manage its webhooks",
                ),
                error => anyhow::Error::new(error),
            })
            .context("cannot set up the GitLab webhook")?;
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

/// Runs `call` until it succeeds, fails for good, `budget` runs out or `stop` fires.
async fn retried<T, F, Fut>(
    stop: &CancellationToken,
    budget: Duration,
    what: &str,
    mut call: F,
) -> Result<T, GitlabError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GitlabError>>,
{
    let policy = RetryPolicy {
        max_elapsed: Some(budget),
        ..RetryPolicy::default()
    };
    retry::retry(&policy, stop, what, |_| {
        let attempt = call();
        async move {
            attempt.await.map_err(|error| {
                if error.is_transient() {
                    let after = error.retry_after();
                    Failure::retry_after(error, after)
                } else {
                    Failure::give_up(error)
                }
            })
        }
    })
    .await
    .map_err(|error| {
        error.into_last_error().unwrap_or(GitlabError::Unexpected {
            reason: "stopped before GitLab answered".into(),
        })
    })
}

/// Start-up errors with what to check.
fn explain(error: GitlabError, settings: &GitlabConfig) -> anyhow::Error {
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
        _ => return anyhow::Error::new(error),
    };
    anyhow::Error::new(error).context(advice)
}
