//! [`TrackerHandler`]: the one request handler of the issue-tracker plugins — open the
//! request's issue once, comment each review once, and on resolution comment once and make
//! the closing call once — across restarts and replicas.
//!
//! Every step works under a lease on the record in Teleport plugin data with the runtime's
//! send policy (`crate::record`): the outcome of each write is recorded before the next
//! one, so a replica that dies leaves a record of exactly what is left, and a new request
//! costs two Teleport writes (the claiming create, then record-and-release).

use std::future::Future;

use teleport_client::{AccessRequest, AccessReview, RequestState};

use super::record::{CloseProgress, IssueKeys, IssueRecord};
use crate::app::PluginContext;
use crate::dispatch::{Observation, Outcome, RequestHandler};
use crate::health::HealthCheck;
use crate::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use crate::service_error::ServiceError;

/// One issue tracker: every method is the plugin's own API call or text; retries, leases
/// and the order of the work are the runtime's. A failed call is a [`ServiceError`]: one
/// that may pass (or refused credentials) ends the step, another is logged and skipped.
pub trait IssueTracker: HealthCheck + Send + Sync + 'static {
    /// The keys naming an issue in the record.
    type Issue: IssueKeys;
    /// What the closing call needs, looked up before it is made.
    type Closing: Send + Sync;

    /// The tracker in log lines (`Jira`, `GitLab`).
    const NAME: &'static str;
    /// The metric label of a comment (`comment`, `note`).
    const COMMENT_KIND: &'static str;
    /// The metric label of the closing call (`transition`, `close`).
    const CLOSE_KIND: &'static str;

    /// The issue an earlier attempt opened for the request without recording it (a crash
    /// between the create and its record), for a record stored before. None by default: a
    /// tracker that cannot look opens another.
    fn find_unrecorded(
        &self,
        _request: &AccessRequest,
    ) -> impl Future<Output = Result<Option<Self::Issue>, ServiceError>> + Send {
        async { Ok(None) }
    }

    /// Opens the request's issue (and logs it).
    fn open(
        &self,
        request: &AccessRequest,
    ) -> impl Future<Output = Result<Self::Issue, ServiceError>> + Send;

    /// The comment posted for a review.
    fn review_comment(&self, review: &AccessReview) -> String;

    /// The comment posted once the request is resolved.
    fn resolution_comment(&self, resolution: Resolution, reason: &str) -> String;

    /// The resolve reason as recorded (verbatim by default).
    fn resolve_reason(&self, request: &AccessRequest) -> String {
        request.resolve_reason.clone()
    }

    /// Posts `text` on `issue`: `Ok(true)` when posted, `Ok(false)` when the issue is gone
    /// (nothing is left to close then).
    fn comment(
        &self,
        issue: &Self::Issue,
        text: &str,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    /// Looks up what closing `issue` with `resolution` takes, without a side effect; `None`
    /// when nothing is to be done (the tracker logs why).
    fn prepare_close(
        &self,
        issue: &Self::Issue,
        resolution: Resolution,
    ) -> impl Future<Output = Result<Option<Self::Closing>, ServiceError>> + Send;

    /// The closing call (and its log line on success).
    fn close(
        &self,
        issue: &Self::Issue,
        closing: &Self::Closing,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
}

type RecordClaim<'a, S> = Claim<'a, IssueRecord<<S as IssueTracker>::Issue>>;

/// The [`RequestHandler`] (and [`HealthCheck`]) of an issue-tracker plugin.
pub struct TrackerHandler<S: IssueTracker> {
    tracker: S,
    records: LeasedRecords<IssueRecord<S::Issue>>,
    effects: Effects,
}

impl<S: IssueTracker> RequestHandler for TrackerHandler<S> {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }
}

impl<S: IssueTracker> HealthCheck for TrackerHandler<S> {
    fn service_name(&self) -> &'static str {
        self.tracker.service_name()
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.tracker.check_health().await
    }
}

/// A lookup's failure (no side effect): one that may pass, or refused credentials, ends the
/// step; another is handed back to be logged.
fn lookup_failure(error: ServiceError) -> Result<ServiceError, StepError> {
    if error.is_retryable() {
        Err(StepError::Service(error))
    } else {
        Ok(error)
    }
}

impl<S: IssueTracker> TrackerHandler<S> {
    /// A handler for `tracker`, keeping its records in the `plugin` namespace through the
    /// process's client, under its replica's leases, counted in its metrics.
    pub fn in_context(tracker: S, ctx: &PluginContext, plugin: &str) -> Self {
        Self {
            tracker,
            records: ctx.leased_records(plugin),
            effects: Effects::new(ctx.metrics.clone()),
        }
    }

