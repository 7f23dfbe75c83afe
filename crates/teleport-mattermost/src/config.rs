//! The Mattermost plugin's config file: `[mattermost]` plus the common sections, validated.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    ConfigError, ConfigWarning, Loaded, RoleToRecipients, Secret, is_plain_email,
    load_plugin_config, recipient_key,
};
use teleport_plugin_runtime::ops::OpsConfig;

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct MattermostFile {
    /// `[mattermost]`.
    pub mattermost: MattermostSection,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[mattermost]` as written.
#[derive(Debug, Deserialize)]
pub struct MattermostSection {
    /// The server's base URL, e.g. `https://mattermost.example.com`.
    pub url: String,
    /// The bot's access token (a value starting with `/` is a file to read).
    pub token: Secret,
    /// Legacy catch-all recipients; they become `role_to_recipients."*"`.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Send the requester every outcome by direct message (ours, opt-in: the Go plugin
    /// never did).
    #[serde(default)]
    pub notify_requester: bool,
    /// Extra CA certificates (PEM) to trust for the server (ours; a self-hosted CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Pre-2021 configs named one team and channel to post to.
    #[serde(default)]
    pub team: Option<String>,
    /// Pre-2021 companion of `team`.
    #[serde(default)]
    pub channel: Option<String>,
    /// Pre-2021 signing secret of the interactive buttons; no longer used.
    #[serde(default)]
    pub secret: Option<String>,
}

/// One configured or suggested recipient.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecipientSpec {
    /// A user, reached by a direct message.
    Email(String),
    /// A channel in a team; each part is a URL name or a display name.
    Channel {
        /// The team.
        team: String,
        /// The channel (a leading `~` is dropped).
        channel: String,
    },
}

