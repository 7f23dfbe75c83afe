//! Sending through the Mailgun HTTP API: `POST {api_base}/{domain}/messages`, multipart form;
//! and finding a mail Mailgun accepted by its `Message-ID`: `GET {api_base}/{domain}/events`.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use serde::Deserialize;
use teleport_plugin_runtime::http::{MAX_RESPONSE_BODY, api_base, api_url, read_body};
use teleport_plugin_runtime::messaging::PostWindow;
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

/// A mail Mailgun reports as accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMail {
    /// Its `Message-ID`, without brackets.
    pub message_id: String,
    /// When Mailgun accepted it, in Unix seconds.
    pub accepted_at: u64,
}

/// One page of Mailgun's events; only what the look-up reads (`paging` is not followed: a
/// filter on one `Message-ID` matches a handful of events at most).
#[derive(Deserialize)]
struct EventPage {
    #[serde(default)]
    items: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    event: String,
    /// Unix seconds with a fraction.
    #[serde(default)]
    timestamp: f64,
    #[serde(default)]
    message: EventMessage,
}

#[derive(Default, Deserialize)]
struct EventMessage {
    #[serde(default)]
    headers: EventHeaders,
}

#[derive(Default, Deserialize)]
struct EventHeaders {
    #[serde(default, rename = "message-id")]
    message_id: String,
}

/// At most this many events per look-up (Mailgun allows 300).
const EVENTS_LIMIT: &str = "25";

impl MailgunMailer {
    /// A client sending through `http` (the runtime's client: its roots, its timeout).
    pub fn new(http: reqwest::Client, settings: MailgunSettings) -> Self {
        Self { http, settings }
    }

    /// Sends `request` with the API key (basic auth `api:<key>`); a failure before any
    /// answer is classified by [`unreachable`].
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ServiceError> {
        request
            .basic_auth("api", Some(self.settings.private_key.expose()))
            .send()
            .await
            .map_err(|e| unreachable(&e))
    }

    /// The start-up check: `GET {api_base}/domains/{domain}` — the key works and the sending
    /// domain belongs to it.
    pub async fn check(&self) -> Result<(), ServiceError> {
        let url = format!(
            "{}/domains/{}",
            self.settings.api_base, self.settings.domain
        );
        let response = self.call(self.http.get(url)).await?;
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
        let response = self.call(self.http.post(url).multipart(form)).await?;
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

    /// The mail with `message_id` (without brackets) that Mailgun accepted within `window`:
    /// `GET {api_base}/{domain}/events?message-id=…&event=accepted&begin=…&end=…`, under the
    /// private key that sends (no other permission). `Ok(None)` when Mailgun has no such
    /// event.
    ///
    /// Mailgun's events are eventually consistent: an event may show up some seconds after
    /// the mail was accepted, so a look-up right after a mail sent by a replica that was then
    /// killed can miss it and the mail goes out again. The look-up runs when a replica takes
    /// over a lapsed lease (tens of seconds after the mail) or retries a send whose outcome
    /// was unknown, so it closes the crash window in practice, not in theory.
    pub async fn find_accepted(
        &self,
        message_id: &str,
        window: &PostWindow,
    ) -> Result<Option<SentMail>, ServiceError> {
        let base = api_base(&self.settings.api_base, "mailgun.api_base")
            .map_err(|_| ServiceError::permanent("mailgun.api_base is not a usable URL"))?;
        // Whole seconds, widened outwards: Mailgun takes `begin`/`end` as Unix seconds.
        let begin = unix_seconds(window.after).to_string();
        let end = (unix_seconds(window.before) + 1).to_string();
        let url = api_url(
            &base,
            &[&self.settings.domain, "events"],
            &[
                ("message-id", message_id),
                ("event", "accepted"),
                ("begin", &begin),
                ("end", &end),
                ("limit", EVENTS_LIMIT),
            ],
        );
        let response = self.call(self.http.get(url)).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(ServiceError::from_status(
                status,
                response.headers(),
                format!("Mailgun answered {status} to the events look-up"),
            ));
        }
        let page: EventPage = read_body(response, MAX_RESPONSE_BODY)
            .await
            .ok()
            .and_then(|body| serde_json::from_slice(&body).ok())
            .ok_or_else(|| ServiceError::transient("Mailgun's events answer was unreadable"))?;
        // The filters are Mailgun's; checked again here, so that an answer that ignored one
        // cannot stand for our mail.
        Ok(page
            .items
            .into_iter()
            .filter(|event| event.event == "accepted")
            .find(|event| {
                strip_brackets(&event.message.headers.message_id).eq_ignore_ascii_case(message_id)
            })
            .map(|event| SentMail {
                message_id: message_id.to_owned(),
                accepted_at: if event.timestamp.is_finite() && event.timestamp > 0.0 {
                    event.timestamp as u64
                } else {
                    unix_seconds(SystemTime::now())
                },
            }))
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A failure before any answer, classified by the runtime (permanent only when asking
/// again cannot help; a connection closed before the answer is retried as a mail that may
/// have gone out); Mailgun's URL (which names the domain, not the key) is left out.
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
