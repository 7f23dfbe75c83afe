//! Test support: the in-process Teleport, a fake PagerDuty with a small directory, and the
//! plugin run in-process against both.

#![allow(dead_code, unused_imports)] // each test crate uses its own part of these helpers

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use teleport_fakes::pagerduty::{FakeIncident, FakeOnCall, FakeSchedule};
use teleport_fakes::{FakePagerDuty, FakePagerDutyOptions};
use teleport_pagerduty::config::{AutoApproval, Config, PagerDutyConfig};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{CredentialsSource, Secret, TeleportConfig};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, request_id, wait_plugin_data};
use teleport_testkit::wire::types::AccessRequestV3;
use teleport_testkit::{IdentityRequest, Testkit};

/// Generous: the machine is small and shared.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const API_KEY: &str = "pd-test-key";
pub(crate) const BOT_EMAIL: &str = "teleport-bot@example.com";
pub(crate) const PLUGIN_USER: &str = "access-plugin";
pub(crate) const NOTIFY: &str = "pagerduty_notify_service";
pub(crate) const SERVICES: &str = "pagerduty_services";
pub(crate) const NOTIFY_SERVICE: &str = "Teleport Notifications";

/// The in-process Teleport, the fake PagerDuty and the plugin's identity.
pub(crate) struct Env {
    pub kit: Testkit,
    pub pd: FakePagerDuty,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    /// Escalation policies by name: `ep1` (service 1, Teleport Notifications), `ep2`
    /// (service 2), `ep3` (service 3).
    pub policies: HashMap<&'static str, String>,
    /// PagerDuty user IDs by e-mail.
    pub users: HashMap<&'static str, String>,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let kit = Testkit::start().await.expect("testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        // The plugin may approve requests for these roles.
        kit.add_reviewer(PLUGIN_USER, &["dev", "ops"]);

