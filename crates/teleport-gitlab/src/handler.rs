//! The request handler: one convergence step per observation of a request — open its issue
//! with the pending label once, post each review as a note once, and on resolution post a
//! note, swap the pending label for the outcome's and close the issue, once — across
//! restarts and replicas.
//!
//! Every step starts from the record in Teleport plugin data and works under its lease (the
//! runtime's `record` module). The outcome of each GitLab write is recorded before the next
//! one, so a new request costs two Teleport writes (the claim, then record-and-release).
//! GitLab has no idempotency key; the one gap left, an issue opened just before a crash and
//! never recorded, is closed by looking for the request's ID in the project's issues before
//! opening one for a record that was stored before.

use std::ops::ControlFlow;
use std::time::Duration;

use teleport_client::{AccessRequest, ClientError, RequestState};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{Claim, LeasedRecords, SaveError};
use teleport_plugin_runtime::state::Resolution;

use crate::client::{GitlabApi, GitlabError, Issue, IssueQuery, IssueUpdate, NewIssue};
use crate::record::{CloseProgress, IssueRecord};
use crate::render;
use crate::setup::{LabelKey, LabelNames};

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "gitlab";

/// How long this replica may work on a request without saving progress before another
/// replica takes over (as in the other plugins).
pub const LEASE: Duration = Duration::from_secs(30);

/// Settings of the handler.
#[derive(Clone, Debug)]
pub struct HandlerOptions {
    /// The project new issues are opened in.
    pub project_id: u64,
    /// The plugin's label names in that project.
    pub labels: LabelNames,
    /// `https://<proxy>` for links to requests, when the cluster has them.
    pub web_base: Option<String>,
    /// This replica's identity in leases.
    pub replica_id: String,
    /// How long a lease lasts without progress.
    pub lease: Duration,
}

/// The GitLab plugin's [`RequestHandler`].
pub struct GitlabHandler {
    api: GitlabApi,
    records: LeasedRecords<IssueRecord>,
    options: HandlerOptions,
    metrics: Metrics,
}

enum StepError {
    /// Teleport failed; retry later.
    Teleport(ClientError),
    /// Someone else changed the record while this replica held the lease.
    LostLease,
    /// GitLab failed in a way that may pass, or refused the token; retry later.
    Gitlab(GitlabError),
}

type RecordClaim<'a> = Claim<'a, IssueRecord>;

impl From<ClientError> for StepError {
    fn from(error: ClientError) -> Self {
        Self::Teleport(error)
    }
}

impl From<SaveError> for StepError {
    fn from(error: SaveError) -> Self {
        match error {
            SaveError::LostLease => Self::LostLease,
            SaveError::Teleport(error) => Self::Teleport(error),
        }
    }
}

/// What to do with a GitLab error: transient ones and refused tokens end the step (retried;
/// a refused token is fixed by people, so it is retried loudly rather than given up),
/// other permanent ones are returned for the caller to log and skip.
fn skippable(error: GitlabError) -> Result<GitlabError, StepError> {
    if error.is_transient() || matches!(error, GitlabError::Refused { .. }) {
        Err(StepError::Gitlab(error))
    } else {
        Ok(error)
    }
}

impl RequestHandler for GitlabHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        match self.step(observed).await {
            Ok(outcome) => outcome,
            Err(StepError::Teleport(ClientError::NotFound { .. })) => Outcome::Done,
            Err(StepError::Teleport(error)) => {
                tracing::warn!(%error, "Teleport call failed; will retry");
                Outcome::Retry(None)
            }
            Err(StepError::LostLease) => {
                tracing::warn!(
                    "the request's record changed while this replica held its lease; starting over"
                );
                Outcome::Retry(None)
            }
            Err(StepError::Gitlab(error @ GitlabError::Refused { .. })) => {
                tracing::error!(%error, "GitLab refused the plugin's token; check gitlab.token (scope api) and its user's role in the project; will retry");
                Outcome::Retry(None)
            }
            Err(StepError::Gitlab(error)) => {
                tracing::warn!(%error, "GitLab call failed; will retry");
                Outcome::Retry(error.retry_after())
            }
        }
    }
}

impl GitlabHandler {
    /// A handler calling `api` and Teleport through `records`' client.
    pub fn new(
        api: GitlabApi,
        client: teleport_client::TeleportClient,
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
            api,
            records,
            options,
            metrics,
        }
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

    /// Does what is left, holding the lease; `claim` derefs to the record as the work left it.
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
            && claim.resolution.is_none()
        {
            if !claim.has_issue() {
                self.open_issue(request, claim).await?;
            }
            self.post_review_notes(request, claim).await?;
        }

