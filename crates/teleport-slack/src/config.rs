//! Configuration of the Slack plugin: the Go plugin's `[slack]` section, unchanged, plus our
//! additions, read into [`SlackFile`] and validated once into [`Config`].

use std::path::PathBuf;

use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    ConfigError, ConfigWarning, Loaded, RoleToRecipients, Secret,
};
use teleport_plugin_runtime::ops::OpsConfig;

use crate::PLUGIN_NAME;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

/// The plugin's own sections as read (the common ones are read by the runtime).
#[derive(Debug, Deserialize)]
pub struct SlackFile {
    /// `[slack]` (Go's untagged `Slack`: go-toml also reads `Slack` and `SLACK`).
    #[serde(alias = "Slack", alias = "SLACK")]
    pub slack: SlackSection,
    /// `[ops]`: health and metrics endpoint (ours).
    #[serde(default)]
    pub ops: OpsConfig,
    /// `[review]`: Approve/Deny buttons over Socket Mode (Go's native review).
    #[serde(default)]
    pub review: ReviewSection,
}

/// `[review]` as read, Go's keys.
#[derive(Debug, Default, Deserialize)]
pub struct ReviewSection {
    /// Show the buttons and act on clicks. Default off.
    #[serde(default)]
    pub enabled: bool,
    /// The app-level token (`xapp-...`) that opens Socket Mode: inline, a `/path`,
    /// `file:path` or `env:NAME`.
    #[serde(default)]
    pub app_token: Option<Secret>,
    /// The Teleport user trait holding the clicker's Slack user ID.
    #[serde(default)]
    pub slack_user_id_trait: String,
    /// Also map a clicker whose Slack e-mail is a Teleport user name (less secure).
    #[serde(default)]
    pub allow_email_username_match: bool,
}

/// `[slack]` as read.
#[derive(Debug, Deserialize)]
pub struct SlackSection {
    /// Bot OAuth token (`xoxb-...`), inline, a `/path`, `file:path` or `env:NAME`. Go's
    /// untagged `Token`, which go-toml reads as `Token`, `token` or `TOKEN`.
    #[serde(alias = "Token", alias = "TOKEN")]
    pub token: Secret,
    /// API base URL (Go's untagged `APIURL`, matched case-insensitively by go-toml).
    #[serde(default, alias = "APIURL", alias = "aPIURL", alias = "api_url")]
    pub apiurl: Option<String>,
    /// Legacy recipient list: ignored since Go v11 in favour of `role_to_recipients` (Go's
    /// untagged `Recipients`).
    #[serde(default, alias = "Recipients", alias = "RECIPIENTS")]
    pub recipients: Option<toml::Value>,
    /// DM the requester the decision (ours; default on).
    #[serde(default = "default_true")]
    pub notify_requester: bool,
    /// An extra CA certificate file to trust for the Slack API (ours; for TLS-inspecting
    /// proxies).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_true() -> bool {
    true
}

/// The validated configuration `run` works from.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[teleport]`, `[ops]` and what else the runtime needs.
    pub runtime: RuntimeConfig,
    /// `[slack]`.
    pub slack: SlackConfig,
    /// `[role_to_recipients]`, with its required `"*"` entry.
    pub role_to_recipients: RoleToRecipients,
    /// `[review]` when enabled.
    pub review: Option<ReviewConfig>,
}

/// Validated, enabled `[review]`.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    /// The app-level token for `apps.connections.open`.
    pub app_token: Secret,
    /// The trait naming a Teleport user's Slack user ID; empty when only e-mail matching is
    /// used.
    pub slack_user_id_trait: String,
    /// Map by Slack e-mail = Teleport user name when no user has the trait.
    pub allow_email_username_match: bool,
}

/// Validated `[slack]`.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// The bot token.
    pub token: Secret,
    /// The Web API base URL (`http://` or `https://`).
    pub api_url: String,
    /// DM the requester the decision.
    pub notify_requester: bool,
    /// An extra CA certificate file to trust for the Slack API.
    pub ca_file: Option<PathBuf>,
}

impl Config {
    /// Validates what was read; errors name the file, the key and what was expected.
    pub fn from_loaded(loaded: Loaded<SlackFile>) -> Result<Self, ConfigError> {
        let role_to_recipients = loaded.require_role_to_recipients()?.clone();
        let section = &loaded.plugin.slack;
        let api_url = section
            .apiurl
            .as_deref()
            .filter(|url| !url.is_empty())
            .unwrap_or(DEFAULT_API_URL)
            .to_owned();
        loaded.http_url(
            "slack.apiurl",
            &api_url,
            "expected an http:// or https:// URL",
        )?;
        let mut warnings = Vec::new();
        if section.recipients.is_some() {
            warnings.push(ConfigWarning::NoEffect {
                file: loaded.file().to_path_buf(),
                key: "slack.recipients".into(),
                reason: "the Go plugin ignores it too since v11; use [role_to_recipients]".into(),
            });
        }
        let slack = SlackConfig {
            token: section.token.clone(),
            api_url,
            notify_requester: section.notify_requester,
            ca_file: section.ca_file.clone(),
        };
        let review = review_config(&loaded)?;
        let mut runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        runtime.warnings = warnings;
        Ok(Self {
            runtime,
            slack,
            role_to_recipients,
            review,
        })
    }
}

/// Go's checks: with review on, the app token is required, and so is the trait unless
/// e-mail matching was chosen instead, because the trait is what binds a Slack user to a
/// Teleport user.
fn review_config(loaded: &Loaded<SlackFile>) -> Result<Option<ReviewConfig>, ConfigError> {
    let section = &loaded.plugin.review;
    if !section.enabled {
        return Ok(None);
    }
    let app_token = match &section.app_token {
        Some(token) if !token.is_empty() => token.clone(),
        _ => {
            return Err(loaded.key_error(
                "review.app_token",
                "required when review.enabled is true: the Slack app-level token (xapp-...) with connections:write",
            ));
        }
    };
    let slack_user_id_trait = section.slack_user_id_trait.trim().to_owned();
    if slack_user_id_trait.is_empty() && !section.allow_email_username_match {
        return Err(loaded.key_error(
            "review.slack_user_id_trait",
            "required when review.enabled is true: name the Teleport trait holding each user's Slack user ID (preferred), or set review.allow_email_username_match = true (less secure)",
        ));
    }
    Ok(Some(ReviewConfig {
        app_token,
        slack_user_id_trait,
        allow_email_username_match: section.allow_email_username_match,
    }))
}
