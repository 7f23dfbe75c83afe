//! Slack review buttons (`[review]`, Go's native review): clicks arrive over Socket Mode
//! (`socket.rs`), the clicker is mapped to a Teleport user (`identity.rs`), and the review
//! is submitted *as that user*, so that Teleport's RBAC decides; the clicker is told the
//! outcome or the refusal in an ephemeral message. The request message itself is updated by
//! the usual watch path once Teleport records the review.

pub mod api;
pub mod identity;
pub mod socket;

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;
use teleport_client::{ClientError, RequestState, ReviewSubmission, TeleportClient};
use teleport_plugin_runtime::app::Companions;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{HttpsSlackConnector, SlackApi};
use crate::config::ReviewConfig;
use crate::render::{APPROVE_ACTION_ID, DENY_ACTION_ID, REVIEW_BLOCK_ID};
use api::AppToken;
use identity::{MappingError, UserMapper};
use socket::{Interaction, SocketModeClient};

/// Envelope ids remembered to drop redeliveries (Slack redelivers an envelope whose ack
/// was late; the review must not be attempted twice).
const SEEN_ENVELOPES: usize = 1024;

/// One click on Approve or Deny.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    /// The request ID (the button's value).
    pub request_id: String,
    /// APPROVED or DENIED.
    pub proposed_state: RequestState,
    /// Who clicked (Slack user ID).
    pub slack_user: String,
    /// Where (channel ID), for the ephemeral reply.
    pub channel: String,
}

/// Reads a `block_actions` payload as Go does: exactly one action, in the review block, with
/// a request ID and a user; anything else is not ours.
pub fn parse_click(payload: &Value) -> Option<Click> {
    if payload.get("type").and_then(Value::as_str) != Some("block_actions") {
        return None;
    }
    let actions = payload.get("actions")?.as_array()?;
    let [action] = actions.as_slice() else {
        return None;
    };
    if action.get("block_id").and_then(Value::as_str) != Some(REVIEW_BLOCK_ID) {
        return None;
    }
    let proposed_state = match action.get("action_id").and_then(Value::as_str)? {
        APPROVE_ACTION_ID => RequestState::Approved,
        DENY_ACTION_ID => RequestState::Denied,
        _ => return None,
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let click = Click {
        request_id: text(action.get("value")),
        proposed_state,
        slack_user: text(payload.pointer("/user/id")),
        channel: text(
            payload
                .pointer("/channel/id")
                .or_else(|| payload.pointer("/container/channel_id")),
        ),
    };
    (!click.request_id.is_empty() && !click.slack_user.is_empty()).then_some(click)
}

/// Why a click changed nothing, in the words the clicker sees (Go's).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The clicker maps to no Teleport user, or to one without review rights.
    #[error("Insufficient permissions to review request")]
    NotAllowed,
    /// This Teleport user has reviewed it already.
    #[error("Request has already been reviewed by user")]
    AlreadyReviewed,
    /// The request is resolved, expired or gone.
    #[error("Request has already been resolved or expired")]
    Resolved,
    /// Anything else (Teleport or Slack unreachable, ...).
    #[error("Unknown error")]
    Unknown,
}

impl From<&ClientError> for Refusal {
    fn from(error: &ClientError) -> Self {
        let text = error.to_string();
        match error {
            // Teleport words a second review by the same user as access denied.
            _ if text.contains("has already reviewed") => Refusal::AlreadyReviewed,
            ClientError::AlreadyExists { .. } => Refusal::AlreadyReviewed,
            ClientError::NotFound { .. } => Refusal::Resolved,
            ClientError::AccessDenied { .. } if text.contains("the access request") => {
                Refusal::Resolved
            }
            ClientError::AccessDenied { .. } => Refusal::NotAllowed,
            _ => Refusal::Unknown,
        }
    }
}

/// Handles clicks: maps, submits, replies.
pub struct ReviewHandler {
    teleport: TeleportClient,
    slack: Arc<SlackApi<HttpsSlackConnector>>,
    mapper: UserMapper,
}

