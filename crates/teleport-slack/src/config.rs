//! Configuration of the Slack plugin: the Go plugin's `[slack]` section, unchanged, plus our additions.

use std::path::PathBuf;

use serde::Deserialize;
use teleport_plugin_runtime::app::OpsConfig;
use teleport_plugin_runtime::config::Secret;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

/// The plugin's own sections (the common ones are read by the runtime).
#[derive(Debug, Deserialize)]
pub struct SlackPluginConfig {
    /// `[slack]`.
    pub slack: SlackSection,
    /// `[ops]`: health and metrics endpoint (ours).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[slack]`.
#[derive(Debug, Deserialize)]
pub struct SlackSection {
    /// Bot OAuth token (`xoxb-...`), inline, a `/path`, `file:path` or `env:NAME`.
    pub token: Secret,
    /// API base URL (Go's untagged `APIURL`, matched case-insensitively by go-toml).
    #[serde(default, alias = "APIURL", alias = "aPIURL", alias = "api_url")]
    pub apiurl: Option<String>,
    /// Legacy recipient list: ignored since Go v11 in favour of `role_to_recipients`.
    #[serde(default)]
    pub recipients: Option<toml::Value>,
    /// DM the requester the decision (ours; default on).
    #[serde(default = "default_true")]
    pub notify_requester: bool,
    /// An extra CA certificate file to trust for the Slack API (ours; for TLS-inspecting proxies).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_true() -> bool {
    true
}

impl SlackSection {
    /// The API base URL to use.
    pub fn api_url(&self) -> &str {
        self.apiurl
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_API_URL)
    }
}

/// The sample printed by `teleport-slack configure`.
pub const SAMPLE: &str = include_str!("sample.toml");
