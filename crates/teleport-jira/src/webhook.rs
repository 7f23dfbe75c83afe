//! The webhook route (`POST /`, as Go): Jira's `jira:issue_updated` / `issue_generic` event
//! names an issue; the issue is read again with the plugin's credentials and handed to
//! [`Inbound`]. The answer tells Jira whether to send it again: 2xx done or ignored, 4xx
//! never (malformed or forged), 503 later (Jira or Teleport busy or down).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use teleport_plugin_runtime::inbound::answer::{answer, failed};

use crate::client::JiraError;
use crate::decision::{Inbound, Seen, SeenError};
use crate::handler::REQUEST_ID_PROPERTY;

/// Times the issue is read again while Jira's API still shows the old status (its webhooks
/// can arrive before its API catches up), and the pause between reads.
const CATCH_UP_READS: u32 = 3;
const CATCH_UP_PAUSE: Duration = Duration::from_millis(700);

#[derive(Deserialize)]
struct Webhook {
    #[serde(default, rename = "webhookEvent")]
    event: String,
    #[serde(default)]
    issue_event_type_name: String,
    #[serde(default)]
    issue: Option<WebhookIssue>,
}

#[derive(Deserialize)]
struct WebhookIssue {
    #[serde(default)]
    id: String,
    #[serde(default)]
    fields: Option<WebhookFields>,
}

#[derive(Deserialize)]
struct WebhookFields {
    #[serde(default)]
    status: Option<WebhookStatus>,
}

#[derive(Deserialize)]
struct WebhookStatus {
    #[serde(default)]
    name: String,
}

/// The plugin's routes for the runtime's listener.
pub fn routes(inbound: Arc<Inbound>) -> Router {
    Router::new()
        .route("/", post(on_webhook))
        .with_state(inbound)
}

fn looks_like_issue_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What a webhook body claims, before anything in it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookBody {
    /// Another event than an issue update: answered 200 and ignored.
    Ignored {
        /// `webhookEvent`.
        event: String,
        /// `issue_event_type_name`.
        kind: String,
    },
    /// An issue update: the issue it names and the status it claims (lower case).
    IssueUpdated {
        /// The issue's numeric ID (checked to look like one).
        issue_id: String,
        /// The status the body says the issue has now; a hint only.
        claimed_status: String,
    },
}

/// Why a webhook body is refused (400: Jira must not send it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedWebhook {
    /// Not Jira's JSON.
    #[error("malformed webhook")]
    NotJson,
    /// An issue update without a plausible issue ID.
    #[error("the webhook names no issue")]
    NoIssue,
}

/// Reads a webhook body. Nothing in it is trusted: the issue it names is read again with the
/// plugin's own credentials before anything is done.
pub fn parse_body(body: &[u8]) -> Result<WebhookBody, MalformedWebhook> {
    let hook = serde_json::from_slice::<Webhook>(body).map_err(|_| MalformedWebhook::NotJson)?;
    if hook.event != "jira:issue_updated" || hook.issue_event_type_name != "issue_generic" {
        return Ok(WebhookBody::Ignored {
            event: hook.event,
            kind: hook.issue_event_type_name,
        });
    }
    let issue = hook
        .issue
        .filter(|i| looks_like_issue_id(&i.id))
        .ok_or(MalformedWebhook::NoIssue)?;
    let claimed_status = issue
        .fields
        .and_then(|f| f.status)
        .map(|s| s.name.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(WebhookBody::IssueUpdated {
        issue_id: issue.id,
        claimed_status,
    })
}

async fn on_webhook(State(inbound): State<Arc<Inbound>>, body: Bytes) -> Response {
    let (issue_id, claimed) = match parse_body(&body) {
        Ok(WebhookBody::IssueUpdated {
            issue_id,
            claimed_status,
        }) => (issue_id, claimed_status),
        Ok(WebhookBody::Ignored { event, kind }) => {
            tracing::debug!(%event, %kind, "webhook event ignored");
            return answer(StatusCode::OK, "ignored");
        }
        Err(MalformedWebhook::NotJson) => {
            tracing::info!("webhook body is not Jira's JSON; refused");
            return answer(StatusCode::BAD_REQUEST, "malformed webhook");
        }
        Err(MalformedWebhook::NoIssue) => {
            return answer(StatusCode::BAD_REQUEST, "the webhook names no issue");
        }
    };
    let mut reads = 0;
    let current = loop {
        reads += 1;
        let issue = match inbound.jira.get_issue(&issue_id, REQUEST_ID_PROPERTY).await {
            Ok(issue) => issue,
            Err(JiraError::NotFound { .. }) => {
                tracing::warn!(jira_issue_id = %issue_id, "webhook names an issue the plugin cannot see; refused");
                return answer(StatusCode::NOT_FOUND, "no such issue");
            }
            Err(error) => return failure(&SeenError::Jira(error)),
        };
        let lagging = matches!(claimed.as_str(), "approved" | "denied")
            && !issue.status().eq_ignore_ascii_case(&claimed);
        if !lagging || reads >= CATCH_UP_READS {
            break issue;
        }
        tokio::time::sleep(CATCH_UP_PAUSE).await;
    };
    match inbound.on_issue(&current).await {
        Ok(Seen::Ignored(why)) => {
            tracing::debug!(jira_issue_id = %current.id, why, "webhook: nothing to do");
            answer(StatusCode::OK, "ignored")
        }
        Ok(Seen::Applied) => answer(StatusCode::OK, "applied"),
        Ok(Seen::AlreadyDone) => answer(StatusCode::OK, "nothing to do"),
        Ok(Seen::Gone) => answer(StatusCode::OK, "request gone"),
        Err(error) => failure(&error),
    }
}

fn failure(error: &SeenError) -> Response {
    if let SeenError::Mismatch { .. } = error {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the issue does not belong to the request it names",
        );
    }
    failed(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_as_hints_or_refused() {
        let update =
            br#"{"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic",
            "issue":{"id":"10001","fields":{"status":{"name":"Approved"}}}}"#;
        assert_eq!(
            parse_body(update),
            Ok(WebhookBody::IssueUpdated {
                issue_id: "10001".into(),
                claimed_status: "approved".into()
            })
        );
        let other = br#"{"webhookEvent":"comment_created","issue_event_type_name":""}"#;
        assert!(matches!(parse_body(other), Ok(WebhookBody::Ignored { .. })));
        assert_eq!(parse_body(b"not json"), Err(MalformedWebhook::NotJson));
        let forged_id =
            br#"{"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic",
            "issue":{"id":"../../admin"}}"#;
        assert_eq!(parse_body(forged_id), Err(MalformedWebhook::NoIssue));
    }
}