impl ReviewHandler {
    /// A handler over the plugin's Teleport and Slack clients.
    pub fn new(
        teleport: TeleportClient,
        slack: Arc<SlackApi<HttpsSlackConnector>>,
        config: ReviewConfig,
    ) -> Self {
        Self {
            teleport,
            slack,
            mapper: UserMapper::new(config),
        }
    }

    /// Submits the review for the clicker, or says why not; the result is what the clicker
    /// is told.
    pub async fn review(&self, click: &Click) -> Result<(), Refusal> {
        let author = match self
            .mapper
            .teleport_user(&self.teleport, &self.slack, &click.slack_user)
            .await
        {
            Ok(author) => author,
            Err(err) => {
                tracing::info!(request_id = %click.request_id, slack_user = %click.slack_user,
                    reason = %err, "Slack review refused: the clicker maps to no Teleport user");
                return Err(match err {
                    MappingError::NoMatch { .. } | MappingError::Ambiguous(..) => {
                        Refusal::NotAllowed
                    }
                    MappingError::Teleport(_) | MappingError::Slack(_) => Refusal::Unknown,
                });
            }
        };
        let submission = ReviewSubmission {
            request_id: click.request_id.clone(),
            author: author.clone(),
            proposed_state: click.proposed_state,
            reason: String::new(),
        };
        match self.teleport.submit_review_on_behalf(&submission).await {
            Ok(_) => {
                tracing::info!(request_id = %click.request_id, teleport_user = %author,
                    proposed_state = ?click.proposed_state, "review submitted from Slack");
                Ok(())
            }
            Err(err) => {
                tracing::info!(request_id = %click.request_id, teleport_user = %author,
                    error = %err, "Teleport refused the review from Slack");
                Err(Refusal::from(&err))
            }
        }
    }

    /// Handles one click end to end, the reply included.
    pub async fn handle(&self, click: &Click) {
        let text = match self.review(click).await {
            Ok(()) => {
                let verb = match click.proposed_state {
                    RequestState::Denied => "denial",
                    _ => "approval",
                };
                format!("Your {verb} of request {} was submitted.", click.request_id)
            }
            Err(refusal) => refusal.to_string(),
        };
        if click.channel.is_empty() {
            return;
        }
        if let Err(err) = self
            .slack
            .post_ephemeral(&click.channel, &click.slack_user, &text)
            .await
        {
            tracing::warn!(request_id = %click.request_id, error = %err,
                "cannot tell the Slack user the review's outcome");
        }
    }
}

/// Starts the Socket Mode client and the click loop; both end with `stop`.
pub fn start(
    teleport: TeleportClient,
    slack: Arc<SlackApi<HttpsSlackConnector>>,
    tls: Arc<rustls::ClientConfig>,
    config: ReviewConfig,
    stop: CancellationToken,
) -> Companions {
    let (tx, rx) = mpsc::channel(64);
    let client = SocketModeClient {
        api: slack.clone(),
        app_token: AppToken::new(config.app_token.expose()),
        tls,
    };
    let handler = ReviewHandler::new(teleport, slack, config);
    vec![
        tokio::spawn(client.run(tx, stop.clone())),
        tokio::spawn(click_loop(handler, rx, stop)),
    ]
}

/// Clicks one at a time, in arrival order, as Go's consumer; redeliveries skipped.
async fn click_loop(
    handler: ReviewHandler,
    mut rx: mpsc::Receiver<Interaction>,
    stop: CancellationToken,
) {
    let mut seen: VecDeque<String> = VecDeque::with_capacity(SEEN_ENVELOPES);
    loop {
        let interaction = tokio::select! {
            next = rx.recv() => match next {
                Some(interaction) => interaction,
                None => return,
            },
            () = stop.cancelled() => return,
        };
        if !interaction.envelope_id.is_empty() {
            if seen.contains(&interaction.envelope_id) {
                tracing::debug!(envelope_id = %interaction.envelope_id,
                    "Socket Mode redelivery skipped");
                continue;
            }
            if seen.len() == SEEN_ENVELOPES {
                seen.pop_front();
            }
            seen.push_back(interaction.envelope_id.clone());
        }
        match parse_click(&interaction.payload) {
            Some(click) => handler.handle(&click).await,
            None => tracing::debug!("Slack interaction that is not a review button; skipped"),
        }
    }
}
