//! The Opsgenie plugin's config file: `[opsgenie]` (ours: Teleport runs its Go Opsgenie
//! plugin only as a hosted integration, without a TOML file) plus the common sections.

use std::path::Path;

use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{self, ConfigError, Loaded, Secret, load_plugin_config};
use teleport_plugin_runtime::ops::OpsConfig;

use crate::PLUGIN_NAME;

/// Opsgenie's API (the EU instance is `https://api.eu.opsgenie.com`).
pub const DEFAULT_API_ENDPOINT: &str = "https://api.opsgenie.com";

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct OpsgenieFile {
    /// `[opsgenie]`.
    pub opsgenie: OpsgenieSection,
    /// `[ops]`: health and metrics endpoint.
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[opsgenie]` as written.
#[derive(Debug, Deserialize)]
pub struct OpsgenieSection {
    /// The API key of an Opsgenie API integration (a value starting with `/` is a file).
    pub api_key: Secret,
    /// The API base URL.
    #[serde(default)]
    pub api_endpoint: Option<String>,
    /// Alert priority, `P1`..`P5` (Opsgenie's default P3 when unset).
    #[serde(default)]
    pub priority: Option<String>,
    /// Schedules notified when a request has no `teleport.dev/notify-services` annotation.
    #[serde(default)]
    pub default_schedules: Vec<String>,
    /// Teams notified when a request has no `teleport.dev/teams` annotation.
    #[serde(default)]
    pub default_teams: Vec<String>,
    /// `[opsgenie.auto_approval]`, as written.
    #[serde(default)]
    pub auto_approval: AutoApproval,
}

/// `[opsgenie.auto_approval]`: the runtime's on-call switches around Opsgenie's limit (one
/// type as read and validated).
pub type AutoApproval = config::AutoApproval<OpsgenieLimits>;

teleport_plugin_runtime::target_limits! {
    /// Opsgenie's own key under `[opsgenie.auto_approval]`.
    pub struct OpsgenieLimits {
        /// `schedules`: only these of the request's `teleport.dev/schedules` schedules (name
        /// or ID, any case) count (`None`: every schedule the request names).
        schedules
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`.
    pub runtime: RuntimeConfig,
    /// `[opsgenie]`.
    pub opsgenie: OpsgenieConfig,
}

/// Validated `[opsgenie]`.
#[derive(Debug, Clone)]
pub struct OpsgenieConfig {
    /// API base URL without a trailing slash.
    pub api_endpoint: String,
    /// The API key.
    pub api_key: Secret,
    /// Alert priority, if set.
    pub priority: Option<String>,
    /// Schedules to notify without the annotation.
    pub default_schedules: Vec<String>,
    /// Teams to notify without the annotation.
    pub default_teams: Vec<String>,
    /// Auto-approval and its limits.
    pub auto_approval: AutoApproval,
}

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<OpsgenieFile>(path)?)
}

impl Config {
    /// Validates what was read; errors name the file, the key and what was expected.
    pub fn from_loaded(loaded: Loaded<OpsgenieFile>) -> Result<Self, ConfigError> {
        let opsgenie = validate(&loaded)?;
        let runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        Ok(Self { runtime, opsgenie })
    }
}

fn validate(loaded: &Loaded<OpsgenieFile>) -> Result<OpsgenieConfig, ConfigError> {
    let section = &loaded.plugin.opsgenie;
    if section.api_key.is_empty() {
        return Err(loaded.key_error(
            "opsgenie.api_key",
            "expected the API key of an Opsgenie API integration, found an empty string",
        ));
    }
    let api_endpoint = loaded.api_endpoint(
        "opsgenie.api_endpoint",
        section.api_endpoint.as_deref(),
        DEFAULT_API_ENDPOINT,
        "expected an http:// or https:// URL",
    )?;
    let priority = match section.priority.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) if matches!(p, "P1" | "P2" | "P3" | "P4" | "P5") => Some(p.to_owned()),
        Some(_) => {
            return Err(loaded.key_error("opsgenie.priority", "expected one of P1, P2, P3, P4, P5"));
        }
    };
    Ok(OpsgenieConfig {
        api_endpoint: api_endpoint.to_owned(),
        api_key: section.api_key.clone(),
        priority,
        default_schedules: loaded
            .names("opsgenie.default_schedules", &section.default_schedules)?,
        default_teams: loaded.names("opsgenie.default_teams", &section.default_teams)?,
        auto_approval: section
            .auto_approval
            .validate(loaded, "opsgenie.auto_approval")?,
    })
}
