//! Decisions made in Jira (an issue moved to Approved or Denied), learned by webhook or by
//! polling, and applied to Teleport through the runtime's one write path.
//!
//! A payload is never trusted: the webhook only names an issue, which is read again with the
//! plugin's own credentials. The issue's `teleportAccessRequestId` property names the
//! request, and that request's record must name this very issue (an issue copied or made by
//! hand with someone else's request ID is refused). The changelog says who moved it, their
//! latest comment with a `reason:` line says why, and the request is approved or denied on
//! their behalf (`jira:<e-mail>` in the audit log) only while it is still pending.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use teleport_client::{ClientError, TeleportClient};
use teleport_plugin_runtime::dispatch::{Observation, RequestHandler};
use teleport_plugin_runtime::inbound::{
    Applied, Channel, Decision, DecisionError, DecisionWriter, SeenFailure, Verdict,
};
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::tracker::IssueKeys;
use tracing::Instrument;

use crate::client::{Issue, JiraClient, JiraError, JiraUser};
use crate::handler::{JiraHandler, REQUEST_ID_PROPERTY};
use crate::record::{IssueRecord, PLUGIN_NAME};
use crate::render;

/// What became of an issue seen in Jira.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Not an Approved / Denied issue, or not one of the plugin's: nothing to do.
    Ignored(&'static str),
    /// The decision was applied to the request.
    Applied,
    /// The request was already resolved (or the decision already applied): nothing to do.
    AlreadyDone,
    /// The request no longer exists; its issue is resolved as expired.
    Gone,
}

/// Why an issue's decision was not applied.
#[derive(Debug, thiserror::Error)]
pub enum SeenError {
    /// The issue names a request whose record names another issue (or none).
    #[error(
        "issue {issue_id} names request {request_id}, whose plugin data does not name this issue"
    )]
    Mismatch {
        /// The issue.
        issue_id: String,
        /// The request its property names.
        request_id: String,
    },
    /// Jira failed.
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// Teleport failed.
    #[error("Teleport call failed: {0}")]
    Teleport(#[from] ClientError),
    /// The decision write path did not apply it.
    #[error(transparent)]
    Decision(#[from] DecisionError),
}

impl SeenFailure for SeenError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Mismatch { .. } => false,
            Self::Jira(error) => error.is_transient(),
            Self::Teleport(error) => error.is_connection_problem(),
            Self::Decision(error) => error.is_transient(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Jira(error) => error.retry_after(),
            Self::Decision(DecisionError::Busy { retry_after }) => Some(*retry_after),
            _ => None,
        }
    }
}

/// Turns Jira issues into decisions; shared by the webhook and the poller.
pub struct Inbound {
    pub(crate) jira: JiraClient,
    teleport: TeleportClient,
    writer: DecisionWriter,
    handler: Arc<JiraHandler>,
    metrics: Metrics,
}

impl Inbound {
    /// Decisions read from `jira`, applied through `teleport` as replica `replica_id`.
    pub fn new(
        jira: JiraClient,
        teleport: TeleportClient,
        replica_id: &str,
        handler: Arc<JiraHandler>,
        metrics: Metrics,
    ) -> Self {
        let writer = DecisionWriter::new(teleport.clone(), PLUGIN_NAME, replica_id);
        Self {
            jira,
            teleport,
            writer,
            handler,
            metrics,
        }
    }

    /// Reads issue `id` with the plugin's credentials and acts on it.
    pub async fn on_issue_id(&self, id: &str) -> Result<Seen, SeenError> {
        let issue = self.jira.get_issue(id, REQUEST_ID_PROPERTY).await?;
        self.on_issue(&issue).await
    }

