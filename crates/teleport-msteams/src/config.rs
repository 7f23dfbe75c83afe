//! The Teams plugin's config file: top-level `preload`, `[msapi]` plus the common
//! sections, validated.

use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    ConfigError, Loaded, RoleToRecipients, Secret, load_plugin_config, recipient_key,
};
use teleport_plugin_runtime::ops::OpsConfig;

use crate::PLUGIN_NAME;
use crate::client::{Credentials, Endpoints};
use crate::recipient::channel_link;

/// The identity platform (token endpoint) base.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// Graph v1.0.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// The Bot Framework's global service URL.
pub const DEFAULT_BOT_FRAMEWORK_URL: &str = "https://smba.trafficmanager.net";
/// The Bot Framework region Go's plugin uses by default.
pub const DEFAULT_REGION: &str = "emea";

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct MsTeamsFile {
    /// `preload`: resolve every configured recipient at start-up (installing the app for
    /// people), as Go's plugin does; its Helm chart sets it.
    #[serde(default)]
    pub preload: bool,
    /// `[msapi]`.
    pub msapi: MsApiSection,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[msapi]` as written.
#[derive(Debug, Deserialize)]
pub struct MsApiSection {
    /// The Entra ID application (client) ID; for the bot, the app's ID, not the bot's.
    #[serde(default)]
    pub app_id: String,
    /// The application secret (a value starting with `/` is a file to read).
    pub app_secret: Secret,
    /// The tenant ID.
    #[serde(default)]
    pub tenant_id: String,
    /// The Teams app's ID: the manifest's `id`, which `configure` generates.
    #[serde(default)]
    pub teams_app_id: String,
    /// The Bot Framework region (`emea` by default).
    #[serde(default)]
    pub region: Option<String>,
    /// The identity platform base (ours; for tests and national clouds).
    #[serde(default)]
    pub login_url: Option<String>,
    /// Graph's base (ours).
    #[serde(default)]
    pub graph_url: Option<String>,
    /// The Bot Framework's service URL (ours).
    #[serde(default)]
    pub bot_framework_url: Option<String>,
    /// Extra CA certificates (PEM) to trust for the APIs (ours; a TLS-inspecting proxy).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Look a card posted but never recorded (a replica killed in between) up through
    /// Graph before posting it again (ours; off by default, since it needs the application
    /// permissions `Chat.Read.All` and, for channels, `ChannelMessage.Read.All`).
    #[serde(default)]
    pub lookup_posted: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[teleport]`, `[ops]` and what else the runtime needs.
    pub runtime: RuntimeConfig,
    /// `[msapi]`.
    pub msapi: MsApiSettings,
    /// `preload`.
    pub preload: bool,
    /// `[role_to_recipients]`: e-mails, user IDs and channel links, with `"*"`.
    pub role_to_recipients: RoleToRecipients,
}

/// Validated `[msapi]`.
#[derive(Debug, Clone)]
pub struct MsApiSettings {
    /// The app's credentials.
    pub credentials: Credentials,
    /// The Teams app ID (`teams_app_id`).
    pub teams_app_id: String,
    /// Where the APIs are.
    pub endpoints: Endpoints,
    /// Extra CA file for the APIs' certificates.
    pub ca_file: Option<PathBuf>,
    /// `lookup_posted`: look posted cards up through Graph on a takeover.
    pub lookup_posted: bool,
}

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<MsTeamsFile>(path)?)
}

/// An http(s) URL, or an error naming `key`.
fn url_at<P>(
    loaded: &Loaded<P>,
    key: &str,
    given: Option<&str>,
    default: &str,
) -> Result<Url, ConfigError> {
    let text = given
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(default);
    loaded.http_url(key, text, "expected an http:// or https:// URL")
}

impl Config {
    /// Validates what was read; errors name the file, the key and what was expected.
    pub fn from_loaded(loaded: Loaded<MsTeamsFile>) -> Result<Self, ConfigError> {
        let role_to_recipients = loaded.require_role_to_recipients()?.clone();
        for (role, recipients) in role_to_recipients.iter() {
            for (index, recipient) in recipients.iter().enumerate() {
                let recipient = recipient.trim();
                let looks_like_link =
                    recipient.starts_with("https://") || recipient.starts_with("http://");
                if recipient.is_empty() || (looks_like_link && channel_link(recipient).is_none()) {
                    let key = recipient_key(role, index, recipients.len());
                    return Err(loaded.key_error(&key, "expected an e-mail address, a Microsoft Entra ID user ID, or a channel link (in Teams: the channel's \"...\" menu, \"Get link to channel\": https://teams.microsoft.com/l/channel/<id>/<name>?groupId=...&tenantId=...)"));
                }
            }
        }
        let section = &loaded.plugin.msapi;
        let required = |key: &str, value: &str, what: &str| {
            if value.trim().is_empty() {
                Err(loaded.key_error(key, format!("expected {what}, found nothing")))
            } else {
                Ok(value.trim().to_owned())
            }
        };
        let app_id = required(
            "msapi.app_id",
            &section.app_id,
            "the Entra ID application (client) ID",
        )?;
        let tenant_id = required(
            "msapi.tenant_id",
            &section.tenant_id,
            "the Entra ID tenant ID",
        )?;
        let teams_app_id = required(
            "msapi.teams_app_id",
            &section.teams_app_id,
            "the Teams app ID (the manifest's id, printed by `teleport-msteams configure`)",
        )?;
        if section.app_secret.is_empty() {
            return Err(loaded.key_error(
                "msapi.app_secret",
                "expected the application's client secret, found an empty string",
            ));
        }
        let region = section
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_REGION);
        if !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(loaded.key_error(
                "msapi.region",
                "expected a Bot Framework region such as emea, amer or apac",
            ));
        }
        let endpoints = Endpoints {
            login: url_at(
                &loaded,
                "msapi.login_url",
                section.login_url.as_deref(),
                DEFAULT_LOGIN_URL,
            )?,
            graph: url_at(
                &loaded,
                "msapi.graph_url",
                section.graph_url.as_deref(),
                DEFAULT_GRAPH_URL,
            )?,
            bot_framework: url_at(
                &loaded,
                "msapi.bot_framework_url",
                section.bot_framework_url.as_deref(),
                DEFAULT_BOT_FRAMEWORK_URL,
            )?,
            region: region.to_owned(),
        };
        loaded.check_ca_file("msapi.ca_file", section.ca_file.as_deref())?;
        let msapi = MsApiSettings {
            credentials: Credentials {
                app_id,
                app_secret: section.app_secret.clone(),
                tenant_id,
            },
            teams_app_id,
            endpoints,
            ca_file: section.ca_file.clone(),
            lookup_posted: section.lookup_posted,
        };
        let preload = loaded.plugin.preload;
        let runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        Ok(Self {
            runtime,
            msapi,
            preload,
            role_to_recipients,
        })
    }
}
