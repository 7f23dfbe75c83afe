//! Sending through the Mailgun HTTP API: `POST {api_base}/{domain}/messages`, multipart form.

use lettre::message::Mailbox;
use reqwest::StatusCode;
use serde::Deserialize;
use teleport_plugin_runtime::messaging::SendError;
use teleport_plugin_runtime::retry;

use crate::config::MailgunSettings;
use crate::mailer::{OutgoingMail, strip_brackets};

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

    /// Sends one mail; returns the message ID Mailgun reports (ours when it reports none).
    pub async fn send(&self, sender: &Mailbox, mail: &OutgoingMail) -> Result<String, SendError> {
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
            .map_err(|e| {
                let reason = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                SendError::transient(format!("cannot reach Mailgun: {reason}"))
            })?;
        let status = response.status();
        if status.is_success() {
            let accepted: Accepted = response.json().await.map_err(|_| {
                SendError::transient("Mailgun accepted the mail but its answer was unreadable")
            })?;
            let id = strip_brackets(&accepted.id);
            return Ok(if id.is_empty() {
                mail.message_id.clone()
            } else {
                id.to_owned()
            });
        }
        let retry_after = retry::retry_after(response.headers());
        let message = format!("Mailgun answered {status}");
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => SendError::Transient {
                message,
                retry_after,
            },
            // A wrong or revoked key: retried so that fixing it loses no mail.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                SendError::transient(format!("{message}: check [mailgun] private_key and domain"))
            }
            s if s.is_server_error() => SendError::Transient {
                message,
                retry_after,
            },
            _ => SendError::permanent(message),
        })
    }
}