    /// Acts on an issue read with the plugin's own credentials (by ID or by search).
    pub async fn on_issue(&self, issue: &Issue) -> Result<Seen, SeenError> {
        let status = issue.status().to_ascii_lowercase();
        let verdict = match status.as_str() {
            "approved" => Verdict::Approve,
            "denied" => Verdict::Deny,
            _ => return Ok(Seen::Ignored("the issue is not in Approved or Denied")),
        };
        let Some(request_id) = issue.property(REQUEST_ID_PROPERTY) else {
            return Ok(Seen::Ignored(
                "the issue has no teleportAccessRequestId property",
            ));
        };
        let span = tracing::info_span!("jira_decision", request_id = %request_id, jira_issue_id = %issue.id, jira_issue_key = %issue.key);
        self.decide(issue, &status, verdict, request_id)
            .instrument(span)
            .await
    }

    async fn decide(
        &self,
        issue: &Issue,
        status: &str,
        verdict: Verdict,
        request_id: String,
    ) -> Result<Seen, SeenError> {
        let record = self
            .teleport
            .get_plugin_data(PLUGIN_NAME, &request_id)
            .await?
            .map(|data| IssueRecord::decode(&data));
        let Some(record) = record.filter(|r| r.issue.exists() && r.issue.id == issue.id) else {
            tracing::warn!(
                "an issue names a request whose plugin data does not name this issue; ignoring its status"
            );
            return Err(SeenError::Mismatch {
                issue_id: issue.id.clone(),
                request_id,
            });
        };
        if record.request.resolution.is_some() {
            return Ok(Seen::AlreadyDone);
        }
        let author = self.author(issue, status).await?;
        let reason = match &author {
            Some(author) => self.reason_of(&issue.id, author).await?,
            None => String::new(),
        };
        let who = author
            .as_ref()
            .and_then(JiraUser::audit_name)
            .unwrap_or("unknown");
        if author.is_none() {
            tracing::warn!("cannot tell from the changelog who moved the issue to {status}");
        }
        let decision = Decision {
            request_id: request_id.clone(),
            verdict,
            reason: render::truncate(&reason, render::REASON_LIMIT).to_owned(),
            channel: Channel::SetState {
                delegator: format!("{PLUGIN_NAME}:{who}"),
            },
        };
        let applied = self
            .writer
            .apply(&decision)
            .await
            .inspect_err(|_| self.metrics.send_failed("decision"))?;
        Ok(match applied {
            Applied::Applied => {
                self.metrics.sent("decision");
                tracing::info!(jira_user = %who, reason = %decision.reason, "Jira user {status} the request");
                Seen::Applied
            }
            Applied::AlreadyResolved(_) | Applied::AlreadyReviewed => Seen::AlreadyDone,
            Applied::Gone => {
                // Nothing will ever be decided for it: resolve the issue as expired (the
                // handler does that under the record's lease, exactly once).
                let outcome = self.handler.handle(&Observation::Deleted(request_id)).await;
                tracing::info!(
                    ?outcome,
                    "the request no longer exists; its issue is resolved as expired"
                );
                Seen::Gone
            }
        })
    }

    /// Who last moved the issue to `status`: from its changelog, read again in full when
    /// the one at hand may be cut short.
    async fn author(&self, issue: &Issue, status: &str) -> Result<Option<JiraUser>, SeenError> {
        if let Some(author) = issue.moved_to_by(status) {
            return Ok(Some(author.clone()));
        }
        if issue.changelog.is_none() || issue.changelog_truncated() {
            let full = self.jira.get_issue(&issue.id, REQUEST_ID_PROPERTY).await?;
            return Ok(full.moved_to_by(status).cloned());
        }
        Ok(None)
    }

    /// The reason in `author`'s newest comment that gives one.
    async fn reason_of(&self, issue_id: &str, author: &JiraUser) -> Result<String, SeenError> {
        let mut reason = None;
        self.jira
            .comments_newest_first(issue_id, |comment| {
                let by_author = comment
                    .author
                    .as_ref()
                    .is_some_and(|a| a.same_person(author));
                match by_author
                    .then(|| render::reason_in_comment(&comment.body))
                    .flatten()
                {
                    Some(found) => {
                        reason = Some(found);
                        ControlFlow::Break(())
                    }
                    None => ControlFlow::Continue(()),
                }
            })
            .await?;
        Ok(reason.unwrap_or_default())
    }
}
