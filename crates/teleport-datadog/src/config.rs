//! The Datadog plugin's config file, as Go's `teleport-datadog` reads it — `[datadog]`
//! (`api_endpoint`, `api_key`, `application_key`, `severity`) and `[role_to_recipients]`
//! with its required `"*"` — plus our `[datadog.auto_approval]` limits and the common
//! sections.

use std::path::Path;

use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    self, ConfigError, Loaded, RoleToRecipients, Secret, load_plugin_config,
};
use teleport_plugin_runtime::ops::OpsConfig;

use crate::PLUGIN_NAME;

/// Datadog's US1 site; other sites use their own `api.` host.
pub const DEFAULT_API_ENDPOINT: &str = "https://api.datadoghq.com";
/// The incident severity when none is configured (Go's default).
pub const DEFAULT_SEVERITY: &str = "SEV-3";

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct DatadogFile {
    /// `[datadog]`.
    pub datadog: DatadogSection,
    /// `[ops]`: health and metrics endpoint.
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[datadog]` as written.
#[derive(Debug, Deserialize)]
pub struct DatadogSection {
    /// The API base URL (the site's `api.` host).
    #[serde(default)]
    pub api_endpoint: Option<String>,
    /// The API key (a value starting with `/` is a file).
    pub api_key: Secret,
    /// The application key (a value starting with `/` is a file).
    pub application_key: Secret,
    /// The incidents' severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// `[datadog.auto_approval]`, as written.
    #[serde(default)]
    pub auto_approval: AutoApproval,
}

/// `[datadog.auto_approval]`: the runtime's on-call switches around Datadog's limit (one
/// type as read and validated).
pub type AutoApproval = config::AutoApproval<DatadogLimits>;

teleport_plugin_runtime::target_limits! {
    /// Datadog's own key under `[datadog.auto_approval]`.
    pub struct DatadogLimits {
        /// `teams`: only these of the request's `teleport.dev/schedules` teams (handle or
        /// name, any case) count (`None`: every team the request names).
        teams
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`.
    pub runtime: RuntimeConfig,
    /// `[datadog]`.
    pub datadog: DatadogConfig,
    /// `[role_to_recipients]`: e-mail addresses become notification handles, anything else
    /// a team.
    pub role_to_recipients: RoleToRecipients,
}

/// Validated `[datadog]`.
#[derive(Debug, Clone)]
pub struct DatadogConfig {
    /// API base URL without a trailing slash (`api/v2` is appended per call).
    pub api_endpoint: String,
    /// The API key (`DD-API-KEY`).
    pub api_key: Secret,
    /// The application key (`DD-APPLICATION-KEY`).
    pub application_key: Secret,
    /// The incidents' severity.
    pub severity: String,
    /// Auto-approval and its limits.
    pub auto_approval: AutoApproval,
}

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<DatadogFile>(path)?)
}

impl Config {
    /// Validates what was read; errors name the file, the key and what was expected.
    pub fn from_loaded(loaded: Loaded<DatadogFile>) -> Result<Self, ConfigError> {
        let datadog = validate(&loaded)?;
        let role_to_recipients = loaded.require_role_to_recipients()?.clone();
        let mut runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        // Go's access-request app follows access monitoring rules for Datadog too.
        runtime.access_monitoring_rules = true;
        Ok(Self {
            runtime,
            datadog,
            role_to_recipients,
        })
    }
}

fn validate(loaded: &Loaded<DatadogFile>) -> Result<DatadogConfig, ConfigError> {
    let section = &loaded.plugin.datadog;
    for (key, value) in [
        ("api_key", &section.api_key),
        ("application_key", &section.application_key),
    ] {
        if value.is_empty() {
            return Err(loaded.key_error(
                &format!("datadog.{key}"),
                "expected a Datadog key (or a file holding it), found an empty string",
            ));
        }
        // It travels as an HTTP header value.
        if !value.expose().chars().all(|c| c.is_ascii_graphic()) {
            return Err(loaded.key_error(
                &format!("datadog.{key}"),
                "expected a Datadog key: visible ASCII characters without spaces",
            ));
        }
    }
    // An empty endpoint is go-toml's unset key: the default, as Go.
    let api_endpoint = loaded.api_endpoint(
        "datadog.api_endpoint",
        section.api_endpoint.as_deref().filter(|e| !e.trim().is_empty()),
        DEFAULT_API_ENDPOINT,
        "expected an http:// or https:// URL such as https://api.datadoghq.com (the site's api. host)",
    )?;
    let severity = match section.severity.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_SEVERITY.to_owned(),
        Some(severity) => severity.to_owned(),
    };
    Ok(DatadogConfig {
        api_endpoint: api_endpoint.to_owned(),
        api_key: section.api_key.clone(),
        application_key: section.application_key.clone(),
        severity,
        auto_approval: section
            .auto_approval
            .validate(loaded, "datadog.auto_approval")?,
    })
}