        let decided = claim.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.resolution.is_none() {
                if let Some(request) = request {
                    self.post_review_notes(request, claim).await?;
                }
                let mut next = claim.record().clone();
                next.resolution = Some(resolution);
                next.resolve_reason = request
                    .map(|r| r.resolve_reason.clone())
                    .unwrap_or_default();
                next.close_progress = if next.has_issue() {
                    CloseProgress::Pending
                } else {
                    CloseProgress::Done
                };
                // The notes and labels that follow show it: recorded before they are written.
                claim.record_effect(next);
            }
            self.close_issue(claim).await?;
        }
        Ok(Outcome::Done)
    }

    async fn open_issue(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let project = self.options.project_id;
        if !claim.fresh {
            // A record stored before without an issue: an issue may have been opened whose
            // number was never recorded.
            match self.find_issue(project, &request.id).await {
                Ok(Some(issue)) => {
                    tracing::info!(
                        gitlab_issue_iid = issue.iid,
                        "found the request's issue opened before; using it"
                    );
                    return self.record_issue(claim, &issue);
                }
                Ok(None) => {}
                Err(error) => {
                    let error = skippable(error)?;
                    tracing::warn!(%error, "cannot look for an earlier issue of the request; opening one");
                }
            }
        }
        claim.before_effect().await?;
        let new = NewIssue {
            title: render::issue_title(request),
            description: render::issue_description(request, self.options.web_base.as_deref()),
            labels: vec![self.options.labels.pending.clone()],
        };
        match self.api.create_issue(project, &new).await {
            Ok(issue) => {
                self.metrics.sent("issue");
                tracing::info!(gitlab_project_id = issue.project_id, gitlab_issue_iid = issue.iid, url = %issue.web_url, "opened a GitLab issue");
                self.record_issue(claim, &issue)
            }
            Err(error) => {
                self.metrics.send_failed("issue");
                let error = skippable(error)?;
                tracing::error!(%error, "cannot open the GitLab issue");
                Ok(())
            }
        }
    }

    fn record_issue(&self, claim: &mut RecordClaim<'_>, issue: &Issue) -> Result<(), StepError> {
        let mut next = claim.record().clone();
        next.project_id = issue.project_id;
        next.issue_iid = issue.iid;
        next.issue_id = issue.id;
        claim.record_effect(next);
        Ok(())
    }

    /// The issue in `project` whose description carries this request's ID, if any.
    async fn find_issue(
        &self,
        project: u64,
        request_id: &str,
    ) -> Result<Option<Issue>, GitlabError> {
        let query = IssueQuery {
            search: Some(request_id.to_owned()),
            search_in: Some("description"),
            ..IssueQuery::default()
        };
        let mut found = None;
        self.api
            .find_issues(project, &query, |issue| {
                if render::request_id_in(issue.description()).as_deref() == Some(request_id) {
                    found = Some(issue);
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await?;
        Ok(found)
    }

    async fn post_review_notes(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if !claim.has_issue() {
            return Ok(());
        }
        while let Some(review) = request.reviews.get(claim.reviews_count) {
            claim.before_effect().await?;
            let note = render::review_note(review);
            match self
                .api
                .create_note(claim.project_id, claim.issue_iid, &note)
                .await
            {
                Ok(_) => self.metrics.sent("note"),
                Err(error) => {
                    self.metrics.send_failed("note");
                    let error = skippable(error)?;
                    tracing::error!(gitlab_issue_iid = claim.issue_iid, %error, "cannot post the review note; skipping it");
                }
            }
            let mut next = claim.record().clone();
            next.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn close_issue(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.resolution else {
            return Ok(());
        };
        if claim.close_progress == CloseProgress::Pending {
            claim.before_effect().await?;
            let note = render::resolution_note(resolution, &claim.resolve_reason);
            let gone = match self
                .api
                .create_note(claim.project_id, claim.issue_iid, &note)
                .await
            {
                Ok(_) => {
                    self.metrics.sent("note");
                    false
                }
                Err(error) => {
                    self.metrics.send_failed("note");
                    let error = skippable(error)?;
                    tracing::error!(gitlab_issue_iid = claim.issue_iid, %error, "cannot post the resolution note; skipping it");
                    matches!(error, GitlabError::NotFound { .. })
                }
            };
            let mut next = claim.record().clone();
            next.close_progress = if gone {
                CloseProgress::Done
            } else {
                CloseProgress::Noted
            };
            claim.record_effect(next);
        }
        if claim.close_progress == CloseProgress::Noted {
            claim.before_effect().await?;
            let update = self.closing_update(resolution);
            match self
                .api
                .update_issue(claim.project_id, claim.issue_iid, &update)
                .await
            {
                Ok(_) => {
                    self.metrics.sent("close");
                    tracing::info!(gitlab_issue_iid = claim.issue_iid, resolution = %resolution.as_str().to_ascii_lowercase(), "closed the GitLab issue");
                }
                Err(error) => {
                    self.metrics.send_failed("close");
                    let error = skippable(error)?;
                    tracing::error!(gitlab_issue_iid = claim.issue_iid, %error, "cannot close the GitLab issue");
                }
            }
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Done;
            claim.record_effect(next);
        }
        Ok(())
    }

    /// Close, with the outcome's label in place of the pending one (and of any other of the
    /// plugin's labels, so the issue states one outcome; a promotion is an approval through
    /// an access list).
    fn closing_update(&self, resolution: Resolution) -> IssueUpdate {
        let labels = &self.options.labels;
        let outcome = match resolution {
            Resolution::Approved | Resolution::Promoted => LabelKey::Approved,
            Resolution::Denied => LabelKey::Denied,
            Resolution::Expired => LabelKey::Expired,
        };
        IssueUpdate {
            state_event: Some("close"),
            add_labels: vec![labels.get(outcome).to_owned()],
            remove_labels: LabelKey::ALL
                .into_iter()
                .filter(|key| *key != outcome)
                .map(|key| labels.get(key).to_owned())
                .collect(),
        }
    }
}

/// Whether the stored record has work left for this observation.
fn needs_work(observed: &Observation, record: &IssueRecord) -> bool {
    if record.resolution.is_some() {
        return record.close_progress != CloseProgress::Done;
    }
    match observed {
        Observation::Deleted(_) => true,
        Observation::Put(request) if request.state.is_resolved() => true,
        Observation::Put(request) if request.state == RequestState::Pending => {
            !record.has_issue() || record.reviews_count < request.reviews.len()
        }
        Observation::Put(_) => false,
    }
}
