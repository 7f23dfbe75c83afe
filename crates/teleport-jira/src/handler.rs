//! The request handler: one convergence step per observation of a request — open its issue
//! once, comment each review once, and resolve the issue once (a resolution comment, then the
//! transition to Approved / Denied / Expired) — across restarts and replicas.
//!
//! Every step starts from the record in Teleport plugin data and works under its lease (the
//! runtime's `record` module); the outcome of each Jira write is recorded before the next
//! one, so a replica that dies leaves a record of exactly what is left. A new request costs
//! two Teleport writes: the claiming create, and the record-and-release after the issue.

use std::sync::Arc;
use std::time::Duration;

use teleport_client::TeleportClient;
use teleport_client::{AccessRequest, RequestState};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{JiraClient, JiraError, NewIssue};
use crate::config::JiraConfig;
use crate::record::{CloseProgress, IssueRecord, PLUGIN_NAME};
use crate::render;

/// The issue property naming the request (Go's key): how an issue is tied to its request.
pub const REQUEST_ID_PROPERTY: &str = "teleportAccessRequestId";

/// Settings of the handler.
#[derive(Clone, Debug)]
pub struct HandlerOptions {
    /// The project key issues are created in.
    pub project: String,
    /// The issue type.
    pub issue_type: String,
    /// `[jira]`, for the start-up checks.
    pub settings: JiraConfig,
    /// `https://<proxy>` for links to requests, when the cluster has them.
    pub web_base: Option<String>,
    /// This replica's identity in leases.
    pub replica_id: String,
    /// How long a lease lasts without progress.
    pub lease: Duration,
}

/// The Jira plugin's request handling; shared with the inbound side (which resolves an
/// issue whose request is gone).
pub struct JiraHandler {
    jira: JiraClient,
    records: LeasedRecords<IssueRecord>,
    options: HandlerOptions,
    effects: Effects,
}

/// The [`RequestHandler`] the dispatcher runs: the shared handler.
#[derive(Clone)]
pub struct SharedHandler(pub Arc<JiraHandler>);

impl RequestHandler for SharedHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        self.0.handle_observation(observed).await
    }
}

impl HealthCheck for SharedHandler {
    fn service_name(&self) -> &'static str {
        "Jira API"
    }

    /// Go's start-up checks, one clear error each: the credentials (`myself`), the project
    /// (and the issue type, when Jira lists them), and the four project permissions.
    async fn check_health(&self) -> Result<(), ServiceError> {
        let me = crate::check_jira(&self.0.jira, &self.0.options.settings).await?;
        tracing::info!(jira_user = %me.display_name.clone().unwrap_or_default(), url = %self.0.options.settings.url, project = %self.0.options.project, "Jira API health check passed");
        Ok(())
    }
}

type RecordClaim<'a> = Claim<'a, IssueRecord>;

/// What to do with a Jira error of a lookup (no side effect): one that may pass, or refused
/// credentials, ends the step (retried); another is returned for the caller to log.
fn lookup_failure(error: JiraError) -> Result<JiraError, StepError> {
    if error.is_transient() || matches!(error, JiraError::Auth { .. }) {
        Err(StepError::Service(error.into()))
    } else {
        Ok(error)
    }
}

fn tag(resolution: Resolution) -> String {
    resolution.as_str().to_ascii_lowercase()
}

impl JiraHandler {
    /// A handler writing to `jira` and to Teleport through `client`.
    pub fn new(
        jira: JiraClient,
        client: TeleportClient,
        options: HandlerOptions,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(
            client,
            PLUGIN_NAME,
            options.replica_id.clone(),
            options.lease,
        );
        Self {
            jira,
            records,
            options,
            effects: Effects::new(metrics),
        }
    }

    /// One step for `observed`; see the module documentation.
    pub async fn handle_observation(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
        self.records
            .step(
                observed,
                IssueRecord::new,
                |record| needs_work(observed, record),
                async |claim| self.work(observed, claim).await,
            )
            .await
    }

