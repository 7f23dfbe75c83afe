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
use std::sync::OnceLock;
use std::time::Duration;

use teleport_client::{AccessRequest, RequestState};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{GitlabApi, GitlabError, Issue, IssueQuery, IssueUpdate, NewIssue};
use crate::config::GitlabConfig;
use crate::record::{CloseProgress, IssueRecord};
use crate::setup::{LabelKey, LabelNames};
use crate::{PLUGIN_NAME, Started, render, start_gitlab};

/// Settings of the handler.
#[derive(Clone, Debug)]
pub struct HandlerOptions {
    /// `[gitlab]`: the project and the webhook to set up at start.
    pub settings: GitlabConfig,
    /// `https://<proxy>` for links to requests, when the cluster has them.
    pub web_base: Option<String>,
    /// This replica's identity in leases.
    pub replica_id: String,
    /// How long a lease lasts without progress.
    pub lease: Duration,
}

/// The GitLab plugin's [`RequestHandler`]; its [`HealthCheck`] is the start-up against
/// GitLab (token, project, labels, webhook), whose findings the handling needs.
pub struct GitlabHandler {
    api: GitlabApi,
    records: LeasedRecords<IssueRecord>,
    options: HandlerOptions,
    effects: Effects,
    /// What start-up found and set up; set once the health check passed.
    started: OnceLock<Started>,
}

type RecordClaim<'a> = Claim<'a, IssueRecord>;

/// What to do with a GitLab error of a lookup (no side effect): one that may pass, or a
/// refused token, ends the step (retried); another is returned for the caller to log and
/// skip.
fn lookup_failure(error: GitlabError) -> Result<GitlabError, StepError> {
    if error.is_transient() || matches!(error, GitlabError::Refused { .. }) {
        Err(StepError::Service(error.into()))
    } else {
        Ok(error)
    }
}

impl RequestHandler for GitlabHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }
}

