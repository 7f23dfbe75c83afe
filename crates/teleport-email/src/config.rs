//! The e-mail plugin's config file: `[smtp]` or `[mailgun]`, `[delivery]`, the common sections.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use serde::Deserialize;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    ConfigError, ConfigWarning, Loaded, RoleToRecipients, Secret, is_plain_email,
    load_plugin_config, recipient_key,
};
use teleport_plugin_runtime::ops::OpsConfig;

/// Mailgun's API base for the US region; the EU region is `https://api.eu.mailgun.net/v3`.
pub const DEFAULT_MAILGUN_API_BASE: &str = "https://api.mailgun.net/v3";

/// The SMTP submission port, Go's default.
pub const DEFAULT_SMTP_PORT: u16 = 587;

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct EmailFile {
    /// `[mailgun]`.
    #[serde(default)]
    pub mailgun: Option<MailgunSection>,
    /// `[smtp]`.
    #[serde(default)]
    pub smtp: Option<SmtpSection>,
    /// `[delivery]`.
    #[serde(default)]
    pub delivery: DeliverySection,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[mailgun]` as written (Go matched the untagged `domain` case-insensitively).
#[derive(Debug, Deserialize)]
pub struct MailgunSection {
    /// The sending domain.
    #[serde(default, alias = "Domain", alias = "DOMAIN")]
    pub domain: String,
    /// The private API key, inline.
    #[serde(default)]
    pub private_key: Option<String>,
    /// A file holding the private API key.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The API base URL (EU region: `https://api.eu.mailgun.net/v3`).
    #[serde(default)]
    pub api_base: Option<String>,
}

/// `[smtp]` as written.
#[derive(Debug, Deserialize)]
pub struct SmtpSection {
    /// The server's host name (also the name its certificate must carry).
    #[serde(default, alias = "Host", alias = "HOST")]
    pub host: String,
    /// The port; 587 when unset, implicit TLS on 465.
    #[serde(default, alias = "Port", alias = "PORT")]
    pub port: Option<u16>,
    /// The user to authenticate as; no authentication when empty.
    #[serde(default, alias = "Username", alias = "USERNAME")]
    pub username: String,
    /// The password, inline.
    #[serde(default, alias = "Password", alias = "PASSWORD")]
    pub password: Option<String>,
    /// A file holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `mandatory` (default), `opportunistic` or `disabled`.
    #[serde(default)]
    pub starttls_policy: String,
    /// Extra CA certificates (PEM) to trust for the server, besides the system store.
    #[serde(default, alias = "tls_ca")]
    pub ca_file: Option<PathBuf>,
}

/// `[delivery]` as written.
#[derive(Debug, Default, Deserialize)]
pub struct DeliverySection {
    /// The `From:` address.
    #[serde(default, alias = "Sender", alias = "SENDER")]
    pub sender: String,
    /// Legacy catch-all recipients; they become `role_to_recipients."*"`.
    #[serde(default, alias = "Recipients", alias = "RECIPIENTS")]
    pub recipients: Vec<String>,
    /// Mail the requester every outcome (ours, opt-in: the Go plugin never did).
    #[serde(default)]
    pub notify_requester: bool,
}

/// When the connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTlsPolicy {
    /// STARTTLS is required; sending fails without it.
    Mandatory,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// Never STARTTLS (plain text unless the port is 465).
    Disabled,
}

/// Validated `[smtp]`.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `username` and password, when authentication is configured.
    pub credentials: Option<(String, Secret)>,
    /// STARTTLS policy (ignored with implicit TLS).
    pub starttls: StartTlsPolicy,
    /// Extra CA file.
    pub ca_file: Option<PathBuf>,
}

impl SmtpSettings {
    /// Port 465 speaks TLS from the first byte ("SMTPS").
    pub fn implicit_tls(&self) -> bool {
        self.port == 465
    }
}

/// Validated `[mailgun]`.
#[derive(Clone, Debug)]
pub struct MailgunSettings {
    /// Sending domain.
    pub domain: String,
    /// Private API key.
    pub private_key: Secret,
    /// API base URL without a trailing slash.
    pub api_base: String,
}

