//! Test support: the in-process Teleport, a fake GitLab with a few members, and the plugin
//! run in-process against both.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use teleport_fakes::gitlab::{GlIssue, access};
use teleport_fakes::{FakeGitlab, FakeGitlabOptions};
use teleport_gitlab::client::GitlabApi;
use teleport_gitlab::config::{Config, GitlabConfig, InboundTuning, ProjectRef, WebhookSettings};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{CredentialsSource, Secret, TeleportConfig};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::inbound::{HttpConfig, PollOptions};
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_testsupport::{
    InProcessPlugin, free_port, identity_dir, request_id, wait_plugin_data,
};
use teleport_testkit::wire::types::{AccessRequestV3, RequestState};
use teleport_testkit::{IdentityRequest, Testkit};

/// Generous: the machine is small and shared.
pub const WAIT: Duration = Duration::from_secs(20);
pub const TOKEN: &str = "glpat-test-token-1234";
pub const HOOK_SECRET: &str = "hook-secret-5678";
pub const PLUGIN_USER: &str = "access-plugin";
pub const PROJECT_ID: u64 = 4242;
pub const PROJECT_PATH: &str = "ops/access-requests";
/// GitLab users: a maintainer, a reporter, an owner through a group, a non-member.
pub const MARIA: u64 = 7;
pub const RITA: u64 = 8;
pub const OWEN: u64 = 9;
pub const STRANGER: u64 = 10;

/// The in-process Teleport, the fake GitLab and the plugin's identity.
pub struct Env {
    pub kit: Testkit,
    pub gitlab: FakeGitlab,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
}

impl Env {
    pub async fn new() -> Self {
        Self::with_gitlab(FakeGitlabOptions::default()).await
    }

    /// With the fake started from `options` plus the test token, project and users.
    pub async fn with_gitlab(options: FakeGitlabOptions) -> Self {
        let kit = Testkit::start().await.expect("testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        let gitlab = FakeGitlab::start(
            options
                .token(TOKEN)
                .project(PROJECT_ID, PROJECT_PATH)
                .user(MARIA, "maria", Some(access::MAINTAINER))
                .user(RITA, "rita", Some(access::REPORTER))
                .inherited_member(OWEN, "owen", access::OWNER)
                .user(STRANGER, "stranger", None),
        )
        .await;
        Self {
            kit,
            gitlab,
            dir,
            identity,
        }
    }

    pub fn teleport(&self) -> TeleportConfig {
        TeleportConfig::new(
            self.kit.auth_addr().to_string(),
            Some(CredentialsSource::IdentityFile {
                path: self.identity.clone(),
                refresh: None,
            }),
            "test.toml",
        )
    }

    /// `[gitlab]` against the fake: the project by path, polling only.
    pub fn gitlab_config(&self) -> GitlabConfig {
        GitlabConfig::new(
            self.gitlab.base_url(),
            Secret::new(TOKEN),
            ProjectRef::Path(PROJECT_PATH.into()),
        )
    }

    /// The webhook settings for a listener at `public_addr`.
    pub fn webhook(public_addr: &str) -> WebhookSettings {
        WebhookSettings {
            public_addr: public_addr.into(),
            secret: Secret::new(HOOK_SECRET),
            insecure_no_tls: true,
        }
    }

    pub fn config(&self, gitlab: GitlabConfig) -> Config {
        Config {
            runtime: RuntimeConfig::new("gitlab", self.teleport(), OpsConfig::default()),
            gitlab,
            http: None,
            inbound: InboundTuning::default(),
        }
    }

    /// A client of the fake, as the plugin builds it.
    pub fn api(&self) -> GitlabApi {
        let http = http_client(&HttpClientOptions::default()).expect("HTTP client");
        GitlabApi::new(http, &self.gitlab.base_url(), &Secret::new(TOKEN)).expect("client")
    }

    /// Runs the plugin in-process with short retry delays and the given lease.
    pub fn start_config(&self, config: Config, lease: Duration) -> Plugin {
        InProcessPlugin::spawn(WAIT, |token| async move {
            let mut config = config;
            config.runtime.tuning.dispatch = DispatchOptions {
                retry_base: Duration::from_millis(20),
                retry_cap: Duration::from_millis(300),
                ..DispatchOptions::default()
            };
            config.runtime.tuning.lease = lease;
            teleport_gitlab::run(config, token).await
        })
    }

    /// Starts the plugin (polling config) and waits until it watches requests.
    pub async fn started(&self) -> Plugin {
        let plugin = self.start_config(self.config(self.gitlab_config()), Duration::from_secs(30));
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("the plugin watches requests");
        plugin
    }

    /// A pending request by `user` for `roles`.
    pub fn request(&self, user: &str, roles: &[&str]) -> String {
        id_of(
            self.kit
                .new_request(user, roles)
                .reason("fix the outage")
                .create()
                .unwrap(),
        )
    }

    pub fn data(&self, id: &str) -> HashMap<String, String> {
        self.kit.plugin_data(id, "gitlab").unwrap_or_default()
    }

