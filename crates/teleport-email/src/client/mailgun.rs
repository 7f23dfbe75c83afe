//! Sending through the Mailgun HTTP API: `POST {api_base}/{domain}/messages`, multipart form.

use lettre::message::Mailbox;
use serde::Deserialize;
use teleport_plugin_runtime::http::{MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::service_error::ServiceError;

use super::{OutgoingMail, strip_brackets};
use crate::config::MailgunSettings;

/// A Mailgun client for one sending domain.
pub struct MailgunMailer {
    http: reqwest::Client,
    settings: MailgunSettings,
}

impl std::fmt::Debug for MailgunMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailgunMailer")
            .field("domain", &self.settings.domain)
            .field("api_base", &self.settings.api_base)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Accepted {
    #[serde(default)]
    id: String,
}

impl MailgunMailer {
    /// A client sending through `http` (the runtime's client: its roots, its timeout).
    pub fn new(http: reqwest::Client, settings: MailgunSettings) -> Self {
        Self { http, settings }
    }

    /// The start-up check: `GET {api_base}/domains/{domain}` — the key works and the sending
    /// domain belongs to it.
    pub async fn check(&self) -> Result<(), ServiceError> {
        let url = format!(
            "{}/domains/{}",
            self.settings.api_base, self.settings.domain
        );
        let response = self
            .http
            .get(url)
            .basic_auth("api", Some(self.settings.private_key.expose()))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            tracing::info!(domain = %self.settings.domain, "Mailgun knows the sending domain");
            return Ok(());
        }
        Err(ServiceError::from_status(
            status,
            response.headers(),
            format!(
                "Mailgun answered {status} for domain {}: check [mailgun] private_key and domain",
                self.settings.domain
            ),
        ))
    }

    /// Sends one mail; returns the message ID Mailgun reports (ours when it reports none).
    pub async fn send(
        &self,
        sender: &Mailbox,
        mail: &OutgoingMail,
    ) -> Result<String, ServiceError> {
        let url = format!(
            "{}/{}/messages",
            self.settings.api_base, self.settings.domain
        );
        let mut form = reqwest::multipart::Form::new()
            .text("from", sender.to_string())
            .text("to", mail.to.clone())
            .text("subject", mail.subject.clone())
            .text("text", mail.text.clone())
            .text("html", mail.html.clone())
            .text("h:Message-Id", format!("<{}>", mail.message_id))
            .text("o:require-tls", "true");
        if let Some(root) = mail.in_reply_to.as_deref().filter(|r| !r.is_empty()) {
            form = form
                .text("h:In-Reply-To", format!("<{root}>"))
                .text("h:References", format!("<{root}>"));
        }
        let response = self
            .http
            .post(url)
            .basic_auth("api", Some(self.settings.private_key.expose()))
            .multipart(form)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            let accepted: Accepted = read_body(response, MAX_RESPONSE_BODY)
                .await
                .ok()
                .and_then(|body| serde_json::from_slice(&body).ok())
                .ok_or_else(|| {
                    ServiceError::transient(
                        "Mailgun accepted the mail but its answer was unreadable",
                    )
                })?;
            let id = strip_brackets(&accepted.id);
            return Ok(if id.is_empty() {
                mail.message_id.clone()
            } else {
                id.to_owned()
            });
        }
        // A wrong or revoked key (401/403) is retried, loudly, so that fixing it loses no mail.
        Err(ServiceError::from_status(
            status,
            response.headers(),
            format!("Mailgun answered {status}"),
        ))
    }
}

/// A failure before any answer, classified by the runtime; Mailgun's URL (which names the
/// domain, not the key) is left out of the message.
fn unreachable(error: &reqwest::Error) -> ServiceError {
    let reason = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match ServiceError::from_reqwest(error) {
        ServiceError::Permanent { .. } => {
            ServiceError::permanent(format!("cannot call Mailgun: {reason}"))
        }
        _ => ServiceError::transient(format!("cannot reach Mailgun: {reason}")),
    }
}
