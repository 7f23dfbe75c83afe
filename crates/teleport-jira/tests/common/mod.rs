//! Test support: the in-process Teleport, a fake Jira (Cloud or Data Center) over HTTPS, a
//! webhook PKI, and the plugin run in-process against them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use teleport_fakes::jira::{Delivery, FakeIssue, FakeJiraUser, Flavour, WebhookTarget};
use teleport_fakes::{FakeJira, FakeJiraOptions};
use teleport_jira::config::{Config, JiraConfig};
use teleport_plugin_runtime::app::RuntimeConfig;
use teleport_plugin_runtime::config::{CredentialsSource, Secret, TeleportConfig};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::inbound::HttpConfig;
use teleport_plugin_runtime::inbound::PollOptions;
use teleport_plugin_runtime::inbound::config::{BasicAuth, ClientCa, Transport};
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir, request_id, wait_plugin_data};
use teleport_testkit::wire::types::RequestState;
use teleport_testkit::{IdentityRequest, Testkit};

/// Generous: the machine is small and shared.
pub const WAIT: Duration = Duration::from_secs(20);
pub const PLUGIN_USER: &str = "access-plugin";
pub const API_TOKEN: &str = "jira-api-token";
pub const USERNAME: &str = "jira-bot@example.com";
pub const PROJECT: &str = "TD2";
pub const PROPERTY: &str = "teleportAccessRequestId";

/// The in-process Teleport, the fake Jira, the plugin's identity and a webhook PKI.
pub struct Env {
    pub kit: Testkit,
    pub jira: FakeJira,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    pub jira_ca: PathBuf,
    pub pki: WebhookPki,
}

/// Certificates for the webhook listener: its server certificate, a client certificate
/// its CA signs, and one from an unrelated CA.
pub struct WebhookPki {
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client: (String, String),
    pub stranger: (String, String),
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, sans: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let sans = sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let cert = CertificateParams::new(sans)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

impl WebhookPki {
    fn new(dir: &std::path::Path) -> Self {
        let ca = new_ca("webhook CA");
        let other = new_ca("unrelated CA");
        let (cert, key) = leaf(&ca, &["127.0.0.1", "localhost"]);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Self {
            ca_file: write("webhook-ca.pem", &ca.pem()),
            cert_file: write("webhook.crt", &cert),
            key_file: write("webhook.key", &key),
            ca_pem: ca.pem(),
            client: leaf(&ca, &["jira.example.com"]),
            stranger: leaf(&other, &["jira.example.com"]),
        }
    }
}

impl Env {
    pub async fn new() -> Self {
        Self::with(FakeJiraOptions::default()).await
    }

    pub async fn data_center() -> Self {
        Self::with(FakeJiraOptions::default().flavour(Flavour::DataCenter)).await
    }

