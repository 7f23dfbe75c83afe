//! The Jira plugin's config file: `[jira]` and `[http]` in the Go plugin's keys, plus ours
//! (`[jira] poll_interval`, `ca_file`, `[ops]`), validated once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::duration::parse_go_duration;
use teleport_plugin_runtime::config::{ConfigError, Loaded, Secret, load_plugin_config};
pub use teleport_plugin_runtime::inbound::InboundTuning;
use teleport_plugin_runtime::inbound::{HttpConfig, HttpSection};
use teleport_plugin_runtime::ops::OpsConfig;

/// The issue type Go's plugin created.
pub const DEFAULT_ISSUE_TYPE: &str = "Task";

/// The shortest polling interval accepted: Jira Cloud rate-limits per user.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct JiraFile {
    /// `[jira]`.
    pub jira: JiraSection,
    /// `[http]`: the webhook listener; optional when polling.
    #[serde(default)]
    pub http: Option<HttpSection>,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[jira]` as written.
#[derive(Debug, Deserialize)]
pub struct JiraSection {
    /// `https://<site>.atlassian.net`, or a Jira Data Center / Server URL.
    pub url: String,
    /// The user the plugin acts as (an e-mail address on Jira Cloud).
    pub username: String,
    /// Its API token (Cloud) or password (Data Center): inline, `/path`, `file:` or `env:`.
    pub api_token: Secret,
    /// The project key issues are created in.
    #[serde(default)]
    pub project: String,
    /// The issue type to create (Go's checkout ignored it and always made a `Task`).
    #[serde(default)]
    pub issue_type: Option<String>,
    /// Ours: poll Jira for decisions this often (a Go duration such as `"30s"`).
    #[serde(default)]
    pub poll_interval: Option<String>,
    /// Ours: an extra CA to trust for the Jira API (a self-hosted Jira with a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Validated `[jira]`.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// The site URL, without a trailing slash.
    pub url: String,
    /// The API user.
    pub username: String,
    /// The API token.
    pub api_token: Secret,
    /// The project key.
    pub project: String,
    /// The issue type.
    pub issue_type: String,
    /// How often to poll for decisions; `None` = webhook only.
    pub poll_interval: Option<Duration>,
    /// An extra CA for the Jira API.
    pub ca_file: Option<PathBuf>,
}

impl JiraConfig {
    /// A config with the defaults, for code and tests.
    pub fn new(
        url: impl Into<String>,
        username: impl Into<String>,
        api_token: Secret,
        project: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            username: username.into(),
            api_token,
            project: project.into(),
            issue_type: DEFAULT_ISSUE_TYPE.to_owned(),
            poll_interval: None,
            ca_file: None,
        }
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`, and keys without effect found by this plugin's validation.
    pub runtime: RuntimeConfig,
    /// `[jira]`.
    pub jira: JiraConfig,
    /// `[http]`: the webhook listener, `None` when only polling.
    pub http: Option<HttpConfig>,
    /// Inbound timings that are not in the TOML: production defaults; tests shorten them.
    pub inbound: InboundTuning,
}

/// Loads and validates a config file; `insecure` is `start --insecure-no-tls`.
pub fn load(path: impl AsRef<Path>, insecure: bool) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<JiraFile>(path)?, insecure)
}

impl Config {
    /// Validates a loaded file.
    pub fn from_loaded(loaded: Loaded<JiraFile>, insecure: bool) -> Result<Self, ConfigError> {
        let mut warnings = Vec::new();
        let jira = validate_jira(&loaded)?;
        // Without polling the webhook is the only way decisions arrive, so the listener runs
        // with Go's defaults even when [http] is absent, as in Go.
        let http = match (&loaded.plugin.http, jira.poll_interval) {
            (None, Some(_)) => None,
            (section, _) => Some(section.clone().unwrap_or_default().validate(
                &loaded,
                "http",
                insecure,
                &mut warnings,
            )?),
        };
        let mut runtime =
            RuntimeConfig::new(crate::PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        runtime.warnings = warnings;
        Ok(Self {
            runtime,
            jira,
            http,
            inbound: InboundTuning::default(),
        })
    }
}

fn validate_jira(loaded: &Loaded<JiraFile>) -> Result<JiraConfig, ConfigError> {
    let section = &loaded.plugin.jira;
    let url = section.url.trim().trim_end_matches('/');
    let host_ok = url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty())
        && reqwest::Url::parse(url).is_ok();
    if !host_ok {
        return Err(loaded.key_error(
            "jira.url",
            "expected the https:// URL of the Jira site (e.g. https://example.atlassian.net)",
        ));
    }
    let username = section.username.trim();
    if username.is_empty() {
        return Err(loaded.key_error(
            "jira.username",
            "expected the Jira user the plugin acts as (an e-mail address on Jira Cloud)",
        ));
    }
    if section.api_token.is_empty() {
        return Err(loaded.key_error(
            "jira.api_token",
            "expected the user's API token (Cloud) or password (Data Center), found an empty string",
        ));
    }
    let project = section.project.trim();
    if project.is_empty() {
        return Err(loaded.key_error(
            "jira.project",
            "expected the key of the project issues are created in (e.g. \"ACC\")",
        ));
    }
    let issue_type = match section.issue_type.as_deref().map(str::trim) {
        None => DEFAULT_ISSUE_TYPE.to_owned(),
        Some("") => {
            return Err(loaded.key_error(
                "jira.issue_type",
                "expected an issue type name such as \"Task\", found an empty string",
            ));
        }
        Some(name) => name.to_owned(),
    };
    let poll_interval = match section.poll_interval.as_deref() {
        None => None,
        Some(text) => {
            let interval = parse_go_duration(text.trim())
                .map_err(|e| loaded.key_error("jira.poll_interval", e.to_string()))?;
            if interval < MIN_POLL_INTERVAL {
                return Err(loaded.key_error(
                    "jira.poll_interval",
                    format!(
                        "expected at least {}s between polls (Jira rate-limits its API)",
                        MIN_POLL_INTERVAL.as_secs()
                    ),
                ));
            }
            Some(interval)
        }
    };
    Ok(JiraConfig {
        url: url.to_owned(),
        username: username.to_owned(),
        api_token: section.api_token.clone(),
        project: project.to_owned(),
        issue_type,
        poll_interval,
        ca_file: section.ca_file.clone(),
    })
}
