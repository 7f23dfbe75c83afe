//! Decisions made in GitLab applied to Teleport, shared by the webhook and the poller: an
//! issue of the project is assessed as GitLab's API shows it now (`assess`), and a
//! decision goes to the runtime's `inbound::decision` writer, which changes the request
//! only while it is still pending, once however often the decision is seen (a redelivered
//! hook, a hook and a poll, two replicas). Never through the dispatcher, whose coalescing
//! keeps only the latest observation of a request.

use std::sync::Arc;
use std::time::Duration;

use teleport_plugin_runtime::dispatch::{Observation, RequestHandler};
use teleport_plugin_runtime::inbound::{
    self, Applied, Channel, DecisionError, DecisionWriter, SeenFailure, Verdict as InboundVerdict,
};
use teleport_plugin_runtime::metrics::Metrics;
use tracing::Instrument;

use crate::PLUGIN_NAME;
use crate::assess::{AssessError, Assessor};
use crate::client::GitlabError;
use crate::decision::{Assessment, Verdict};
use crate::handler::GitlabHandler;

/// What became of an issue looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// No decision label, or the request is resolved already: nothing to do.
    Nothing,
    /// A decision label that does not count (set by someone without the role, on a copied
    /// issue, ...); the assessor logged why.
    Ignored,
    /// The decision was applied to the request.
    Applied,
    /// The request was no longer pending (decided before, maybe by this very label).
    AlreadyDone,
    /// The request no longer exists; its issue is resolved as expired.
    Gone,
}

/// Why an issue's decision was not applied (yet).
#[derive(Debug, thiserror::Error)]
pub enum SeenError {
    /// GitLab or Teleport failed while the issue was assessed.
    #[error(transparent)]
    Assess(#[from] AssessError),
    /// The decision writer did not apply it.
    #[error(transparent)]
    Decision(#[from] DecisionError),
}

impl SeenFailure for SeenError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Assess(error) => error.is_transient(),
            Self::Decision(error) => error.is_transient(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Assess(AssessError::Gitlab(error)) => error.retry_after(),
            Self::Decision(DecisionError::Busy { retry_after }) => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<GitlabError> for SeenError {
    fn from(error: GitlabError) -> Self {
        Self::Assess(AssessError::Gitlab(error))
    }
}

/// Turns labelled issues of the project into decisions.
pub struct Inbound {
    pub(crate) assessor: Assessor,
    pub(crate) project_id: u64,
    writer: DecisionWriter,
    handler: Arc<GitlabHandler>,
    metrics: Metrics,
}

impl Inbound {
    /// Decisions in project `project_id` found by `assessor`, applied by `writer`;
    /// `handler` resolves the issue of a request that is gone.
    pub fn new(
        assessor: Assessor,
        project_id: u64,
        writer: DecisionWriter,
        handler: Arc<GitlabHandler>,
        metrics: Metrics,
    ) -> Self {
        Self {
            assessor,
            project_id,
            writer,
            handler,
            metrics,
        }
    }

    /// The project decisions are taken in.
    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    /// Looks at issue `iid` of the project as GitLab shows it now and applies its decision,
    /// if any.
    pub async fn on_issue(&self, iid: u64) -> Result<Seen, SeenError> {
        let span = tracing::info_span!("gitlab_decision", gitlab_issue_iid = iid);
        async {
            match self.assessor.assess(self.project_id, iid).await? {
                Assessment::Nothing => Ok(Seen::Nothing),
                Assessment::Ignore(_) => Ok(Seen::Ignored),
                Assessment::Decide(decision) => {
                    let request_id = decision.request_id.clone();
                    self.apply(decision)
                        .instrument(tracing::info_span!("request", request_id = %request_id))
                        .await
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn apply(&self, decision: crate::decision::Decision) -> Result<Seen, SeenError> {
        let verdict = match decision.verdict {
            Verdict::Approve => InboundVerdict::Approve,
            Verdict::Deny => InboundVerdict::Deny,
        };
        let write = inbound::Decision {
            request_id: decision.request_id.clone(),
            verdict,
            reason: decision.reason.clone(),
            channel: Channel::SetState {
                delegator: decision.delegator.clone(),
            },
        };
        let applied = self
            .writer
            .apply(&write)
            .await
            .inspect_err(|_| self.metrics.send_failed("decision"))?;
        Ok(match applied {
            Applied::Applied => {
                self.metrics.sent("decision");
                tracing::info!(gitlab_user = %decision.username, verdict = ?decision.verdict, reason = %decision.reason, "applied the decision taken in GitLab");
                Seen::Applied
            }
            Applied::AlreadyResolved(_) | Applied::AlreadyReviewed => Seen::AlreadyDone,
            Applied::Gone => {
                // Nothing will ever be decided for it: the handler resolves its issue as
                // expired, under the record's lease, once.
                let outcome = self
                    .handler
                    .handle(&Observation::Deleted(decision.request_id))
                    .await;
                tracing::info!(
                    ?outcome,
                    "the request no longer exists; its issue is resolved as expired"
                );
                Seen::Gone
            }
        })
    }
}

/// The decision writer for `PLUGIN_NAME`, leasing as `replica_id`.
pub fn writer(client: teleport_client::TeleportClient, replica_id: &str) -> DecisionWriter {
    DecisionWriter::new(client, PLUGIN_NAME, replica_id)
}
