//! The ServiceNow plugin's config file: `[servicenow]` (ours: Teleport runs its Go ServiceNow
//! plugin only as a hosted integration, without a TOML file; the keys mirror its settings)
//! plus the common sections.

use std::path::Path;

use reqwest::Url;
use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{self, ConfigError, Loaded, Secret, load_plugin_config};
use teleport_plugin_runtime::ops::OpsConfig;

use crate::PLUGIN_NAME;

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct ServiceNowFile {
    /// `[servicenow]`.
    pub servicenow: ServiceNowSection,
    /// `[ops]`: health and metrics endpoint.
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[servicenow]` as written.
#[derive(Debug, Deserialize)]
pub struct ServiceNowSection {
    /// The instance URL, e.g. `https://example.service-now.com`.
    #[serde(default, alias = "url", alias = "instance_url")]
    pub api_endpoint: Option<String>,
    /// The ServiceNow user the plugin acts as (basic auth).
    #[serde(default)]
    pub username: Option<String>,
    /// Its password or API token (a value starting with `/` is a file).
    #[serde(alias = "password")]
    pub api_token: Secret,
    /// The `close_code` incidents are resolved with (one of the instance's resolution codes).
    #[serde(default)]
    pub close_code: Option<String>,
    /// `[servicenow.auto_approval]`, as written.
    #[serde(default)]
    pub auto_approval: AutoApproval,
}

/// `[servicenow.auto_approval]`: the runtime's on-call switches around ServiceNow's limit
/// (one type as read and validated).
pub type AutoApproval = config::AutoApproval<ServiceNowLimits>;

teleport_plugin_runtime::target_limits! {
    /// ServiceNow's own key under `[servicenow.auto_approval]`.
    pub struct ServiceNowLimits {
        /// `rotas`: only these of the request's `teleport.dev/schedules` rota IDs count
        /// (`None`: every rota the request names).
        rotas
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`.
    pub runtime: RuntimeConfig,
    /// `[servicenow]`.
    pub servicenow: ServiceNowConfig,
}

/// Validated `[servicenow]`.
#[derive(Debug, Clone)]
pub struct ServiceNowConfig {
    /// The instance URL without a trailing slash: `https://…`, or `http://` on loopback.
    pub api_endpoint: String,
    /// The basic-auth user name.
    pub username: String,
    /// The basic-auth password or API token.
    pub api_token: Secret,
    /// The resolution code incidents are resolved with.
    pub close_code: String,
    /// Auto-approval and its limits.
    pub auto_approval: AutoApproval,
}

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<ServiceNowFile>(path)?)
}

impl Config {
    /// Validates what was read; errors name the file, the key and what was expected.
    pub fn from_loaded(loaded: Loaded<ServiceNowFile>) -> Result<Self, ConfigError> {
        let servicenow = validate(&loaded)?;
        let runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        Ok(Self {
            runtime,
            servicenow,
        })
    }
}

/// The instance URL as the plugin calls it: https, unless the host is a loopback address
/// (tests, a local proxy), where plain http is allowed as in Go (which allows it only for
/// `127.0.0.1`). A URL without a scheme is taken as https.
pub fn instance_url(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|_| "expected the instance URL, e.g. \"https://example.service-now.com\"")?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err("expected the instance URL, e.g. \"https://example.service-now.com\"");
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or_else(|_| bare.eq_ignore_ascii_case("localhost"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("expected an https:// URL (plain http only on a loopback address)"),
        _ => return Err("expected an https:// URL, e.g. \"https://example.service-now.com\""),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("expected the instance URL without user, query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn validate(loaded: &Loaded<ServiceNowFile>) -> Result<ServiceNowConfig, ConfigError> {
    let section = &loaded.plugin.servicenow;
    let required = |value: &Option<String>, key: &str, what: &str| match value
        .as_deref()
        .map(str::trim)
    {
        Some(text) if !text.is_empty() => Ok(text.to_owned()),
        Some(_) => Err(loaded.key_error(key, format!("expected {what}, found an empty string"))),
        None => Err(loaded.key_error(key, format!("expected {what}; the key is missing"))),
    };
    let endpoint = required(
        &section.api_endpoint,
        "servicenow.api_endpoint",
        "the instance URL, e.g. \"https://example.service-now.com\"",
    )?;
    let api_endpoint = instance_url(&endpoint)
        .map_err(|what| loaded.key_error("servicenow.api_endpoint", what))?;
    let username = required(
        &section.username,
        "servicenow.username",
        "the ServiceNow user the plugin acts as",
    )?;
    if section.api_token.is_empty() {
        return Err(loaded.key_error(
            "servicenow.api_token",
            "expected the user's password or API token, found an empty string",
        ));
    }
    let close_code = required(
        &section.close_code,
        "servicenow.close_code",
        "the resolution code incidents are resolved with, e.g. \"Solution provided\"",
    )?;
    Ok(ServiceNowConfig {
        api_endpoint,
        username,
        api_token: section.api_token.clone(),
        close_code,
        auto_approval: section
            .auto_approval
            .validate(loaded, "servicenow.auto_approval")?,
    })
}

#[cfg(test)]
mod tests {
    use super::instance_url;

    #[test]
    fn https_is_forced_and_http_only_on_loopback() {
        assert_eq!(
            instance_url("example.service-now.com/").as_deref(),
            Ok("https://example.service-now.com")
        );
        assert_eq!(
            instance_url("https://example.service-now.com").as_deref(),
            Ok("https://example.service-now.com")
        );
        assert_eq!(
            instance_url("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert!(instance_url("http://localhost:1").is_ok());
        assert!(instance_url("http://[::1]:1").is_ok());
        assert!(instance_url("http://example.service-now.com").is_err());
        assert!(instance_url("ftp://example.service-now.com").is_err());
        assert!(instance_url("https://").is_err());
    }
}
