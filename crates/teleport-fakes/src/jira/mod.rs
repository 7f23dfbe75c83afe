//! Fake Jira REST API v2 over HTTPS on loopback (its own CA; see [`FakeJira::ca_pem`]), in a
//! Cloud flavour (classic search gone) or a Data Center flavour, with controls to act as
//! people in Jira (move an issue, comment), fault injection, and a webhook sender.

mod api;
mod jql;
mod search;
mod state;
mod webhook;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::Value;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{
    FakeChange, FakeComment, FakeIssue, FakeJiraUser, Flavour, JiraState, PERMISSIONS,
};
pub use webhook::{Delivery, WebhookTarget, issue_updated};

/// How to start a [`FakeJira`].
#[derive(Clone, Debug)]
pub struct FakeJiraOptions {
    /// Listen address; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Cloud or Data Center. Default Cloud.
    pub flavour: Flavour,
    /// The project key. Default `TD2`.
    pub project: String,
    /// The user the API token belongs to (an e-mail on Cloud). Default `jira-bot@example.com`.
    pub username: String,
    /// The API token. Default `jira-api-token`.
    pub api_token: String,
    /// The longest page of search results and comments. Default 2, so clients must page.
    pub page_size: usize,
}

impl Default for FakeJiraOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            flavour: Flavour::Cloud,
            project: "TD2".into(),
            username: "jira-bot@example.com".into(),
            api_token: "jira-api-token".into(),
            page_size: 2,
        }
    }
}

impl FakeJiraOptions {
    /// Listen on `addr`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Use `flavour`.
    pub fn flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = flavour;
        self
    }

    /// Results per page.
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }
}

/// A running fake Jira. Dropping it stops the server.
pub struct FakeJira {
    shared: Arc<Shared>,
    server: LoopbackServer,
    ca_pem: String,
    next_user: Mutex<u32>,
}

/// A CA and a certificate for 127.0.0.1/localhost signed by it.
fn server_tls() -> Result<(Arc<rustls::ServerConfig>, String), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| text(&e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fake Jira CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(|e| text(&e))?)
        .map_err(|e| text(&e))?;
    let key = KeyPair::generate().map_err(|e| text(&e))?;
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(|e| text(&e))?
        .signed_by(&key, &ca)
        .map_err(|e| text(&e))?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| text(&e))?
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .map_err(|e| text(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), ca.pem()))
}

impl FakeJira {
    /// Start the fake; panics if it cannot (a test setup failure).
    pub async fn start(options: FakeJiraOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake jira: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting errors.
    pub async fn try_start(options: FakeJiraOptions) -> io::Result<Self> {
        let (tls, ca_pem) = server_tls().map_err(io::Error::other)?;
        let bot = FakeJiraUser {
            account_id: "acc-bot".into(),
            name: options
                .username
                .split('@')
                .next()
                .unwrap_or("bot")
                .to_owned(),
            email: options.username.clone(),
            display_name: "Teleport Bot".into(),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(JiraState::new(&options.project, bot)),
            control: Arc::new(Control::new()),
            credentials: Mutex::new((options.username, options.api_token)),
            flavour: options.flavour,
            page_size: options.page_size.max(1),
            base_url: OnceLock::new(),
        });
        let server =
            LoopbackServer::start_tls(options.listen, api::router(shared.clone()), tls).await?;
        let _ = shared
            .base_url
            .set(format!("https://{}", server.local_addr()));
        Ok(Self {
            shared,
            server,
            ca_pem,
            next_user: Mutex::new(0),
        })
    }

