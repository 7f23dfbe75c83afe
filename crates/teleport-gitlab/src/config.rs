//! The GitLab plugin's config file: `[gitlab]`, `[http]` and `[db]` as the Go plugin read
//! them, plus ours (`poll_interval`, `min_access_level`, `ca_file`, `[ops]`), validated once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::duration::deserialize_opt_go_duration;
use teleport_plugin_runtime::config::{
    ConfigError, ConfigWarning, Loaded, Secret, load_plugin_config,
};
pub use teleport_plugin_runtime::inbound::InboundTuning;
use teleport_plugin_runtime::inbound::{HttpConfig, HttpSection};
use teleport_plugin_runtime::ops::OpsConfig;

/// gitlab.com, used when `url` is empty (as in Go).
pub const DEFAULT_URL: &str = "https://gitlab.com";
/// Who may decide by default: Maintainer.
pub const DEFAULT_MIN_ACCESS_LEVEL: u8 = 40;
/// Polling more often than this would only load GitLab.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct GitlabFile {
    /// `[gitlab]`.
    pub gitlab: GitlabSection,
    /// `[http]`: the webhook listener, as in the Go plugin (and Jira); optional when polling.
    #[serde(default)]
    pub http: Option<HttpSection>,
    /// `[db]`: the Go plugin's bbolt file. Accepted and ignored.
    #[serde(default)]
    pub db: Option<DbSection>,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[db]` as the Go plugin wrote it.
#[derive(Debug, Default, Deserialize)]
pub struct DbSection {
    /// The bbolt file.
    #[serde(default)]
    pub path: Option<String>,
}

/// `[gitlab]` as written.
#[derive(Debug, Deserialize)]
pub struct GitlabSection {
    /// The instance: empty or absent for gitlab.com, or a self-managed base URL.
    #[serde(default)]
    pub url: Option<String>,
    /// A token sent as `PRIVATE-TOKEN` (inline, `/path`, `file:` or `env:`).
    pub token: Secret,
    /// The project: its numeric ID or its `group/project` path.
    pub project_id: TextOrNumber,
    /// The secret GitLab sends as `X-Gitlab-Token` with every webhook delivery.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    /// Ours: look for decisions every so often (Go duration, e.g. `"30s"`).
    #[serde(default, deserialize_with = "deserialize_opt_go_duration")]
    pub poll_interval: Option<Duration>,
    /// Ours: the least role whose label counts (10 guest … 50 owner, or the role's name).
    #[serde(default)]
    pub min_access_level: Option<TextOrNumber>,
    /// Ours: an extra CA file to trust for a self-managed instance.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// A value written as a string or as an integer (`project_id = 1812345` or `"1812345"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextOrNumber(pub String);