impl HealthCheck for GitlabHandler {
    fn service_name(&self) -> &'static str {
        "GitLab API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        if self.started.get().is_none() {
            let started = start_gitlab(&self.api, &self.options.settings).await?;
            let _ = self.started.set(started);
        }
        Ok(())
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
            effects: Effects::new(metrics),
            started: OnceLock::new(),
        }
    }

    /// What start-up found and set up in GitLab, once the health check passed.
    pub fn started_gitlab(&self) -> Option<&Started> {
        self.started.get()
    }

    /// What start-up found and set up. The runtime handles no request before the health
    /// check passed, so it is always there when a step runs.
    fn started(&self) -> Result<&Started, StepError> {
        self.started.get().ok_or_else(|| {
            StepError::Service(ServiceError::transient("GitLab start-up has not finished"))
        })
    }

    /// The plugin's label names in the project.
    fn labels(&self) -> Result<&LabelNames, StepError> {
        Ok(&self.started()?.labels)
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
            && claim.request.resolution.is_none()
        {
            if !claim.has_issue() {
                self.open_issue(request, claim).await?;
            }
            self.post_review_notes(request, claim).await?;
        }

        let decided = claim.request.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.request.resolution.is_none() {
                if let Some(request) = request {
                    self.post_review_notes(request, claim).await?;
                }
                let mut next = claim.record().clone();
                next.request.resolution = Some(resolution);
                next.request.resolve_reason = request
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
        let project = self.started()?.project.id;
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
                    let error = lookup_failure(error)?;
                    tracing::warn!(%error, "cannot look for an earlier issue of the request; opening one");
                }
            }
        }
        let new = NewIssue {
            title: render::issue_title(request),
            description: render::issue_description(request, self.options.web_base.as_deref()),
            labels: vec![self.labels()?.pending.clone()],
        };
        match self
            .effects
            .run(claim, "issue", || async {
                Ok::<_, ServiceError>(self.api.create_issue(project, &new).await?)
            })
            .await?
        {
            Ok(issue) => {
                tracing::info!(gitlab_project_id = issue.project_id, gitlab_issue_iid = issue.iid, url = %issue.web_url, "opened a GitLab issue");
                self.record_issue(claim, &issue)
            }
            Err(error) => {
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
        while let Some(review) = request.reviews.get(claim.request.reviews_count) {
            let note = render::review_note(review);
            if let Err(error) = self.post_note(claim, &note).await? {
                tracing::error!(gitlab_issue_iid = claim.issue_iid, %error, "cannot post the review note; skipping it");
            }
            let mut next = claim.record().clone();
            next.request.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn close_issue(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.request.resolution else {
            return Ok(());
        };
        if claim.close_progress == CloseProgress::Pending {
            let note = render::resolution_note(resolution, &claim.request.resolve_reason);
            let gone = match self.post_note(claim, &note).await? {
                Ok(posted) => !posted,
                Err(error) => {
                    tracing::error!(gitlab_issue_iid = claim.issue_iid, %error, "cannot post the resolution note; skipping it");
                    false
                }
            };
            if gone {
                tracing::warn!(
                    gitlab_issue_iid = claim.issue_iid,
                    "the request's GitLab issue is gone; nothing left to close"
                );
            }
            let mut next = claim.record().clone();
            next.close_progress = if gone {
                CloseProgress::Done
            } else {
                CloseProgress::Noted
            };
            claim.record_effect(next);
        }
        if claim.close_progress == CloseProgress::Noted {
            let update = self.closing_update(resolution)?;
            let (project, iid) = (claim.project_id, claim.issue_iid);
            match self
                .effects
                .run(claim, "close", || async {
                    Ok::<_, ServiceError>(self.api.update_issue(project, iid, &update).await?)
                })
                .await?
            {
                Ok(_) => {
                    tracing::info!(gitlab_issue_iid = iid, resolution = %resolution.as_str().to_ascii_lowercase(), "closed the GitLab issue");
                }
                Err(error) => {
                    tracing::error!(gitlab_issue_iid = iid, %error, "cannot close the GitLab issue");
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
    fn closing_update(&self, resolution: Resolution) -> Result<IssueUpdate, StepError> {
        let labels = self.labels()?;
        let outcome = match resolution {
            Resolution::Approved | Resolution::Promoted => LabelKey::Approved,
            Resolution::Denied => LabelKey::Denied,
            Resolution::Expired => LabelKey::Expired,
        };
        Ok(IssueUpdate {
            state_event: Some("close"),
            add_labels: vec![labels.get(outcome).to_owned()],
            remove_labels: LabelKey::ALL
                .into_iter()
                .filter(|key| *key != outcome)
                .map(|key| labels.get(key).to_owned())
                .collect(),
        })
    }

    /// Posts `note` on the claimed request's issue: `Ok(Ok(true))` when posted,
    /// `Ok(Ok(false))` when the issue is gone (404), `Ok(Err(_))` when GitLab refused it
    /// for good; anything that may pass ends the step.
    async fn post_note(
        &self,
        claim: &mut RecordClaim<'_>,
        note: &str,
    ) -> Result<Result<bool, record::Permanent>, StepError> {
        let (project, iid) = (claim.project_id, claim.issue_iid);
        self.effects
            .run(claim, "note", || async {
                match self.api.create_note(project, iid, note).await {
                    Ok(_) => Ok(true),
                    Err(GitlabError::NotFound { .. }) => Ok(false),
                    Err(error) => Err(ServiceError::from(error)),
                }
            })
            .await
    }
}

/// Whether the stored record has work left for this observation.
fn needs_work(observed: &Observation, record: &IssueRecord) -> bool {
    if record.request.resolution.is_some() {
        return record.close_progress != CloseProgress::Done;
    }
    match observed {
        Observation::Deleted(_) => true,
        Observation::Put(request) if request.state.is_resolved() => true,
        Observation::Put(request) if request.state == RequestState::Pending => {
            !record.has_issue() || record.request.reviews_count < request.reviews.len()
        }
        Observation::Put(_) => false,
    }
}
