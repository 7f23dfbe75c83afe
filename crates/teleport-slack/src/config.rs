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
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(loaded.key_error("slack.apiurl", "expected an http:// or https:// URL"));
        }
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
        let mut runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        runtime.warnings = warnings;
        Ok(Self {
            runtime,
            slack,
            role_to_recipients,
        })
    }
}