    async fn work(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_>,
    ) -> Result<Outcome, StepError> {
        let request = match observed {
            Observation::Put(request) => Some(&**request),
            Observation::Deleted(_) => None,
        };
        if let Some(request) = request.filter(|r| r.state == RequestState::Pending)
            && claim.request.resolution.is_none()
        {
            if claim.issue_id.is_empty() {
                self.open_issue(request, claim).await?;
            }
            self.comment_reviews(request, claim).await?;
        }

        let decided = claim.request.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.request.resolution.is_none() {
                if let Some(request) = request {
                    self.comment_reviews(request, claim).await?;
                }
                let mut next = claim.record().clone();
                next.request.resolution = Some(resolution);
                next.request.resolve_reason = request
                    .map(|r| render::truncate(&r.resolve_reason, render::REASON_LIMIT).to_owned())
                    .unwrap_or_default();
                next.close_progress = if claim.issue_id.is_empty() {
                    CloseProgress::Done
                } else {
                    CloseProgress::Pending
                };
                // A decision later side effects show: recorded with the next write.
                claim.record_effect(next);
            }
            self.resolve_issue(claim).await?;
        }
        Ok(Outcome::Done)
    }

    async fn open_issue(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let issue = NewIssue {
            project: self.options.project.clone(),
            issue_type: self.options.issue_type.clone(),
            summary: render::summary(request),
            description: render::description(request, self.options.web_base.as_deref()),
            properties: vec![(REQUEST_ID_PROPERTY.to_owned(), request.id.clone())],
        };
        match self
            .effects
            .run(claim, "issue", || async {
                Ok::<_, ServiceError>(self.jira.create_issue(&issue).await?)
            })
            .await?
        {
            Ok(created) => {
                tracing::info!(jira_issue_id = %created.id, jira_issue_key = %created.key, "Jira issue created");
                let mut next = claim.record().clone();
                next.issue_id = created.id;
                next.issue_key = created.key;
                claim.record_effect(next);
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, project = %self.options.project, issue_type = %self.options.issue_type, "cannot create the Jira issue");
                Ok(())
            }
        }
    }

    async fn comment_reviews(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if claim.issue_id.is_empty() {
            return Ok(());
        }
        while let Some(review) = request.reviews.get(claim.request.reviews_count) {
            let comment = render::review_comment(review);
            if let Err(error) = self.comment(claim, &comment).await? {
                tracing::error!(jira_issue_id = %claim.issue_id, %error, "cannot comment the review; skipping it");
            }
            let mut next = claim.record().clone();
            next.request.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn resolve_issue(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.request.resolution else {
            return Ok(());
        };
        let issue_id = claim.issue_id.clone();
        if claim.close_progress == CloseProgress::Pending {
            let comment = render::resolution_comment(resolution, &claim.request.resolve_reason);
            if let Err(error) = self.comment(claim, &comment).await? {
                tracing::error!(jira_issue_id = %issue_id, %error, "cannot post the resolution comment; skipping it");
            }
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Commented;
            claim.record_effect(next);
        }
        if claim.close_progress == CloseProgress::Commented {
            self.transition(&issue_id, resolution, claim).await?;
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Done;
            claim.record_effect(next);
        }
        Ok(())
    }

    /// Moves the issue to the status named like the resolution, unless it is there already.
    async fn transition(
        &self,
        issue_id: &str,
        resolution: Resolution,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let target = tag(resolution);
        let issue = match self.jira.get_issue(issue_id, REQUEST_ID_PROPERTY).await {
            Ok(issue) => issue,
            Err(error) => {
                let error = lookup_failure(error)?;
                tracing::error!(jira_issue_id = %issue_id, %error, "cannot read the issue to move it to {target}");
                return Ok(());
            }
        };
        if issue.status().eq_ignore_ascii_case(&target) {
            return Ok(());
        }
        let Some(transition) = issue
            .transitions
            .iter()
            .find(|t| t.to.name.eq_ignore_ascii_case(&target))
        else {
            tracing::warn!(jira_issue_id = %issue_id, status = %issue.status(), "the issue offers no transition to a status named {target}; add one to the project's workflow");
            return Ok(());
        };
        match self
            .effects
            .run(claim, "transition", || async {
                Ok::<_, ServiceError>(self.jira.transition(issue_id, &transition.id).await?)
            })
            .await?
        {
            Ok(()) => {
                tracing::info!(jira_issue_id = %issue_id, jira_issue_key = %issue.key, status = %transition.to.name, "moved the Jira issue");
            }
            Err(error) => {
                tracing::error!(jira_issue_id = %issue_id, %error, "cannot move the issue to {target}");
            }
        }
        Ok(())
    }
}

impl JiraHandler {
    /// Posts `comment` on the claimed request's issue; a permanent refusal is the caller's
    /// to log and skip, anything that may pass ends the step.
    async fn comment(
        &self,
        claim: &mut RecordClaim<'_>,
        comment: &str,
    ) -> Result<Result<(), record::Permanent>, StepError> {
        let issue_id = claim.issue_id.clone();
        self.effects
            .run(claim, "comment", || async {
                Ok::<_, ServiceError>(self.jira.add_comment(&issue_id, comment).await?)
            })
            .await
    }
}

fn needs_work(observed: &Observation, record: &IssueRecord) -> bool {
    if record.request.resolution.is_some() {
        return record.close_progress != CloseProgress::Done;
    }
    match observed {
        Observation::Deleted(_) => true,
        Observation::Put(request) if request.state.is_resolved() => true,
        Observation::Put(request) if request.state == RequestState::Pending => {
            record.issue_id.is_empty() || record.request.reviews_count < request.reviews.len()
        }
        Observation::Put(_) => false,
    }
}
