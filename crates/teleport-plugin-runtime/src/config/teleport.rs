//! The `[teleport]` section: which Teleport to connect to and with which credentials.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::error::{ConfigError, ConfigWarning};
use super::loader::Source;

/// The address used when neither `addr` nor `auth_server` is set.
pub const DEFAULT_ADDR: &str = "localhost:3025";

/// How often an identity file is re-read when `refresh_identity` is on and no interval is set.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The validated `[teleport]` section.
///
/// ```toml
/// [teleport]
/// addr = "teleport.example.com:443"          # Auth, Proxy or Cloud address
/// identity = "/var/lib/teleport/plugins/slack/auth_id"
/// refresh_identity = true                    # re-read the identity file (tbot rotates it)
/// refresh_identity_interval = "1m"           # Go duration
/// # or, instead of identity, all three of:
/// # client_key = "/var/lib/teleport/plugins/slack/auth.key"
/// # client_crt = "/var/lib/teleport/plugins/slack/auth.crt"
/// # root_cas = "/var/lib/teleport/plugins/slack/auth.cas"
/// ```
///
/// `auth_server` is the deprecated spelling of `addr`; `addr` wins when both are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeleportConfig {
    addr: String,
    credentials: Option<CredentialsSource>,
    file: PathBuf,
}

/// Where the plugin's Teleport credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSource {
    /// An identity file from `tctl auth sign --format=file` or tbot.
    IdentityFile {
        /// The identity file.
        path: PathBuf,
        /// Re-read the file this often (`refresh_identity = true`), or never.
        refresh: Option<Duration>,
    },
    /// The three files from `tctl auth sign --format=tls`.
    TlsFiles {
        /// Client certificate (`client_crt`).
        cert: PathBuf,
        /// Client private key (`client_key`).
        key: PathBuf,
        /// Teleport's CA certificates (`root_cas`).
        cas: PathBuf,
    },
}

impl TeleportConfig {
    /// A config built in code (tests, embedding). `file` is only used in error messages.
    pub fn new(
        addr: impl Into<String>,
        credentials: Option<CredentialsSource>,
        file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            addr: addr.into(),
            credentials,
            file: file.into(),
        }
    }

    /// The Teleport address: `addr`, else `auth_server`, else [`DEFAULT_ADDR`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The config file this section was read from (for error messages).
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// The configured credentials; an error names the config file when there are none (the
    /// Go plugins' sample configs ship without credentials, so loading does not require them).
    pub fn credentials(&self) -> Result<CredentialsSource, ConfigError> {
        self.credentials
            .clone()
            .ok_or_else(|| ConfigError::NoCredentials {
                file: self.file.clone(),
            })
    }
}

/// `[teleport]` as written. Empty strings mean "not set", as in Go.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawTeleport {
    addr: String,
    auth_server: String,
    identity: String,
    client_key: String,
    client_crt: String,
    root_cas: String,
    refresh_identity: bool,
    #[serde(deserialize_with = "super::duration::deserialize_opt_go_duration")]
    refresh_identity_interval: Option<Duration>,
}

impl RawTeleport {
    /// Applies the Go plugins' defaults and rules.
    pub(crate) fn validate(
        self,
        source: &Source,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<TeleportConfig, ConfigError> {
        if !self.auth_server.is_empty() {
            warnings.push(ConfigWarning::Deprecated {
                file: source.file().to_path_buf(),
                key: "teleport.auth_server".into(),
                advice: if self.addr.is_empty() {
                    "use teleport.addr".into()
                } else {
                    "teleport.addr is also set and is used instead".into()
                },
            });
        }
        let addr = [self.addr, self.auth_server]
            .into_iter()
            .find(|a| !a.is_empty())
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());

        let tls = [
            ("client_key", &self.client_key),
            ("client_crt", &self.client_crt),
            ("root_cas", &self.root_cas),
        ];
        let tls_set: Vec<&str> = tls
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| *k)
            .collect();
        if !self.identity.is_empty() && !tls_set.is_empty() {
            return Err(source.key_error(
                "teleport.identity",
                format!(
                    "cannot be combined with {}; use either an identity file or the three TLS files",
                    tls_set.join(", ")
                ),
            ));
        }
        if !tls_set.is_empty()
            && let Some((missing, _)) = tls.iter().find(|(_, v)| v.is_empty())
        {
            return Err(source.key_error(
                &format!("teleport.{missing}"),
                format!(
                    "is required because {} {} set (client_key, client_crt and root_cas go together)",
                    tls_set.join(" and "),
                    if tls_set.len() == 1 { "is" } else { "are" }
                ),
            ));
        }

        let interval = self
            .refresh_identity_interval
            .unwrap_or(DEFAULT_REFRESH_INTERVAL);
        if self.refresh_identity && interval.is_zero() {
            return Err(source.key_error(
                "teleport.refresh_identity_interval",
                "expected a positive duration such as \"1m\", found a zero duration",
            ));
        }
        if self.refresh_identity && self.identity.is_empty() {
            warnings.push(ConfigWarning::NoEffect {
                file: source.file().to_path_buf(),
                key: "teleport.refresh_identity".into(),
                reason: "only an identity file (teleport.identity) can be refreshed".into(),
            });
        }

        let credentials = if !self.identity.is_empty() {
            Some(CredentialsSource::IdentityFile {
                path: self.identity.into(),
                refresh: self.refresh_identity.then_some(interval),
            })
        } else if !tls_set.is_empty() {
            Some(CredentialsSource::TlsFiles {
                cert: self.client_crt.into(),
                key: self.client_key.into(),
                cas: self.root_cas.into(),
            })
        } else {
            None
        };
        Ok(TeleportConfig {
            addr,
            credentials,
            file: source.file().to_path_buf(),
        })
    }
}