    /// `https://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.server.local_addr())
    }

    /// The CA (PEM) the fake's certificate is signed by; trust it to reach the fake.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The flavour.
    pub fn flavour(&self) -> Flavour {
        self.shared.flavour
    }

    /// Fault injection and call counts; methods are named like `POST /issue/{id}/comment`
    /// or `GET /search/jql`.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    fn mutate<T>(&self, change: impl FnOnce(&mut JiraState) -> T) -> T {
        let result = change(&mut self.shared.state());
        self.shared.control.notify_changed();
        result
    }

    /// A snapshot of everything the fake holds.
    pub fn read<T>(&self, look: impl FnOnce(&JiraState) -> T) -> T {
        look(&self.shared.state())
    }

    /// The plugin's own Jira user.
    pub fn bot(&self) -> FakeJiraUser {
        self.read(|s| s.bot.clone())
    }

    /// Adds a person; `email` may be empty (hidden on Cloud).
    pub fn add_user(&self, display_name: &str, email: &str) -> FakeJiraUser {
        let n = {
            let mut next = self.next_user.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let user = FakeJiraUser {
            account_id: format!("acc-{n}"),
            name: display_name.to_ascii_lowercase().replace(' ', "."),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
        };
        self.mutate(|s| s.users.insert(user.account_id.clone(), user.clone()));
        user
    }

    /// Grants or revokes one of [`PERMISSIONS`].
    pub fn set_permission(&self, permission: &str, granted: bool) {
        self.mutate(|s| s.permissions.insert(permission.to_owned(), granted));
    }

    /// Accept only `token` from now on.
    pub fn set_api_token(&self, token: &str) {
        self.shared
            .credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1 = token.to_owned();
    }

    /// The workflow no longer offers a transition into `status`.
    pub fn remove_transition_to(&self, status: &str) {
        self.mutate(|s| {
            s.workflow
                .transitions
                .retain(|(_, _, to)| !to.eq_ignore_ascii_case(status));
        });
    }

    /// Issues in creation order.
    pub fn issues(&self) -> Vec<FakeIssue> {
        self.read(|s| s.issues.clone())
    }

    /// One issue by ID or key.
    pub fn issue(&self, id_or_key: &str) -> Option<FakeIssue> {
        self.read(|s| s.issue(id_or_key).cloned())
    }

    /// JQL queries received, oldest first.
    pub fn queries(&self) -> Vec<String> {
        self.read(|s| s.queries.clone())
    }

    /// Moves an issue to `status` as `user` (as a person dragging it on the board).
    pub fn move_issue(&self, id: &str, status: &str, user: &FakeJiraUser) {
        let moved = self.mutate(|s| s.move_issue(id, status, user));
        assert!(moved, "fake jira: no issue {id}");
    }

    /// Comments on an issue as `user`.
    pub fn comment(&self, id: &str, user: &FakeJiraUser, body: &str) {
        let added = self.mutate(|s| s.add_comment(id, user, body));
        assert!(added.is_some(), "fake jira: no issue {id}");
    }

    /// Creates an issue by hand (not through the plugin), with `properties`; returns its ID.
    pub fn create_issue(&self, summary: &str, properties: &[(&str, Value)]) -> String {
        self.create_described_issue(summary, "", properties)
    }

    /// [`create_issue`](Self::create_issue) with a description (what text searches find).
    pub fn create_described_issue(
        &self,
        summary: &str,
        description: &str,
        properties: &[(&str, Value)],
    ) -> String {
        self.mutate(|s| {
            let id = s.next_id();
            let now = s.tick();
            let issue = FakeIssue {
                id: id.clone(),
                key: format!("{}-{}", s.project, s.issues.len() + 1),
                project: s.project.clone(),
                issue_type: "Task".into(),
                summary: summary.to_owned(),
                description: description.to_owned(),
                status: "Pending".into(),
                properties: properties
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                comments: Vec::new(),
                changelog: Vec::new(),
                updated: now,
            };
            s.issues.push(issue);
            id
        })
    }

    /// Sets an entity property on an issue.
    pub fn set_property(&self, id: &str, key: &str, value: Value) {
        self.mutate(|s| {
            if let Some(issue) = s.issue_mut(id) {
                issue.properties.insert(key.to_owned(), value);
            }
        });
    }

    /// The webhook body Jira sends for the issue's current state, changed by `user`.
    pub fn webhook_body(&self, id: &str, user: &FakeJiraUser) -> Value {
        let issue = self
            .issue(id)
            .unwrap_or_else(|| panic!("fake jira: no issue {id}"));
        issue_updated(&issue, user, &self.base_url(), self.shared.flavour)
    }

    /// Delivers Jira's webhook for the issue's current state to `target`.
    pub async fn send_webhook(
        &self,
        target: &WebhookTarget,
        id: &str,
        user: &FakeJiraUser,
    ) -> Delivery {
        let body = self.webhook_body(id, user).to_string().into_bytes();
        webhook::deliver(target, body).await
    }

    /// Delivers any body to `target` (forged, malformed, oversized).
    pub async fn send_raw(&self, target: &WebhookTarget, body: Vec<u8>) -> Delivery {
        webhook::deliver(target, body).await
    }

    /// Calls of `method` received, faulted ones included.
    pub fn call_count(&self, method: &str) -> u64 {
        self.shared.control.call_count(method)
    }

    /// Waits until `check` returns `Some`; re-checked on every change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&JiraState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