/// The one transport mail goes through.
#[derive(Clone, Debug)]
pub enum Transport {
    /// An SMTP server.
    Smtp(SmtpSettings),
    /// The Mailgun HTTP API.
    Mailgun(MailgunSettings),
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`, and the legacy keys found by this plugin's validation.
    pub runtime: RuntimeConfig,
    /// `[smtp]`, when configured.
    pub smtp: Option<SmtpSettings>,
    /// `[mailgun]`, when configured.
    pub mailgun: Option<MailgunSettings>,
    /// The `From:` mailbox.
    pub sender: Mailbox,
    /// Mail the requester the decision.
    pub notify_requester: bool,
    /// Who gets which request (`delivery.recipients` folded in); all e-mail addresses.
    pub role_to_recipients: RoleToRecipients,
    file: PathBuf,
    /// A problem that only matters for the transport actually used (the Go sample config
    /// has an `[smtp]` section without a password next to its `[mailgun]` one).
    smtp_problem: Option<KeyProblem>,
}

#[derive(Debug)]
struct KeyProblem {
    key: String,
    problem: String,
    line: Option<usize>,
}

impl KeyProblem {
    fn from_error(error: ConfigError) -> Self {
        match error {
            ConfigError::Key {
                key, problem, line, ..
            } => Self { key, problem, line },
            other => Self {
                key: "smtp".into(),
                problem: other.to_string(),
                line: None,
            },
        }
    }
}

impl Config {
    /// Validates a loaded file.
    pub fn from_loaded(loaded: Loaded<EmailFile>) -> Result<Self, ConfigError> {
        validate(loaded)
    }

    /// The transport to use: `[smtp]` when configured (as in the Go plugin, which used SMTP
    /// when both were; the loader warns then), else `[mailgun]`.
    pub fn transport(&self) -> Result<Transport, ConfigError> {
        match (&self.smtp, &self.mailgun) {
            (Some(smtp), _) => match &self.smtp_problem {
                Some(p) => Err(self.error(&p.key, &p.problem, p.line)),
                None => Ok(Transport::Smtp(smtp.clone())),
            },
            (None, Some(mailgun)) => Ok(Transport::Mailgun(mailgun.clone())),
            (None, None) => Err(self.error(
                "smtp",
                "no mail transport: configure [smtp] or [mailgun]",
                None,
            )),
        }
    }

    fn error(&self, key: &str, problem: &str, line: Option<usize>) -> ConfigError {
        ConfigError::Key {
            file: self.file.clone(),
            key: key.to_owned(),
            problem: problem.to_owned(),
            line,
        }
    }
}

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<EmailFile>(path)?)
}

fn validate(mut loaded: Loaded<EmailFile>) -> Result<Config, ConfigError> {
    let mut warnings = Vec::new();
    let file = loaded.file().to_path_buf();

    let sender = loaded.plugin.delivery.sender.trim().to_owned();
    let sender: Mailbox = match sender.parse() {
        Ok(mailbox) if !sender.is_empty() => mailbox,
        _ if sender.is_empty() => {
            return Err(loaded.key_error(
                "delivery.sender",
                "expected the From: address (e.g. \"noreply@example.com\"), found none",
            ));
        }
        _ => {
            return Err(loaded.key_error(
                "delivery.sender",
                "expected an e-mail address such as \"noreply@example.com\" or \"Teleport <noreply@example.com>\"",
            ));
        }
    };

    let legacy = std::mem::take(&mut loaded.plugin.delivery.recipients);
    if !legacy.is_empty() {
        if !loaded.role_to_recipients.is_empty() {
            return Err(loaded.key_error(
                "delivery.recipients",
                "both this legacy list and [role_to_recipients] are set; keep only role_to_recipients",
            ));
        }
        if let Some(index) = legacy.iter().position(|r| !is_plain_email(r)) {
            return Err(loaded.key_error(
                &format!("delivery.recipients[{index}]"),
                "expected an e-mail address",
            ));
        }
        warnings.push(ConfigWarning::Deprecated {
            file: file.clone(),
            key: "delivery.recipients".into(),
            advice: "list the recipients under role_to_recipients.\"*\" instead".into(),
        });
        loaded.role_to_recipients.insert("*", legacy);
    }
    loaded.require_role_to_recipients()?;
    for (role, recipients) in loaded.role_to_recipients.iter() {
        if let Some(index) = recipients.iter().position(|r| !is_plain_email(r)) {
            let key = recipient_key(role, index, recipients.len());
            return Err(loaded.key_error(&key, "expected an e-mail address"));
        }
    }

    let mut smtp_problem = None;
    let smtp = match &loaded.plugin.smtp {
        Some(section) => {
            let (settings, problem) = smtp_settings(&loaded, section, &mut warnings)?;
            smtp_problem = problem.map(KeyProblem::from_error);
            Some(settings)
        }
        None => None,
    };
    let mailgun = match &loaded.plugin.mailgun {
        // The Go plugin sent with SMTP when both were configured, and read nothing of
        // [mailgun] then.
        Some(_) if smtp.is_some() => {
            warnings.push(loaded.key_warning(
                "mailgun",
                "both [smtp] and [mailgun] are configured; mail is sent with SMTP, as the Go plugin did (remove the section you do not use)",
            ));
            None
        }
        Some(section) => Some(mailgun_settings(&loaded, section, &mut warnings)?),
        None => None,
    };

    let mut runtime = RuntimeConfig::new(crate::PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
    runtime.warnings = warnings;
    Ok(Config {
        runtime,
        smtp,
        mailgun,
        sender,
        notify_requester: loaded.plugin.delivery.notify_requester,
        role_to_recipients: loaded.role_to_recipients,
        file,
        smtp_problem,
    })
}

/// The settings, plus a credentials problem that only matters when SMTP is the transport.
fn smtp_settings(
    loaded: &Loaded<EmailFile>,
    section: &SmtpSection,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(SmtpSettings, Option<ConfigError>), ConfigError> {
    let host = section.host.trim();
    if host.is_empty() {
        return Err(loaded.key_error(
            "smtp.host",
            "expected the SMTP server's host name, found none",
        ));
    }
    let port = match section.port {
        None => DEFAULT_SMTP_PORT,
        Some(0) => {
            return Err(loaded.key_error("smtp.port", "expected a port from 1 to 65535, found 0"));
        }
        Some(port) => port,
    };
    let starttls = match section.starttls_policy.as_str() {
        "" | "mandatory" => StartTlsPolicy::Mandatory,
        "opportunistic" => StartTlsPolicy::Opportunistic,
        "disabled" => StartTlsPolicy::Disabled,
        _ => {
            return Err(loaded.key_error(
                "smtp.starttls_policy",
                "expected \"mandatory\", \"opportunistic\" or \"disabled\"",
            ));
        }
    };
    let password = match (
        section.password.as_deref().filter(|p| !p.is_empty()),
        &section.password_file,
    ) {
        (Some(password), Some(_)) => {
            warnings.push(loaded.key_warning(
                "smtp.password_file",
                "both smtp.password and smtp.password_file are set; smtp.password is used, as the Go plugin did (keep one)",
            ));
            Some(Secret::new(password))
        }
        (Some(password), None) => Some(Secret::new(password)),
        (None, Some(path)) => Some(
            Secret::from_file(path)
                .map_err(|e| loaded.key_error("smtp.password_file", e.to_string()))?,
        ),
        (None, None) => None,
    };
    let username = section.username.trim();
    let mut problem = None;
    let credentials = match (username.is_empty(), password) {
        (false, Some(password)) => Some((username.to_owned(), password)),
        (true, None) => None,
        (true, Some(_)) => {
            // Go's mail library then sends no AUTH at all: the password is unused.
            warnings.push(loaded.key_warning(
                "smtp.username",
                "a password is set but no username: mail is sent without authenticating, as the Go plugin did",
            ));
            None
        }
        (false, None) => {
            problem = Some(loaded.key_error(
                "smtp.password",
                "smtp.username is set but neither smtp.password nor smtp.password_file",
            ));
            None
        }
    };
    // The same check every outbound client makes; the roots themselves are loaded by lettre.
    loaded.check_ca_file("smtp.ca_file", section.ca_file.as_deref())?;
    let settings = SmtpSettings {
        host: host.to_owned(),
        port,
        credentials,
        starttls,
        ca_file: section.ca_file.clone(),
    };
    Ok((settings, problem))
}

fn mailgun_settings(
    loaded: &Loaded<EmailFile>,
    section: &MailgunSection,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<MailgunSettings, ConfigError> {
    let domain = section.domain.trim();
    if domain.is_empty() {
        return Err(loaded.key_error(
            "mailgun.domain",
            "expected the Mailgun sending domain, found none",
        ));
    }
    let private_key = match (
        section.private_key.as_deref().filter(|k| !k.is_empty()),
        &section.private_key_file,
    ) {
        (Some(key), Some(_)) => {
            warnings.push(loaded.key_warning(
                "mailgun.private_key_file",
                "both mailgun.private_key and mailgun.private_key_file are set; mailgun.private_key is used, as the Go plugin did (keep one)",
            ));
            Secret::new(key)
        }
        (Some(key), None) => Secret::new(key),
        (None, Some(path)) => Secret::from_file(path)
            .map_err(|e| loaded.key_error("mailgun.private_key_file", e.to_string()))?,
        (None, None) => {
            return Err(loaded.key_error(
                "mailgun.private_key",
                "expected the Mailgun private API key (or mailgun.private_key_file), found none",
            ));
        }
    };
    let api_base = section
        .api_base
        .as_deref()
        .unwrap_or(DEFAULT_MAILGUN_API_BASE)
        .trim()
        .trim_end_matches('/');
    loaded.http_url(
        "mailgun.api_base",
        api_base,
        "expected an https:// URL such as \"https://api.eu.mailgun.net/v3\"",
    )?;
    Ok(MailgunSettings {
        domain: domain.to_owned(),
        private_key,
        api_base: api_base.to_owned(),
    })
}