    /// The plugin's tracker.
    pub fn tracker(&self) -> &S {
        &self.tracker
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
        claim: &mut RecordClaim<'_, S>,
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
                let reason = request
                    .map(|r| self.tracker.resolve_reason(r))
                    .unwrap_or_default();
                next.record_resolution(resolution, reason);
                // The comments and the closing call that follow show it: recorded with the
                // next write.
                claim.record_effect(next);
            }
            self.resolve_issue(claim).await?;
        }
        Ok(Outcome::Done)
    }

    async fn open_issue(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_, S>,
    ) -> Result<(), StepError> {
        if !claim.fresh {
            // A record stored before without an issue: an issue may have been opened whose
            // ID was never recorded.
            match self.tracker.find_unrecorded(request).await {
                Ok(Some(issue)) => {
                    tracing::info!(%issue, "found the request's issue opened before; using it");
                    record_issue::<S>(claim, issue);
                    return Ok(());
                }
                Ok(None) => {}
                Err(error) => {
                    let error = lookup_failure(error)?;
                    tracing::warn!(%error, "cannot look for an earlier issue of the request; opening one");
                }
            }
        }
        match self
            .effects
            .run(claim, "issue", || self.tracker.open(request))
            .await?
        {
            Ok(issue) => record_issue::<S>(claim, issue),
            Err(error) => tracing::error!(%error, "cannot open the {} issue", S::NAME),
        }
        Ok(())
    }

    async fn comment_reviews(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_, S>,
    ) -> Result<(), StepError> {
        if !claim.has_issue() {
            return Ok(());
        }
        while let Some(review) = request.reviews.get(claim.request.reviews_count) {
            let text = self.tracker.review_comment(review);
            if let Err(error) = self.comment(claim, &text).await? {
                tracing::error!(issue = %claim.issue, %error, "cannot comment the review; skipping it");
            }
            let mut next = claim.record().clone();
            next.request.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn resolve_issue(&self, claim: &mut RecordClaim<'_, S>) -> Result<(), StepError> {
        let Some(resolution) = claim.request.resolution else {
            return Ok(());
        };
        let issue = claim.issue.clone();
        if claim.close_progress == CloseProgress::Pending {
            let text = self
                .tracker
                .resolution_comment(resolution, &claim.request.resolve_reason);
            let gone = match self.comment(claim, &text).await? {
                Ok(posted) => !posted,
                Err(error) => {
                    tracing::error!(%issue, %error, "cannot post the resolution comment; skipping it");
                    false
                }
            };
            if gone {
                tracing::warn!(%issue, "the request's {} issue is gone; nothing left to close", S::NAME);
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
            self.close(&issue, resolution, claim).await?;
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Done;
            claim.record_effect(next);
        }
        Ok(())
    }

    /// The closing call, after its lookup; a permanent failure of either is logged and the
    /// closing counted as done.
    async fn close(
        &self,
        issue: &S::Issue,
        resolution: Resolution,
        claim: &mut RecordClaim<'_, S>,
    ) -> Result<(), StepError> {
        let closing = match self.tracker.prepare_close(issue, resolution).await {
            Ok(Some(closing)) => closing,
            Ok(None) => return Ok(()),
            Err(error) => {
                let error = lookup_failure(error)?;
                tracing::error!(%issue, %error, "cannot read what closing the {} issue takes", S::NAME);
                return Ok(());
            }
        };
        if let Err(error) = self
            .effects
            .run(claim, S::CLOSE_KIND, || self.tracker.close(issue, &closing))
            .await?
        {
            tracing::error!(%issue, %error, "cannot close the {} issue", S::NAME);
        }
        Ok(())
    }

    /// Posts `text` on the claimed request's issue: `Ok(Ok(false))` when the issue is gone,
    /// `Ok(Err(_))` when refused for good; anything that may pass ends the step.
    async fn comment(
        &self,
        claim: &mut RecordClaim<'_, S>,
        text: &str,
    ) -> Result<Result<bool, record::Permanent>, StepError> {
        let issue = claim.issue.clone();
        self.effects
            .run(claim, S::COMMENT_KIND, || {
                self.tracker.comment(&issue, text)
            })
            .await
    }
}

fn record_issue<S: IssueTracker>(claim: &mut RecordClaim<'_, S>, issue: S::Issue) {
    let mut next = claim.record().clone();
    next.issue = issue;
    claim.record_effect(next);
}

/// Whether the stored record has work left for this observation.
fn needs_work<I: IssueKeys>(observed: &Observation, record: &IssueRecord<I>) -> bool {
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
