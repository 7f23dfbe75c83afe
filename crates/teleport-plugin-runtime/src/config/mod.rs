//! The plugins' TOML configuration: the common sections and the generic loader.
//!
//! Every plugin reads one TOML file with the same common sections as the Go plugins:
//! `[teleport]` ([`TeleportConfig`]), `[log]` ([`LogConfig`]) and, for the messaging plugins,
//! `[role_to_recipients]` ([`RoleToRecipients`]). The plugin's own sections are read into a
//! plugin-defined type by [`load_plugin_config`].
//!
//! # Key spelling and the go-toml quirk
//!
//! The Go plugins used go-toml v1, which matched a struct field *without* a `toml:"..."` tag
//! against the key spelled exactly like the field, all lower case, all upper case, or with only
//! the first letter lowered. Existing configs rely on that for a few untagged fields, for example
//! Slack's `APIURL` (written `apiurl` in the samples) and PagerDuty's `RequestAnnotations`
//! section (`[pagerduty.requestannotations]`). The loader does nothing special for this: a plugin
//! keeps those spellings working by listing them as serde aliases on its own struct, e.g.
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct SlackSection {
//!     #[serde(default, alias = "APIURL", alias = "apiURL")]
//!     apiurl: Option<String>,
//! }
//! ```
//!
//! Aliases work with the unknown-key warnings: a key matched by an alias is not reported.

mod address;
mod auto_approval;
mod checks;
pub mod duration;
mod error;
mod loader;
mod log;
mod paths;
mod recipients;
mod secret;
mod teleport;

pub use address::is_plain_email;
pub use auto_approval::{ApprovalLimits, AutoApproval, TargetLimits};
pub use checks::{http_url, recipient_key};
pub use error::{ConfigError, ConfigWarning};
pub use loader::{Loaded, load_plugin_config, load_plugin_config_str};
pub use log::{LogConfig, LogFormat, LogOutput, LogSeverity};
pub use recipients::{RecipientsError, RoleToRecipients};
pub use secret::{Secret, SecretError, SecretSource};
pub use teleport::{CredentialsSource, DEFAULT_ADDR, DEFAULT_REFRESH_INTERVAL, TeleportConfig};
