//! Sending Jira's webhook (`jira:issue_updated`, `issue_generic`) to a plugin's listener, the
//! way Jira would, or with whatever body and credentials a test wants to try.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use super::state::{FakeIssue, FakeJiraUser, Flavour, user_json};

/// Where and how to deliver a webhook.
#[derive(Clone, Debug, Default)]
pub struct WebhookTarget {
    /// The listener's URL, e.g. `https://127.0.0.1:8081/`.
    pub url: String,
    /// A PEM CA to trust for an `https` URL.
    pub ca_pem: Option<String>,
    /// A client certificate chain and key (PEM) to present.
    pub client_identity: Option<(String, String)>,
    /// Basic-auth user and password to send.
    pub basic_auth: Option<(String, String)>,
}

/// What the listener answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An HTTP answer with this status.
    Status(u16),
    /// No HTTP answer (refused connection, failed TLS handshake, ...).
    Failed(String),
}

impl Delivery {
    /// The status, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status(code) => Some(*code),
            Self::Failed(_) => None,
        }
    }
}

/// The body Jira sends when `issue` changed (its current status) because of `user`.
pub fn issue_updated(
    issue: &FakeIssue,
    user: &FakeJiraUser,
    base: &str,
    flavour: Flavour,
) -> Value {
    json!({
        "timestamp": 1_700_000_000_000u64,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user_json(user, flavour),
        "issue": {
            "id": issue.id,
            "key": issue.key,
            "self": format!("{base}/rest/api/2/issue/{}", issue.id),
            "fields": { "status": { "name": issue.status } },
        },
        "changelog": { "items": [{ "field": "status", "toString": issue.status }] },
    })
}

/// Posts `body` to the target.
pub(super) async fn deliver(target: &WebhookTarget, body: Vec<u8>) -> Delivery {
    let client = match client(target) {
        Ok(client) => client,
        Err(error) => return Delivery::Failed(error),
    };
    let mut request = client
        .post(&target.url)
        .header("content-type", "application/json")
        .header("user-agent", "Atlassian Webhook HTTP Client")
        .body(body);
    if let Some((user, password)) = &target.basic_auth {
        request = request.basic_auth(user, Some(password));
    }
    match request.send().await {
        Ok(response) => Delivery::Status(response.status().as_u16()),
        Err(error) => Delivery::Failed(format!("{error:#}")),
    }
}

fn client(target: &WebhookTarget) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = &target.ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| e.to_string())?;
            roots.add(cert).map_err(|e| e.to_string())?;
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots);
    let tls = match &target.client_identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| e.to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}
