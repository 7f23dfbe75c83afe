//! The PagerDuty plugin's config file: `[pagerduty]` (Go keys and spellings) plus the common
//! sections, validated once.

use std::path::Path;

use serde::Deserialize;
use serde::de::MapAccess;
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    self, ApprovalLimits, ConfigError, ConfigWarning, Loaded, Secret, is_plain_email,
    load_plugin_config,
};
use teleport_plugin_runtime::ops::OpsConfig;

/// PagerDuty's REST API.
pub const DEFAULT_API_ENDPOINT: &str = "https://api.pagerduty.com";
/// The annotation naming the service to open an incident on.
pub const DEFAULT_NOTIFY_SERVICE_ANNOTATION: &str = "pagerduty_notify_service";
/// The annotation naming the services whose on-call users are auto-approved.
pub const DEFAULT_SERVICES_ANNOTATION: &str = "pagerduty_services";

/// The plugin's own part of the TOML document.
#[derive(Debug, Deserialize)]
pub struct PagerDutyFile {
    /// `[pagerduty]`.
    pub pagerduty: PagerDutySection,
    /// `[ops]`: health and metrics endpoint (not in the Go plugin).
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[pagerduty]` as written.
#[derive(Debug, Deserialize)]
pub struct PagerDutySection {
    /// The REST API key (a value starting with `/` is a file to read).
    pub api_key: Secret,
    /// The PagerDuty user the plugin acts as; sent as the `From` header.
    pub user_email: String,
    /// The REST API base URL (not settable in the Go plugin).
    #[serde(default)]
    pub api_endpoint: Option<String>,
    /// Go's untagged `RequestAnnotations` field: go-toml matched it as written, all lower
    /// case, all upper case, or with the first letter lowered; `request_annotations` is ours.
    #[serde(
        default,
        alias = "RequestAnnotations",
        alias = "requestAnnotations",
        alias = "REQUESTANNOTATIONS",
        alias = "request_annotations"
    )]
    pub requestannotations: AnnotationsSection,
    /// `[pagerduty.auto_approval]` (not in the Go plugin).
    #[serde(default)]
    pub auto_approval: AutoApprovalSection,
    /// From a 2021 Go config: one fixed service. Ignored with a warning.
    #[serde(default)]
    pub service_id: Option<String>,
    /// From a 2021 Go config. `false` turns auto-approval off; `true` changes nothing.
    #[serde(default)]
    pub auto_approve: Option<bool>,
}

/// `[pagerduty.requestannotations]`: which request annotations to read.
#[derive(Debug, Default, Deserialize)]
pub struct AnnotationsSection {
    /// Default `pagerduty_notify_service`.
    #[serde(default)]
    pub notify_service: Option<String>,
    /// Default `pagerduty_services`.
    #[serde(default)]
    pub services: Option<String>,
}

/// `[pagerduty.auto_approval]` as written: the runtime's on-call switches and PagerDuty's
/// limits.
pub type AutoApprovalSection = config::AutoApproval<PagerDutyLimitsSection>;

/// Validated `[pagerduty.auto_approval]`.
pub type AutoApproval = config::AutoApproval<PagerDutyLimits>;

/// PagerDuty's own keys under `[pagerduty.auto_approval]`, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagerDutyLimitsSection {
    /// `max_escalation_level`: only users on call at escalation levels `1..=N`.
    pub max_escalation_level: Option<i64>,
    /// `schedules`: only users on call through one of these schedules (name or ID).
    pub schedules: Option<Vec<String>>,
}

/// PagerDuty's validated limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagerDutyLimits {
    /// Highest escalation level that counts as on call (`None`: any).
    pub max_escalation_level: Option<u32>,
    /// Schedules (name or ID, any case) that count (`None`: any, including direct
    /// escalation-rule targets without a schedule).
    pub schedules: Option<Vec<String>>,
}

impl ApprovalLimits for PagerDutyLimitsSection {
    type Valid = PagerDutyLimits;

    fn read_key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key {
            "max_escalation_level" => self.max_escalation_level = map.next_value()?,
            "schedules" => self.schedules = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn validate<P>(
        &self,
        loaded: &Loaded<P>,
        section: &str,
    ) -> Result<PagerDutyLimits, ConfigError> {
        let max_escalation_level = self
            .max_escalation_level
            .map(|level| {
                u32::try_from(level)
                    .ok()
                    .filter(|l| *l >= 1)
                    .ok_or_else(|| {
                        loaded.key_error(
                            &format!("{section}.max_escalation_level"),
                            "expected a level of 1 or more",
                        )
                    })
            })
            .transpose()?;
        let schedules =
            loaded.optional_names(&format!("{section}.schedules"), self.schedules.as_deref())?;
        Ok(PagerDutyLimits {
            max_escalation_level,
            schedules,
        })
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[teleport]`, `[ops]`, and the legacy keys found by this plugin's validation (the
    /// loader's own warnings are logged by the CLI).
    pub runtime: RuntimeConfig,
    /// `[pagerduty]`.
    pub pagerduty: PagerDutyConfig,
}

