//! Test support: the in-process Teleport, a fake Datadog with On-Call teams, and the plugin
//! run in-process against both.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use teleport_datadog::config::{AutoApproval, Config, DatadogConfig};
use teleport_fakes::datadog::DdIncident;
use teleport_fakes::{FakeDatadog, FakeDatadogOptions};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{
    CredentialsSource, RoleToRecipients, Secret, TeleportConfig,
};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, request_id, wait_plugin_data};
use teleport_testkit::{IdentityRequest, Testkit};

/// Generous: the machine is small and shared.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const API_KEY: &str = "dd-test-api-key";
pub(crate) const APP_KEY: &str = "dd-test-app-key";
pub(crate) const PLUGIN_USER: &str = "access-plugin";
pub(crate) const SCHEDULES: &str = "teleport.dev/schedules";

/// A fake with On-Call teams `sre` ("Site Reliability", alice on call) and `night`
/// (nobody on call).
pub(crate) fn fake_options() -> FakeDatadogOptions {
    FakeDatadogOptions::default()
        .keys(API_KEY, APP_KEY)
        .team("Site Reliability", "sre", &["alice@example.com"])
        .team("Night", "night", &[])
}

/// `"dev" = ["dev-team"]`, `"*" = ["oncall@example.com", "platform"]`.
pub(crate) fn recipients() -> RoleToRecipients {
    [
        ("dev".to_owned(), vec!["dev-team".to_owned()]),
        (
            "*".to_owned(),
            vec!["oncall@example.com".to_owned(), "platform".to_owned()],
        ),
    ]
    .into_iter()
    .collect()
}

/// The in-process Teleport, the fake Datadog and the plugin's identity.
pub(crate) struct Env {
    pub kit: Testkit,
    pub dd: FakeDatadog,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
}

impl Env {
    pub(crate) async fn new() -> Self {
        Self::with(fake_options()).await
    }

    pub(crate) async fn with(options: FakeDatadogOptions) -> Self {
        let kit = Testkit::start().await.expect("testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        // The plugin may approve requests for these roles.
        kit.add_reviewer(PLUGIN_USER, &["dev", "ops"]);
        let dd = FakeDatadog::start(options).await;
        Self {
            kit,
            dd,
            dir,
            identity,
        }
    }

    pub(crate) fn teleport(&self) -> TeleportConfig {
        TeleportConfig::new(
            self.kit.auth_addr().to_string(),
            Some(CredentialsSource::IdentityFile {
                path: self.identity.clone(),
                refresh: None,
            }),
            "test.toml",
        )
    }

    pub(crate) fn datadog(&self, approval: AutoApproval) -> DatadogConfig {
        DatadogConfig {
            api_endpoint: self.dd.base_url(),
            api_key: Secret::new(API_KEY),
            application_key: Secret::new(APP_KEY),
            severity: "SEV-2".into(),
            auto_approval: approval,
        }
    }

    pub(crate) fn config(&self, approval: AutoApproval) -> Config {
        let mut runtime = RuntimeConfig::new("datadog", self.teleport(), OpsConfig::default());
        // As `Config::from_loaded` sets it.
        runtime.access_monitoring_rules = true;
        Config {
            runtime,
            datadog: self.datadog(approval),
            role_to_recipients: recipients(),
        }
    }

    /// Runs the plugin in-process with short retry delays.
    pub(crate) fn start_config(&self, config: Config) -> InProcessPlugin {
        InProcessPlugin::spawn(WAIT, |token| async move {
            let mut config = config;
            config.runtime.tuning.dispatch = DispatchOptions {
                retry_base: Duration::from_millis(20),
                retry_cap: Duration::from_millis(300),
                ..DispatchOptions::default()
            };
            teleport_datadog::run(config, token).await
        })
    }

    /// Starts the plugin and waits until it watches requests.
    pub(crate) async fn started(&self, approval: AutoApproval) -> InProcessPlugin {
        let plugin = self.start_config(self.config(approval));
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("the plugin watches requests");
        plugin
    }

    /// A pending request by `user` for `roles` with these system annotations.
    pub(crate) fn request(
        &self,
        user: &str,
        roles: &[&str],
        annotations: &[(&str, &[&str])],
    ) -> String {
        let mut request = self.kit.new_request(user, roles).reason("fix the outage");
        for (key, values) in annotations {
            request = request.system_annotation(key, values);
        }
        request_id(&request.create().expect("request"))
    }

    pub(crate) fn data(&self, id: &str) -> HashMap<String, String> {
        self.kit.plugin_data(id, "datadog").unwrap_or_default()
    }

    /// Waits until the request's plugin data satisfies `ready`.
    pub(crate) async fn wait_data(
        &self,
        id: &str,
        what: &str,
        ready: impl FnMut(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        wait_plugin_data(&self.kit, id, "datadog", what, WAIT, ready).await
    }

    /// Waits until the request's record is released with its incident and returns the
    /// incident's ID.
    pub(crate) async fn wait_incident_id(&self, id: &str) -> String {
        let data = self
            .wait_data(id, "the incident recorded", |d| {
                d.get("messages").is_some_and(|m| !m.is_empty())
                    && d.get("claim").is_none_or(String::is_empty)
            })
            .await;
        let messages = &data["messages"];
        let (channel, incident) = messages.split_once('/').expect("channel/id");
        assert_eq!(channel, incident, "Go's encoding: <id>/<id>");
        incident.to_owned()
    }

    /// Waits for the request's incident (by its summary's `ID:` line) to satisfy `ready`.
    pub(crate) async fn wait_incident(
        &self,
        id: &str,
        what: &str,
        mut ready: impl FnMut(&DdIncident) -> bool,
    ) -> DdIncident {
        let line = format!("ID: {id}\n");
        self.dd
            .wait_for(WAIT, |s| {
                s.incidents
                    .iter()
                    .find(|i| i.field("summary").contains(&line))
                    .filter(|i| ready(i))
                    .cloned()
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for {what}; incidents: {:#?}",
                    self.dd.incidents()
                )
            })
    }

    /// Every incident created for the request.
    pub(crate) fn incidents_for(&self, id: &str) -> Vec<DdIncident> {
        let line = format!("ID: {id}\n");
        self.dd
            .incidents()
            .into_iter()
            .filter(|i| i.field("summary").contains(&line))
            .collect()
    }
}

/// Auto-approval with the defaults (on, no limits).
pub(crate) fn approval() -> AutoApproval {
    AutoApproval::default()
}
