//! Test support: the in-process Teleport, a fake Opsgenie with schedules, and the plugin run
//! in-process against both.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use teleport_fakes::opsgenie::OgAlert;
use teleport_fakes::{FakeOpsgenie, FakeOpsgenieOptions};
use teleport_opsgenie::config::{AutoApproval, Config, OpsgenieConfig};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{CredentialsSource, Secret, TeleportConfig};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, request_id, wait_plugin_data};
use teleport_testkit::{IdentityRequest, Testkit};

/// Generous: the machine is small and shared.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const API_KEY: &str = "og-test-key";
pub(crate) const PLUGIN_USER: &str = "access-plugin";
pub(crate) const NOTIFY: &str = "teleport.dev/notify-services";
pub(crate) const TEAMS: &str = "teleport.dev/teams";
pub(crate) const SCHEDULES: &str = "teleport.dev/schedules";

/// A fake with schedules `Primary` (alice on call) and `Secondary` (nobody), whose creates
/// are processed on the second poll, as Opsgenie's are asynchronous.
pub(crate) fn fake_options() -> FakeOpsgenieOptions {
    FakeOpsgenieOptions::default()
        .api_key(API_KEY)
        .schedule(
            "11111111-1111-4111-8111-111111111111",
            "Primary",
            &["alice@example.com"],
        )
        .schedule("22222222-2222-4222-8222-222222222222", "Secondary", &[])
        .processing_polls(1)
}

/// The in-process Teleport, the fake Opsgenie and the plugin's identity.
pub(crate) struct Env {
    pub kit: Testkit,
    pub og: FakeOpsgenie,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let kit = Testkit::start().await.expect("testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        // The plugin may approve requests for these roles.
        kit.add_reviewer(PLUGIN_USER, &["dev", "ops"]);
        let og = FakeOpsgenie::start(fake_options()).await;
        Self {
            kit,
            og,
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

    pub(crate) fn opsgenie(&self, approval: AutoApproval) -> OpsgenieConfig {
        OpsgenieConfig {
            api_endpoint: self.og.base_url(),
            api_key: Secret::new(API_KEY),
            priority: Some("P2".into()),
            default_schedules: Vec::new(),
            default_teams: Vec::new(),
            auto_approval: approval,
        }
    }

    pub(crate) fn config(&self, approval: AutoApproval) -> Config {
        Config {
            runtime: RuntimeConfig::new("opsgenie", self.teleport(), OpsConfig::default()),
            opsgenie: self.opsgenie(approval),
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
            teleport_opsgenie::run(config, token).await
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
        self.kit.plugin_data(id, "opsgenie").unwrap_or_default()
    }

    /// Waits until the request's plugin data satisfies `ready`.
    pub(crate) async fn wait_data(
        &self,
        id: &str,
        what: &str,
        ready: impl FnMut(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        wait_plugin_data(&self.kit, id, "opsgenie", what, WAIT, ready).await
    }

    /// Waits for the request's alert to satisfy `ready` and returns it.
    pub(crate) async fn wait_alert(
        &self,
        id: &str,
        what: &str,
        mut ready: impl FnMut(&OgAlert) -> bool,
    ) -> OgAlert {
        let alias = format!("teleport-access-request/{id}");
        self.og
            .wait_for(WAIT, |s| {
                s.alert_by_alias(&alias).filter(|a| ready(a)).cloned()
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for {what}; alerts: {:#?}",
                    self.og.alerts()
                )
            })
    }

    /// Every alert opened for the request.
    pub(crate) fn alerts_for(&self, id: &str) -> Vec<OgAlert> {
        let alias = format!("teleport-access-request/{id}");
        self.og
            .alerts()
            .into_iter()
            .filter(|a| a.alias == alias)
            .collect()
    }
}

/// Auto-approval with the defaults (on, no limits).
pub(crate) fn approval() -> AutoApproval {
    AutoApproval::default()
}