impl<'de> Deserialize<'de> for TextOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = TextOrNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<TextOrNumber, E> {
                Ok(TextOrNumber(text.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<TextOrNumber, E> {
                Ok(TextOrNumber(number.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<TextOrNumber, E> {
                Ok(TextOrNumber(number.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Which project the plugin works in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectRef {
    /// By numeric ID.
    Id(u64),
    /// By `group/subgroup/project` path.
    Path(String),
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Path(path) => f.write_str(path),
        }
    }
}

/// Where GitLab delivers webhooks and with which secret.
#[derive(Clone)]
pub struct WebhookSettings {
    /// `[http] public_addr` as written.
    pub public_addr: String,
    /// `X-Gitlab-Token`.
    pub secret: Secret,
    /// `start --insecure-no-tls`: the listener speaks plain HTTP.
    pub insecure_no_tls: bool,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `public_addr` may carry `user:password@` for the listener's basic auth.
        f.debug_struct("WebhookSettings")
            .field("hook_url", &crate::setup::redacted(&self.hook_url()))
            .field("secret", &self.secret)
            .field("insecure_no_tls", &self.insecure_no_tls)
            .finish()
    }
}

impl WebhookSettings {
    /// `<public_addr>/webhook`; a bare host gets `https://` (`http://` without TLS), as Go did.
    pub fn hook_url(&self) -> String {
        let addr = self.public_addr.trim().trim_end_matches('/');
        let scheme = if self.insecure_no_tls {
            "http"
        } else {
            "https"
        };
        if addr.contains("://") {
            format!("{addr}/webhook")
        } else {
            format!("{scheme}://{addr}/webhook")
        }
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`, and what this plugin's validation found (the loader's own
    /// warnings are logged by the CLI).
    pub runtime: RuntimeConfig,
    /// `[gitlab]` (and what `[http]` says about the webhook).
    pub gitlab: GitlabConfig,
    /// `[http]`: the webhook listener, `None` when only polling.
    pub http: Option<HttpConfig>,
    /// Inbound timings that are not in the TOML: production defaults; tests shorten them.
    pub inbound: InboundTuning,
}

/// Validated `[gitlab]`.
#[derive(Clone, Debug)]
pub struct GitlabConfig {
    /// The instance URL without a trailing slash and without `/api/v4`.
    pub url: String,
    /// The token.
    pub token: Secret,
    /// The project.
    pub project: ProjectRef,
    /// The webhook, when decisions are to be delivered by GitLab.
    pub webhook: Option<WebhookSettings>,
    /// How often to look for decisions, when polling.
    pub poll_interval: Option<Duration>,
    /// The least access level whose label counts.
    pub min_access_level: u8,
    /// An extra CA file for the instance.
    pub ca_file: Option<PathBuf>,
}

impl GitlabConfig {
    /// A polling config with the defaults, for code and tests.
    pub fn new(url: impl Into<String>, token: Secret, project: ProjectRef) -> Self {
        Self {
            url: url.into(),
            token,
            project,
            webhook: None,
            poll_interval: Some(Duration::from_secs(30)),
            min_access_level: DEFAULT_MIN_ACCESS_LEVEL,
            ca_file: None,
        }
    }
}

/// Loads and validates a config file (the listener serves TLS).
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<GitlabFile>(path)?, false)
}

impl Config {
    /// Validates a loaded file; `insecure_no_tls` is the `start` flag of that name.
    pub fn from_loaded(
        loaded: Loaded<GitlabFile>,
        insecure_no_tls: bool,
    ) -> Result<Self, ConfigError> {
        let mut warnings = Vec::new();
        let (gitlab, http) = validate(&loaded, insecure_no_tls, &mut warnings)?;
        let mut runtime =
            RuntimeConfig::new(crate::PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        runtime.warnings = warnings;
        Ok(Self {
            runtime,
            gitlab,
            http,
            inbound: InboundTuning::default(),
        })
    }
}

/// The access level a role name or number stands for.
pub fn access_level(text: &str) -> Option<u8> {
    let level = match text.trim().to_ascii_lowercase().as_str() {
        "guest" => 10,
        "planner" => 15,
        "reporter" => 20,
        "developer" => 30,
        "maintainer" => 40,
        "owner" => 50,
        number => number.parse().ok()?,
    };
    [10, 15, 20, 30, 40, 50].contains(&level).then_some(level)
}

fn validate(
    loaded: &Loaded<GitlabFile>,
    insecure_no_tls: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(GitlabConfig, Option<HttpConfig>), ConfigError> {
    let file = loaded.file().to_path_buf();
    let section = &loaded.plugin.gitlab;
    let url = instance_url(section.url.as_deref()).ok_or_else(|| {
        loaded.key_error(
            "gitlab.url",
            "expected an http:// or https:// URL of the GitLab instance, or \"\" for gitlab.com",
        )
    })?;
    if section.token.is_empty() {
        return Err(loaded.key_error(
            "gitlab.token",
            "expected a GitLab access token, found an empty string",
        ));
    }
    let project = project_ref(&section.project_id.0).ok_or_else(|| {
        loaded.key_error(
            "gitlab.project_id",
            "expected the project's numeric ID or its path such as \"group/project\"",
        )
    })?;
    let min_access_level = match &section.min_access_level {
        None => DEFAULT_MIN_ACCESS_LEVEL,
        Some(text) => access_level(&text.0).ok_or_else(|| {
            loaded.key_error(
                "gitlab.min_access_level",
                "expected 10, 15, 20, 30, 40 or 50, or guest, planner, reporter, developer, \
                 maintainer or owner",
            )
        })?,
    };
    if let Some(interval) = section.poll_interval
        && interval < MIN_POLL_INTERVAL
    {
        return Err(loaded.key_error("gitlab.poll_interval", "expected a duration of at least 1s"));
    }
    let secret = section.webhook_secret.clone().filter(|s| !s.is_empty());
    if section.webhook_secret.is_some() && secret.is_none() {
        return Err(loaded.key_error(
            "gitlab.webhook_secret",
            "expected the webhook secret, found an empty string",
        ));
    }
    let public_addr_written = loaded
        .plugin
        .http
        .as_ref()
        .and_then(|http| http.public_addr.as_deref())
        .is_some_and(|addr| !addr.trim().is_empty());
    let (webhook, http) = match (secret, &loaded.plugin.http) {
        (Some(secret), Some(section)) if public_addr_written => {
            let http = section.validate(loaded, "http", insecure_no_tls, warnings)?;
            let Some(public_url) = http.public_url.clone() else {
                return Err(loaded.key_error(
                    "http.public_addr",
                    "expected the URL or host name GitLab reaches the plugin at",
                ));
            };
            let webhook = WebhookSettings {
                public_addr: with_credentials(public_url, &http).to_string(),
                secret,
                insecure_no_tls,
            };
            (Some(webhook), Some(http))
        }
        (Some(_), _) => {
            return Err(loaded.key_error(
                "http.public_addr",
                "required with gitlab.webhook_secret: the address GitLab delivers webhooks to",
            ));
        }
        (None, Some(_)) if public_addr_written => {
            return Err(loaded.key_error(
                "gitlab.webhook_secret",
                "required with [http]: GitLab must prove its webhook deliveries with it",
            ));
        }
        (None, _) if section.poll_interval.is_none() => {
            return Err(loaded.key_error(
                "gitlab.webhook_secret",
                "required unless gitlab.poll_interval is set: decisions come by webhook \
                 ([http] public_addr and gitlab.webhook_secret) or by polling",
            ));
        }
        (None, http) => {
            if http.is_some() {
                warnings.push(ConfigWarning::NoEffect {
                    file: file.clone(),
                    key: "http".into(),
                    reason: "no webhook listener runs without gitlab.webhook_secret and \
                             http.public_addr; decisions come by polling"
                        .into(),
                });
            }
            (None, None)
        }
    };
    if loaded.plugin.db.is_some() {
        warnings.push(ConfigWarning::NoEffect {
            file,
            key: "db".into(),
            reason: "the plugin keeps its state in Teleport plugin data (namespace gitlab), \
                     not in a local database"
                .into(),
        });
    }
    let gitlab = GitlabConfig {
        url,
        token: section.token.clone(),
        project,
        webhook,
        poll_interval: section.poll_interval,
        min_access_level,
        ca_file: section.ca_file.clone(),
    };
    Ok((gitlab, http))
}

/// The public URL with the listener's basic-auth credentials in it, so that GitLab's
/// deliveries pass the listener's check (GitLab sends a hook URL's credentials as basic
/// auth); without basic auth, the URL as it is.
fn with_credentials(mut url: reqwest::Url, http: &HttpConfig) -> reqwest::Url {
    if let Some(auth) = &http.basic_auth {
        // An http(s) URL with a host (checked by the [http] validation) takes both.
        let _ = url.set_username(&auth.user);
        let _ = url.set_password(Some(auth.password.expose()));
    }
    url
}

/// The instance URL: empty means gitlab.com; a trailing `/` or `/api/v4` is dropped.
fn instance_url(written: Option<&str>) -> Option<String> {
    let text = written.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Some(DEFAULT_URL.to_owned());
    }
    let text = text.trim_end_matches('/');
    let text = text.strip_suffix("/api/v4").unwrap_or(text);
    let parsed = reqwest::Url::parse(text).ok()?;
    let usable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.query().is_none();
    usable.then(|| text.to_owned())
}

fn project_ref(text: &str) -> Option<ProjectRef> {
    let text = text.trim().trim_matches('/');
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().filter(|id| *id > 0).map(ProjectRef::Id);
    }
    let path_ok = text.contains('/')
        && text.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    path_ok.then(|| ProjectRef::Path(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls() {
        assert_eq!(instance_url(None).as_deref(), Some(DEFAULT_URL));
        assert_eq!(instance_url(Some(" ")).as_deref(), Some(DEFAULT_URL));
        assert_eq!(
            instance_url(Some("https://git.example.com/gitlab/api/v4/")).as_deref(),
            Some("https://git.example.com/gitlab")
        );
        assert_eq!(instance_url(Some("ftp://git.example.com")), None);
        assert_eq!(instance_url(Some("https://user:pw@git.example.com")), None);
        assert_eq!(instance_url(Some("git.example.com")), None);
    }

    #[test]
    fn projects_and_levels() {
        assert_eq!(project_ref("1812345"), Some(ProjectRef::Id(1_812_345)));
        assert_eq!(project_ref("0"), None);
        assert_eq!(
            project_ref("/ops/sub/access-requests/"),
            Some(ProjectRef::Path("ops/sub/access-requests".into()))
        );
        assert_eq!(project_ref("access"), None, "a path has a namespace");
        assert_eq!(project_ref("ops/a b"), None);
        assert_eq!(access_level("Maintainer"), Some(40));
        assert_eq!(access_level("30"), Some(30));
        assert_eq!(access_level("35"), None);
        assert_eq!(access_level("admin"), None);
    }

    #[test]
    fn hook_url_defaults_the_scheme() {
        let mut hook = WebhookSettings {
            public_addr: "teleport-gitlab.example.com:8044/".into(),
            secret: Secret::new("s"),
            insecure_no_tls: false,
        };
        assert_eq!(
            hook.hook_url(),
            "https://teleport-gitlab.example.com:8044/webhook"
        );
        hook.insecure_no_tls = true;
        assert_eq!(
            hook.hook_url(),
            "http://teleport-gitlab.example.com:8044/webhook"
        );
        hook.public_addr = "https://plugin.example.com/gitlab".into();
        assert_eq!(hook.hook_url(), "https://plugin.example.com/gitlab/webhook");
    }
}