    /// Waits until the request's plugin data satisfies `ready`.
    pub async fn wait_data(
        &self,
        id: &str,
        what: &str,
        ready: impl FnMut(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        wait_plugin_data(&self.kit, id, "gitlab", what, WAIT, ready).await
    }

    /// Every issue whose description names the request.
    pub fn issues_for(&self, id: &str) -> Vec<GlIssue> {
        let marker = format!("Request ID is `{id}`.");
        self.gitlab
            .issues()
            .into_iter()
            .filter(|i| i.description.contains(&marker))
            .collect()
    }

    /// Waits for the request's issue to satisfy `ready` and returns it.
    pub async fn wait_issue(
        &self,
        id: &str,
        what: &str,
        mut ready: impl FnMut(&GlIssue) -> bool,
    ) -> GlIssue {
        let marker = format!("Request ID is `{id}`.");
        self.gitlab
            .wait_for(WAIT, |s| {
                s.issues
                    .iter()
                    .find(|i| i.description.contains(&marker) && ready(i))
                    .cloned()
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for {what}; issues: {:#?}",
                    self.gitlab.issues()
                )
            })
    }
}

/// How the plugin learns decisions in a test: the webhook (plain HTTP on a free loopback
/// port, registered in the fake as `<public_addr>/webhook`), polling every 200 ms, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Webhook,
    Polling,
    Both,
}

/// Poll driver settings for tests: every 200 ms, short backoff, `Retry-After` honoured up
/// to 3 s.
pub fn fast_poll() -> PollOptions {
    PollOptions {
        interval: Duration::from_millis(200),
        jitter: 0.0,
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(800),
        max_retry_after: Duration::from_secs(3),
        ..PollOptions::every(Duration::from_secs(1))
    }
}

impl Env {
    /// A config for `mode`, with the webhook on `port` (when it has one) and a small body
    /// limit so that the limit can be tested.
    pub fn mode_config(&self, mode: Mode, port: u16) -> Config {
        let mut gitlab = self.gitlab_config();
        let webhook = matches!(mode, Mode::Webhook | Mode::Both);
        if webhook {
            gitlab.webhook = Some(Self::webhook(&format!("http://127.0.0.1:{port}")));
        }
        if mode == Mode::Webhook {
            gitlab.poll_interval = None;
        }
        let mut config = self.config(gitlab);
        if webhook {
            config.http = Some(HttpConfig::plain(format!("127.0.0.1:{port}")));
        }
        config.inbound.poll = Some(fast_poll());
        config.inbound.listener.body_limit = BODY_LIMIT;
        config
    }

    /// Starts the plugin in `mode` and waits until it watches requests; returns it with the
    /// webhook URL GitLab delivers to (unused when polling only).
    pub async fn start_mode(&self, mode: Mode) -> (Plugin, String) {
        let port = free_port();
        let plugin = self.start_config(self.mode_config(mode, port), Duration::from_secs(30));
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("the plugin watches requests");
        (plugin, format!("http://127.0.0.1:{port}/webhook"))
    }

    /// A request with its issue opened and recorded by the running plugin; returns (id, iid).
    pub async fn request_with_issue(&self, user: &str) -> (String, u64) {
        let id = self.request(user, &["dev"]);
        let data = self
            .wait_data(&id, "the issue recorded", |d| {
                d.get("issue_iid").is_some_and(|v| !v.is_empty()) && released(d)
            })
            .await;
        (id, data["issue_iid"].parse().expect("an issue number"))
    }

    /// `user_id` adds `label` to issue `iid`, and GitLab delivers the `Issue Hook` to every
    /// registered hook; returns the receivers' statuses.
    pub async fn label_and_deliver(&self, iid: u64, user_id: u64, label: &str) -> Vec<u16> {
        let change = self.gitlab.add_label_as(iid, user_id, label);
        self.deliver(iid, user_id, &change).await
    }

    /// Delivers the `Issue Hook` of `change` (by `user_id`) to every registered hook.
    pub async fn deliver(
        &self,
        iid: u64,
        user_id: u64,
        change: &teleport_fakes::gitlab::LabelChange,
    ) -> Vec<u16> {
        let body = self
            .gitlab
            .issue_hook_body(iid, user_id, "update", Some(change))
            .expect("the issue exists");
        self.gitlab
            .deliver_issue_hook(&web_client(), &body)
            .await
            .into_iter()
            .map(|(url, status)| status.unwrap_or_else(|e| panic!("delivery to {url}: {e}")))
            .collect()
    }

    pub fn state(&self, id: &str) -> RequestState {
        let spec = self.kit.get_request(id).expect("request exists").spec;
        RequestState::try_from(spec.expect("a spec").state).expect("a known state")
    }

    /// Waits until the request reaches `state`.
    pub async fn wait_state(&self, id: &str, state: RequestState) {
        eventually(&format!("request {id} {state:?}"), || async {
            self.state(id) == state
        })
        .await;
    }

    /// The state changes Teleport recorded for the request.
    pub fn resolutions_of(&self, id: &str) -> Vec<teleport_testkit::Resolution> {
        self.kit
            .resolutions()
            .into_iter()
            .filter(|r| r.request_id == id)
            .collect()
    }
}

/// An HTTP client with the workspace's TLS set-up, for playing GitLab's side.
pub fn web_client() -> reqwest::Client {
    http_client(&HttpClientOptions::default()).expect("HTTP client")
}

/// The webhook listener's body limit in tests.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Long enough for a few polls and deliveries to have run.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(800)).await;
}

/// The record has no lease and satisfies `ready`.
pub fn released(data: &HashMap<String, String>) -> bool {
    data.get("claim").is_none_or(String::is_empty)
}

/// Closing finished and the lease was given back.
pub fn closed(data: &HashMap<String, String>) -> bool {
    data.get("close_progress").map(String::as_str) == Some("done") && released(data)
}

pub fn id_of(request: AccessRequestV3) -> String {
    request_id(&request)
}

/// A running in-process plugin.
pub type Plugin = InProcessPlugin;

/// Polls `check` until it holds (for conditions no fake can signal).
pub async fn eventually<F: Future<Output = bool>>(what: &str, check: impl FnMut() -> F) {
    teleport_plugin_testsupport::eventually(what, WAIT, check).await;
}