        // Two items per page: every lookup below has to page.
        let pd = FakePagerDuty::start(
            FakePagerDutyOptions::default()
                .api_key(API_KEY)
                .page_size(2),
        )
        .await;
        let mut users = HashMap::new();
        // PagerDuty's query matches parts of e-mails and names: these fillers come first in
        // the answers for alice and "service 1", so those lookups must page.
        for (name, email) in [
            ("Mallory Malice", "malice@example.com"),
            ("Pal Palice", "palice@example.com"),
            ("Teleport Bot", BOT_EMAIL),
            ("Alice Oncall", "alice@example.com"),
            ("Bob Offcall", "bob@example.com"),
            ("Carol Second", "carol@example.com"),
        ] {
            users.insert(email, pd.add_user(name, email));
        }
        let mut policies = HashMap::new();
        for name in ["ep1", "ep2", "ep3"] {
            policies.insert(name, pd.add_escalation_policy(name));
        }
        pd.add_service("service 10", &policies["ep3"]);
        pd.add_service("service 11", &policies["ep3"]);
        pd.add_service(NOTIFY_SERVICE, &policies["ep1"]);
        pd.add_service("service 1", &policies["ep1"]);
        pd.add_service("service 2", &policies["ep2"]);
        pd.add_service("service 3", &policies["ep3"]);
        Self {
            kit,
            pd,
            dir,
            identity,
            policies,
            users,
        }
    }

    /// Puts `email` on call in `policy` at `level`, optionally through a schedule.
    pub(crate) fn on_call(&self, email: &str, policy: &str, level: u32, schedule: Option<&str>) {
        self.pd.add_oncall(FakeOnCall {
            user_id: self.users[email].clone(),
            escalation_policy_id: self.policies[policy].clone(),
            escalation_level: level,
            schedule: schedule.map(|name| FakeSchedule {
                id: format!("PSCHED-{}", name.replace(' ', "-")),
                name: name.to_owned(),
            }),
        });
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

    pub(crate) fn pagerduty(&self, approval: AutoApproval) -> PagerDutyConfig {
        let mut config = PagerDutyConfig::new(Secret::new(API_KEY), BOT_EMAIL);
        config.api_endpoint = self.pd.base_url();
        config.auto_approval = approval;
        config
    }

    pub(crate) fn config(&self, approval: AutoApproval) -> Config {
        Config {
            runtime: RuntimeConfig::new("pagerduty", self.teleport(), OpsConfig::default()),
            pagerduty: self.pagerduty(approval),
        }
    }

    /// Runs the plugin in-process with short retry delays and the given lease.
    pub(crate) fn start(&self, approval: AutoApproval, lease: Duration) -> Plugin {
        self.start_config(self.config(approval), lease)
    }

    pub(crate) fn start_config(&self, config: Config, lease: Duration) -> Plugin {
        InProcessPlugin::spawn(WAIT, |token| async move {
            let mut config = config;
            config.runtime.tuning.dispatch = DispatchOptions {
                retry_base: Duration::from_millis(20),
                retry_cap: Duration::from_millis(300),
                ..DispatchOptions::default()
            };
            config.runtime.tuning.lease = lease;
            teleport_pagerduty::run(config, token).await
        })
    }

    /// Starts the plugin and waits until it watches requests.
    pub(crate) async fn started(&self, approval: AutoApproval) -> Plugin {
        let plugin = self.start(approval, Duration::from_secs(30));
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
        id_of(request.create().unwrap())
    }

    /// A request that asks for an incident on the notify service.
    pub(crate) fn notify_request(&self, user: &str) -> String {
        self.request(user, &["dev"], &[(NOTIFY, &[NOTIFY_SERVICE])])
    }

    pub(crate) fn data(&self, id: &str) -> HashMap<String, String> {
        self.kit.plugin_data(id, "pagerduty").unwrap_or_default()
    }

    /// Waits until the request's plugin data satisfies `ready`.
    pub(crate) async fn wait_data(
        &self,
        id: &str,
        what: &str,
        ready: impl FnMut(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        wait_plugin_data(&self.kit, id, "pagerduty", what, WAIT, ready).await
    }

    /// Waits for the incident with the request's key and returns it.
    pub(crate) async fn wait_incident(
        &self,
        id: &str,
        what: &str,
        mut ready: impl FnMut(&FakeIncident) -> bool,
    ) -> FakeIncident {
        let key = format!("teleport-access-request/{id}");
        self.pd
            .wait_for(WAIT, |s| {
                s.incidents_with_key(&key).find(|i| ready(i)).cloned()
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for {what}; incidents: {:#?}",
                    self.pd.incidents()
                )
            })
    }

    /// Every incident opened for the request.
    pub(crate) fn incidents_for(&self, id: &str) -> Vec<FakeIncident> {
        incidents_for(&self.pd, id)
    }

    pub(crate) fn request_state(&self, id: &str) -> (i32, usize) {
        let request = self.kit.get_request(id).expect("request exists");
        let spec = request.spec.unwrap();
        (spec.state, spec.reviews.len())
    }
}

/// Every incident `pd` has opened for request `id` (its de-duplication key names the request).
pub(crate) fn incidents_for(pd: &FakePagerDuty, id: &str) -> Vec<FakeIncident> {
    let key = format!("teleport-access-request/{id}");
    pd.incidents()
        .into_iter()
        .filter(|i| i.incident_key.as_deref() == Some(key.as_str()))
        .collect()
}

pub(crate) fn id_of(request: AccessRequestV3) -> String {
    request_id(&request)
}

/// A running in-process plugin.
pub(crate) type Plugin = InProcessPlugin;

/// Polls `check` until it holds (for conditions no fake can signal).
pub(crate) async fn eventually<F: Future<Output = bool>>(what: &str, check: impl FnMut() -> F) {
    teleport_plugin_testsupport::eventually(what, WAIT, check).await;
}