/// Validated `[pagerduty]`.
#[derive(Debug, Clone)]
pub struct PagerDutyConfig {
    /// REST API base URL without a trailing slash.
    pub api_endpoint: String,
    /// The API key.
    pub api_key: Secret,
    /// The `From` user's e-mail.
    pub user_email: String,
    /// Annotation naming the service to notify.
    pub notify_service_annotation: String,
    /// Annotation naming the services for auto-approval.
    pub services_annotation: String,
    /// Auto-approval and its limits.
    pub auto_approval: AutoApproval,
}

impl PagerDutyConfig {
    /// A config with the defaults, for code and tests.
    pub fn new(api_key: Secret, user_email: impl Into<String>) -> Self {
        Self {
            api_endpoint: DEFAULT_API_ENDPOINT.to_owned(),
            api_key,
            user_email: user_email.into(),
            notify_service_annotation: DEFAULT_NOTIFY_SERVICE_ANNOTATION.to_owned(),
            services_annotation: DEFAULT_SERVICES_ANNOTATION.to_owned(),
            auto_approval: AutoApproval::default(),
        }
    }
}

/// Loads and validates a config file.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    Config::from_loaded(load_plugin_config::<PagerDutyFile>(path)?)
}

impl Config {
    /// Validates a loaded file.
    pub fn from_loaded(loaded: Loaded<PagerDutyFile>) -> Result<Self, ConfigError> {
        let mut warnings = Vec::new();
        let pagerduty = validate(&loaded, &mut warnings)?;
        let mut runtime =
            RuntimeConfig::new(crate::PLUGIN_NAME, loaded.teleport, loaded.plugin.ops);
        runtime.warnings = warnings;
        Ok(Self { runtime, pagerduty })
    }
}

fn validate(
    loaded: &Loaded<PagerDutyFile>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<PagerDutyConfig, ConfigError> {
    let file = loaded.file().to_path_buf();
    let section = &loaded.plugin.pagerduty;
    if section.api_key.is_empty() {
        return Err(loaded.key_error(
            "pagerduty.api_key",
            "expected the PagerDuty REST API key, found an empty string",
        ));
    }
    let user_email = section.user_email.trim();
    if !is_plain_email(user_email) {
        return Err(loaded.key_error(
            "pagerduty.user_email",
            "expected the e-mail address of a PagerDuty user",
        ));
    }
    let api_endpoint = loaded.api_endpoint(
        "pagerduty.api_endpoint",
        section.api_endpoint.as_deref(),
        DEFAULT_API_ENDPOINT,
        "expected an http:// or https:// URL",
    )?;

    // An empty name is what go-toml leaves for an unset key: Go then uses the default.
    let mut annotation = |value: &Option<String>, key: &str, default: &str| match value
        .as_deref()
        .map(str::trim)
    {
        None => default.to_owned(),
        Some("") => {
            warnings.push(loaded.key_warning(
                &format!("pagerduty.requestannotations.{key}"),
                format!("empty; the default annotation {default} is read, as the Go plugin did"),
            ));
            default.to_owned()
        }
        Some(name) => name.to_owned(),
    };
    let notify_service_annotation = annotation(
        &section.requestannotations.notify_service,
        "notify_service",
        DEFAULT_NOTIFY_SERVICE_ANNOTATION,
    );
    let services_annotation = annotation(
        &section.requestannotations.services,
        "services",
        DEFAULT_SERVICES_ANNOTATION,
    );

    let mut auto_approval = section
        .auto_approval
        .validate(loaded, "pagerduty.auto_approval")?;
    match section.auto_approve {
        Some(false) => {
            auto_approval.enabled = false;
            warnings.push(ConfigWarning::Deprecated {
                file: file.clone(),
                key: "pagerduty.auto_approve".into(),
                advice: "write enabled = false under [pagerduty.auto_approval] instead".into(),
            });
        }
        Some(true) => warnings.push(ConfigWarning::NoEffect {
            file: file.clone(),
            key: "pagerduty.auto_approve".into(),
            reason: "auto-approval is on by default for requests whose roles set the services \
                     annotation; limit it under [pagerduty.auto_approval]"
                .into(),
        }),
        None => {}
    }
    if section.service_id.is_some() {
        warnings.push(ConfigWarning::NoEffect {
            file,
            key: "pagerduty.service_id".into(),
            reason: format!(
                "the service is named per request by the role annotation {notify_service_annotation}"
            ),
        });
    }
    Ok(PagerDutyConfig {
        api_endpoint: api_endpoint.to_owned(),
        api_key: section.api_key.clone(),
        user_email: user_email.to_owned(),
        notify_service_annotation,
        services_annotation,
        auto_approval,
    })
}
