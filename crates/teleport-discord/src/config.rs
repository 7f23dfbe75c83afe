//! The Discord plugin's config file: `[discord]` plus the common sections, validated.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    ConfigError, Loaded, RoleToRecipients, Secret, load_plugin_config, recipient_key,
};
use teleport_plugin_runtime::ops::OpsConfig;

use crate::PLUGIN_NAME;

/// Discord's REST API, version 10. The Go plugin's default (`https://discord.com/api/`,
/// unversioned) reaches the long-deprecated v6; the calls and fields used are the same in
/// both, so a configured `apiurl` is used as written.
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10/";

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct DiscordFile {
    /// `[discord]`.
    pub discord: DiscordSection,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[discord]` as written.
#[derive(Debug, Deserialize)]
pub struct DiscordSection {
    /// The bot token (a value starting with `/` is a file to read).
    pub token: Secret,
    /// API base URL (Go's untagged `APIURL`, matched case-insensitively by go-toml).
    #[serde(default, alias = "APIURL", alias = "aPIURL", alias = "api_url")]
    pub apiurl: Option<String>,
    /// Extra CA certificates (PEM) to trust for the API (ours; a TLS-inspecting proxy).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[teleport]`, `[ops]` and what else the runtime needs.
    pub runtime: RuntimeConfig,
    /// `[discord]`.
    pub discord: DiscordSettings,
    /// `[role_to_recipients]`: channel IDs, with the required `"*"` entry.
    pub role_to_recipients: RoleToRecipients,
}

/// Validated `[discord]`.
#[derive(Debug, Clone)]
pub struct DiscordSettings {
    /// The bot token.
    pub token: Secret,
    /// The API base URL, ending with `/`.
    pub api_url: String,
    /// Extra CA file for the API's certificate.
    pub ca_file: Option<PathBuf>,
}

/// Whether `raw` is a Discord snowflake: the only recipient Discord's bot API can post to
/// is a channel by ID (a bot cannot look users up by e-mail, nor channels by name).
pub fn is_channel_id(raw: &str) -> bool {
    (1..=20).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit())
}

const SHAPE: &str = "expected a Discord channel ID (digits only: in Discord, turn on Developer Mode, then right-click the channel and \"Copy Channel ID\")";

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<DiscordFile>(path)?)
}

impl Config {
    /// Validates what was read; errors name the file, the key and what was expected.
    pub fn from_loaded(loaded: Loaded<DiscordFile>) -> Result<Self, ConfigError> {
        let role_to_recipients = loaded.require_role_to_recipients()?.clone();
        for (role, recipients) in role_to_recipients.iter() {
            if let Some(index) = recipients.iter().position(|r| !is_channel_id(r.trim())) {
                let key = recipient_key(role, index, recipients.len());
                return Err(loaded.key_error(&key, SHAPE));
            }
        }
        let section = &loaded.plugin.discord;
        if section.token.is_empty() {
            return Err(loaded.key_error(
                "discord.token",
                "expected the bot's token, found an empty string",
            ));
        }
        let mut api_url = section
            .apiurl
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .unwrap_or(DEFAULT_API_URL)
            .to_owned();
        loaded.http_url(
            "discord.apiurl",
            &api_url,
            "expected an http:// or https:// URL",
        )?;
        if !api_url.ends_with('/') {
            api_url.push('/');
        }
        loaded.check_ca_file("discord.ca_file", section.ca_file.as_deref())?;
        let discord = DiscordSettings {
            token: section.token.clone(),
            api_url,
            ca_file: section.ca_file.clone(),
        };
        let runtime = RuntimeConfig::new(PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        Ok(Self {
            runtime,
            discord,
            role_to_recipients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_channel_id;

    #[test]
    fn channel_ids_are_snowflakes() {
        for good in ["1234567890", "1100000000000000001", "18446744073709551615"] {
            assert!(is_channel_id(good), "{good}");
        }
        for bad in [
            "",
            "#general",
            "general",
            "alice@example.com",
            "12 34",
            "123456789012345678901",
        ] {
            assert!(!is_channel_id(bad), "{bad}");
        }
    }
}