    pub async fn with(options: FakeJiraOptions) -> Self {
        let kit = Testkit::start().await.expect("testkit starts");
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        let jira = FakeJira::start(options).await;
        let jira_ca = dir.path().join("jira-ca.pem");
        std::fs::write(&jira_ca, jira.ca_pem()).unwrap();
        let pki = WebhookPki::new(dir.path());
        Self {
            kit,
            jira,
            dir,
            identity,
            jira_ca,
            pki,
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

    pub fn jira_config(&self) -> JiraConfig {
        let mut config = JiraConfig::new(
            self.jira.base_url(),
            USERNAME,
            Secret::new(API_TOKEN),
            PROJECT,
        );
        config.ca_file = Some(self.jira_ca.clone());
        config
    }

    /// A webhook listener over TLS on a free port, optionally with basic auth and
    /// required client certificates.
    pub fn https(&self, basic_auth: Option<(&str, &str)>, client_certs: bool) -> HttpConfig {
        let mut http = HttpConfig::plain("127.0.0.1:0");
        http.transport = Transport::Tls {
            cert_file: self.pki.cert_file.clone(),
            key_file: self.pki.key_file.clone(),
            client_ca: client_certs.then(|| ClientCa::File(self.pki.ca_file.clone())),
        };
        http.basic_auth = basic_auth.map(|(user, password)| BasicAuth {
            user: user.into(),
            password: Secret::new(password),
        });
        http
    }

    pub fn config(&self, http: Option<HttpConfig>, poll: Option<Duration>) -> Config {
        let mut jira = self.jira_config();
        jira.poll_interval = poll;
        Config {
            runtime: RuntimeConfig::new("jira", self.teleport(), OpsConfig::default()),
            jira,
            http,
            inbound: Default::default(),
        }
    }

    /// Runs the plugin in-process with short retry delays, polling (when configured) every
    /// 200 ms, and waits until it watches requests.
    pub async fn start(&self, config: Config) -> InProcessPlugin {
        let plugin = self.spawn(config);
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("the plugin watches requests");
        plugin
    }

    pub fn spawn(&self, config: Config) -> InProcessPlugin {
        InProcessPlugin::spawn(WAIT, |token| async move {
            teleport_jira::run(tuned(config), token).await
        })
    }

    pub fn pending(&self, user: &str, roles: &[&str], reason: &str) -> String {
        request_id(&self.kit.create_request(user, roles, reason).unwrap())
    }

    pub fn data(&self, id: &str) -> HashMap<String, String> {
        self.kit.plugin_data(id, "jira").unwrap_or_default()
    }

    /// Waits until the request's plugin data satisfies `ready`.
    pub async fn wait_data(
        &self,
        id: &str,
        what: &str,
        ready: impl FnMut(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        wait_plugin_data(&self.kit, id, "jira", what, WAIT, ready).await
    }

    /// Waits for the issue of request `id` to satisfy `ready`.
    pub async fn wait_issue(
        &self,
        id: &str,
        what: &str,
        mut ready: impl FnMut(&FakeIssue) -> bool,
    ) -> FakeIssue {
        let found = self
            .jira
            .wait_for(WAIT, |s| {
                s.issues
                    .iter()
                    .find(|i| {
                        i.properties.get(PROPERTY).and_then(|v| v.as_str()) == Some(id) && ready(i)
                    })
                    .cloned()
            })
            .await;
        found.unwrap_or_else(|_| {
            panic!(
                "timed out waiting for {what}; issues: {:#?}",
                self.jira.issues()
            )
        })
    }

    /// Issues made for request `id`.
    pub fn issues_for(&self, id: &str) -> Vec<FakeIssue> {
        self.jira
            .issues()
            .into_iter()
            .filter(|i| i.properties.get(PROPERTY).and_then(|v| v.as_str()) == Some(id))
            .collect()
    }

    pub fn state(&self, id: &str) -> RequestState {
        let spec = self
            .kit
            .get_request(id)
            .expect("request exists")
            .spec
            .unwrap();
        RequestState::try_from(spec.state).unwrap()
    }

    /// Waits until the request reaches `state`.
    pub async fn wait_state(&self, id: &str, state: RequestState) {
        eventually(&format!("request {id} {state:?}"), || async {
            self.state(id) == state
        })
        .await;
    }

    /// Runs the plugin with a webhook listener on a port of its own choosing (and polling
    /// when `poll` is set); returns it with where Jira would be configured to call.
    pub async fn start_webhook(
        &self,
        http: HttpConfig,
        poll: Option<Duration>,
    ) -> (InProcessPlugin, WebhookTarget) {
        let scheme = if matches!(http.transport, Transport::Plain) {
            "http"
        } else {
            "https"
        };
        let bound = Arc::new(OnceLock::new());
        let mut config = tuned(self.config(Some(http), poll));
        config.inbound.listening = Some(bound.clone());
        let plugin = InProcessPlugin::spawn(WAIT, |token| async move {
            teleport_jira::run(config, token).await
        });
        self.kit
            .wait_for_watchers(1, WAIT)
            .await
            .expect("the plugin watches requests");
        eventually("the webhook listener", || async { bound.get().is_some() }).await;
        let addr = bound.get().copied().expect("the listener is bound");
        let target = WebhookTarget {
            url: format!("{scheme}://{addr}/"),
            ca_pem: Some(self.pki.ca_pem.clone()),
            ..WebhookTarget::default()
        };
        (plugin, target)
    }

    /// A person moves the request's issue to `status` (commenting `comment` first) and
    /// Jira sends its webhook to `target`, when given.
    pub async fn decide_in_jira(
        &self,
        issue: &FakeIssue,
        who: &FakeJiraUser,
        status: &str,
        comment: Option<&str>,
        target: Option<&WebhookTarget>,
    ) -> Option<Delivery> {
        if let Some(text) = comment {
            self.jira.comment(&issue.id, who, text);
        }
        self.jira.move_issue(&issue.id, status, who);
        match target {
            Some(target) => Some(self.jira.send_webhook(target, &issue.id, who).await),
            None => None,
        }
    }
}

/// `config` with short delays for tests: retries at 20–300 ms, a 2 s lease, polls every
/// 200 ms.
pub fn tuned(mut config: Config) -> Config {
    config.runtime.tuning.dispatch = DispatchOptions {
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(300),
        ..DispatchOptions::default()
    };
    config.runtime.tuning.lease = Duration::from_secs(2);
    config.inbound.poll = Some(PollOptions {
        jitter: 0.0,
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(500),
        max_retry_after: Duration::from_secs(2),
        ..PollOptions::every(Duration::from_millis(200))
    });
    config
}

/// Polls `check` until it holds (for conditions no fake can signal).
pub async fn eventually<F: Future<Output = bool>>(what: &str, check: impl FnMut() -> F) {
    teleport_plugin_testsupport::eventually(what, WAIT, check).await;
}

/// The moment nothing more should happen: long enough for a wrong second action to show.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}