impl RecipientSpec {
    /// `user@example.com` or `team/channel`; `None` for any other shape.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if is_plain_email(raw) {
            return Some(Self::Email(raw.to_owned()));
        }
        let (team, channel) = raw.split_once('/')?;
        let channel = channel.trim().trim_start_matches('~').trim();
        let team = team.trim();
        if team.is_empty() || channel.is_empty() || channel.contains('/') {
            return None;
        }
        Some(Self::Channel {
            team: team.to_owned(),
            channel: channel.to_owned(),
        })
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`, and the legacy keys found by this plugin's validation (the
    /// loader's own warnings stay in [`Loaded::warnings`]).
    pub runtime: RuntimeConfig,
    /// `[mattermost]`.
    pub mattermost: MattermostSettings,
    /// Who gets which request (legacy keys folded in).
    pub role_to_recipients: RoleToRecipients,
}

/// Validated `[mattermost]`.
#[derive(Debug, Clone)]
pub struct MattermostSettings {
    /// The server URL without a trailing slash.
    pub url: String,
    /// The bot token.
    pub token: Secret,
    /// Tell the requester the decision.
    pub notify_requester: bool,
    /// Extra CA file for the server's certificate.
    pub ca_file: Option<PathBuf>,
}

const SHAPE: &str = "expected an e-mail address or \"team/channel\"";

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<MattermostFile>(path)?)
}

impl Config {
    /// Validates a loaded file and folds the legacy recipient keys into `role_to_recipients`.
    pub fn from_loaded(loaded: Loaded<MattermostFile>) -> Result<Self, ConfigError> {
        validate(loaded)
    }
}

fn validate(loaded: Loaded<MattermostFile>) -> Result<Config, ConfigError> {
    let file = loaded.file().to_path_buf();
    let section = &loaded.plugin.mattermost;

    let url = section.url.trim().trim_end_matches('/');
    loaded.http_url(
        "mattermost.url",
        url,
        "expected the server's http:// or https:// URL",
    )?;
    if section.token.is_empty() {
        return Err(loaded.key_error(
            "mattermost.token",
            "expected the bot's access token, found an empty string",
        ));
    }

    loaded.check_ca_file("mattermost.ca_file", section.ca_file.as_deref())?;
    let mut warnings = Vec::new();
    let mut role_to_recipients = loaded.role_to_recipients.clone();
    // The Go plugin checked recipients only when a request came, logged the bad ones and
    // went on with the rest: a bad one is a warning here, and skipped at run time.
    for (role, recipients) in role_to_recipients.iter() {
        for (index, raw) in recipients.iter().enumerate() {
            if RecipientSpec::parse(raw).is_none() {
                let key = recipient_key(role, index, recipients.len());
                warnings.push(loaded.key_warning(&key, format!("{SHAPE}; it is skipped")));
            }
        }
    }

    let mut legacy = Vec::new();
    for (index, raw) in section.recipients.iter().enumerate() {
        if RecipientSpec::parse(raw).is_none() {
            warnings.push(loaded.key_warning(
                &format!("mattermost.recipients[{index}]"),
                format!("{SHAPE}; it is skipped"),
            ));
        }
    }
    if !section.recipients.is_empty() {
        legacy.extend(section.recipients.iter().cloned());
        warnings.push(ConfigWarning::Deprecated {
            file: file.clone(),
            key: "mattermost.recipients".into(),
            advice: "list the recipients under role_to_recipients.\"*\" instead".into(),
        });
    }
    match (&section.team, &section.channel) {
        (Some(team), Some(channel)) => {
            legacy.push(format!("{}/{}", team.trim(), channel.trim()));
            warnings.push(ConfigWarning::Deprecated {
                file: file.clone(),
                key: "mattermost.team".into(),
                advice: format!(
                    "write role_to_recipients.\"*\" = [\"{}/{}\"] instead of mattermost.team and mattermost.channel",
                    team.trim(),
                    channel.trim()
                ),
            });
        }
        (Some(_), None) | (None, Some(_)) => warnings.push(ConfigWarning::NoEffect {
            file: file.clone(),
            key: if section.team.is_some() {
                "mattermost.team".into()
            } else {
                "mattermost.channel".into()
            },
            reason: "mattermost.team and mattermost.channel only work together".into(),
        }),
        (None, None) => {}
    }
    if section.secret.is_some() {
        warnings.push(ConfigWarning::NoEffect {
            file: file.clone(),
            key: "mattermost.secret".into(),
            reason: "interactive buttons were removed; the plugin only posts messages".into(),
        });
    }
    if !legacy.is_empty() {
        if !role_to_recipients.is_empty() {
            // What the Go plugin did: the legacy list became the whole map.
            warnings.push(loaded.key_warning(
                "mattermost.recipients",
                "set together with [role_to_recipients], which it replaces as in the Go plugin: every request goes to these recipients (keep only role_to_recipients)",
            ));
            role_to_recipients = RoleToRecipients::default();
        }
        role_to_recipients.insert("*", legacy);
    }

    let settings = MattermostSettings {
        url: url.to_owned(),
        token: section.token.clone(),
        notify_requester: section.notify_requester,
        ca_file: section.ca_file.clone(),
    };
    let mut runtime = RuntimeConfig::new(crate::PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
    runtime.warnings = warnings;
    Ok(Config {
        runtime,
        mattermost: settings,
        role_to_recipients,
    })
}

#[cfg(test)]
mod tests {
    use super::RecipientSpec;

    #[test]
    fn recipient_shapes() {
        assert_eq!(
            RecipientSpec::parse("alice@example.com"),
            Some(RecipientSpec::Email("alice@example.com".into()))
        );
        assert_eq!(
            RecipientSpec::parse("eng/~access-requests"),
            Some(RecipientSpec::Channel {
                team: "eng".into(),
                channel: "access-requests".into()
            })
        );
        assert_eq!(
            RecipientSpec::parse("Engineering Team/Access Requests"),
            Some(RecipientSpec::Channel {
                team: "Engineering Team".into(),
                channel: "Access Requests".into()
            })
        );
        for bad in ["", "channel", "a/b/c", "/c", "t/", "Jo <jo@example.com>"] {
            assert_eq!(RecipientSpec::parse(bad), None, "{bad}");
        }
    }
}
