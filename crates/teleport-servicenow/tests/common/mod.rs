//! Test support: the in-process Teleport (with a proxy address, so descriptions carry the
//! review link), a fake ServiceNow with users and rotas, and the plugin run in-process
//! against both.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use teleport_fakes::servicenow::SnIncident;
use teleport_fakes::{FakeServiceNow, FakeServiceNowOptions};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{CredentialsSource, Secret, TeleportConfig};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, request_id, wait_plugin_data};
use teleport_servicenow::config::{AutoApproval, Config, ServiceNowConfig};
use teleport_testkit::{IdentityRequest, Testkit};

/// Generous: the machine is small and shared.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const USERNAME: &str = "teleport-plugin";
pub(crate) const API_TOKEN: &str = "sn-test-token";
pub(crate) const PLUGIN_USER: &str = "access-plugin";
pub(crate) const CLOSE_CODE: &str = "Solution provided";
pub(crate) const SCHEDULES: &str = "teleport.dev/schedules";
/// A rota with alice on call (and someone who is no Teleport user).
pub(crate) const PRIMARY: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
/// A rota with nobody on call.
pub(crate) const SECONDARY: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
pub(crate) const ALICE_ID: &str = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
pub(crate) const OTHER_ID: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
pub(crate) const CLUSTER: &str = "example.com";
pub(crate) const PROXY: &str = "teleport.example.com:443";

/// A fake with users `alice` and `carol`, `alice` and `carol` on call in [`PRIMARY`], and
/// nobody in [`SECONDARY`].
pub(crate) fn fake_options() -> FakeServiceNowOptions {
    FakeServiceNowOptions::default()
        .credentials(USERNAME, API_TOKEN)
        .user(ALICE_ID, "alice")
        .user(OTHER_ID, "carol")
        .rota(PRIMARY, &[OTHER_ID, ALICE_ID])
        .rota(SECONDARY, &[])
}

/// The in-process Teleport, the fake ServiceNow and the plugin's identity.
pub(crate) struct Env {
    pub kit: Testkit,
    pub sn: FakeServiceNow,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let kit = Testkit::builder()
            .advanced_workflows(true)
            .proxy_public_addr(PROXY)
            .start()
            .await
            .expect("testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        // The plugin may approve requests for these roles.
        kit.add_reviewer(PLUGIN_USER, &["dev", "ops"]);
        let sn = FakeServiceNow::start(fake_options()).await;
        Self {
            kit,
            sn,
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

    pub(crate) fn servicenow(&self, approval: AutoApproval) -> ServiceNowConfig {
        ServiceNowConfig {
            api_endpoint: self.sn.base_url(),
            username: USERNAME.to_owned(),
            api_token: Secret::new(API_TOKEN),
            close_code: CLOSE_CODE.to_owned(),
            auto_approval: approval,
        }
    }

    pub(crate) fn config(&self, approval: AutoApproval) -> Config {
        Config {
            runtime: RuntimeConfig::new("servicenow", self.teleport(), OpsConfig::default()),
            servicenow: self.servicenow(approval),
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
            teleport_servicenow::run(config, token).await
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
        self.kit.plugin_data(id, "servicenow").unwrap_or_default()
    }

    /// Waits until the request's plugin data satisfies `ready`.
    pub(crate) async fn wait_data(
        &self,
        id: &str,
        what: &str,
        ready: impl FnMut(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        wait_plugin_data(&self.kit, id, "servicenow", what, WAIT, ready).await
    }

    /// Waits until the request's incident ID is recorded and the lease released.
    pub(crate) async fn wait_recorded(&self, id: &str) -> HashMap<String, String> {
        self.wait_data(id, "the incident ID", |d| {
            d.get("incident_id").is_some_and(|a| !a.is_empty())
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await
    }

    /// Waits for the request's incident to satisfy `ready` and returns it.
    pub(crate) async fn wait_incident(
        &self,
        id: &str,
        what: &str,
        mut ready: impl FnMut(&SnIncident) -> bool,
    ) -> SnIncident {
        let correlation = correlation(id);
        self.sn
            .wait_for(WAIT, |s| {
                s.incidents_correlated(&correlation)
                    .into_iter()
                    .find(|i| ready(i))
                    .cloned()
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for {what}; incidents: {:#?}",
                    self.sn.incidents()
                )
            })
    }

    /// Every incident opened for the request.
    pub(crate) fn incidents_for(&self, id: &str) -> Vec<SnIncident> {
        let correlation = correlation(id);
        self.sn
            .incidents()
            .into_iter()
            .filter(|i| i.correlation_id == correlation)
            .collect()
    }
}

/// The `correlation_id` of a request's incident.
pub(crate) fn correlation(id: &str) -> String {
    format!("teleport-access-request/{id}")
}

/// Auto-approval with the defaults (on, no limits).
pub(crate) fn approval() -> AutoApproval {
    AutoApproval::default()
}
