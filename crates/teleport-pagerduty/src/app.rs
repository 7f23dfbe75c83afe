//! The request handler: one convergence step per observation of a request — open its
//! incident once, post each review once, check the requester's on-call status once, and
//! close the incident once — across restarts and replicas.
//!
//! Every step starts from the record in Teleport plugin data. Work is done only under a
//! lease (`claim`) taken by compare-and-swap (the runtime's `record` module), and progress is saved after every PagerDuty
//! write, so a second replica waits instead of acting twice, and a replica that dies leaves
//! a lease that lapses and a record of exactly what is left. PagerDuty itself refuses a
//! second open incident with the request's `incident_key`, which covers the one gap left: an
//! incident created just before a crash, before its ID was saved.

use std::time::Duration;

use teleport_client::{AccessRequest, ClientError, RequestState, ReviewSubmission, TeleportClient};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{Claim, LeasedRecords, SaveError};
use teleport_plugin_runtime::state::Resolution;

use crate::approval::{self, Decision};
use crate::config::{AutoApproval, PagerDutyConfig};
use crate::pagerduty_api::{NewIncident, PagerDutyApi, PagerDutyError};
use crate::plugin_data::{ApprovalOutcome, CloseProgress, IncidentRecord};
use crate::render;

/// The plugin-data namespace, shared with the Go plugin.
pub const PLUGIN_NAME: &str = "pagerduty";

/// How long this replica may work on a request without saving progress before another
/// replica takes over (as in the messaging plugins).
const LEASE: Duration = Duration::from_secs(30);

/// Settings of the handler.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// The annotation naming the service to open an incident on.
    pub notify_service_annotation: String,
    /// The annotation naming the services for auto-approval.
    pub services_annotation: String,
    /// Auto-approval limits.
    pub auto_approval: AutoApproval,
    /// `https://<proxy>` for links to requests, when the cluster has them.
    pub web_base: Option<String>,
    /// This replica's identity in leases.
    pub replica_id: String,
    /// How long a lease lasts without progress; a dead replica's work is taken over after it.
    pub lease: Duration,
}

impl AppOptions {
    /// Options from the validated `[pagerduty]` section.
    pub fn new(config: &PagerDutyConfig, web_base: Option<String>, replica_id: String) -> Self {
        Self {
            notify_service_annotation: config.notify_service_annotation.clone(),
            services_annotation: config.services_annotation.clone(),
            auto_approval: config.auto_approval.clone(),
            web_base,
            replica_id,
            lease: LEASE,
        }
    }
}

/// The PagerDuty plugin's [`RequestHandler`].
pub struct PagerDutyApp {
    api: PagerDutyApi,
    client: TeleportClient,
    records: LeasedRecords<IncidentRecord>,
    options: AppOptions,
    metrics: Metrics,
}

enum StepError {
    /// Teleport failed; retry later.
    Teleport(ClientError),
    /// Someone else changed the record while this replica held the lease.
    LostLease,
    /// PagerDuty failed in a way that may pass; retry later.
    PagerDuty(PagerDutyError),
}

/// The lease on one request's record, held while working on it.
type RecordClaim<'a> = Claim<'a, IncidentRecord>;

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

/// What to do with a PagerDuty error: transient ones end the step (retried), permanent
/// ones are logged by the caller and skipped.
fn transient(error: PagerDutyError) -> Result<PagerDutyError, StepError> {
    if error.is_transient() {
        Err(StepError::PagerDuty(error))
    } else {
        Ok(error)
    }
}

impl RequestHandler for PagerDutyApp {
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
            Err(StepError::PagerDuty(error)) => {
                tracing::warn!(%error, "PagerDuty call failed; will retry");
                Outcome::Retry(error.retry_after())
            }
        }
    }
}

impl PagerDutyApp {
    /// A handler calling `api` and Teleport through `client`.
    pub fn new(
        api: PagerDutyApi,
        client: TeleportClient,
        options: AppOptions,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(
            client.clone(),
            PLUGIN_NAME,
            options.replica_id.clone(),
            options.lease,
        );
        Self {
            api,
            client,
            records,
            options,
            metrics,
        }
    }

    /// The first value of the notify annotation, if any.
    fn notify_service(&self, request: &AccessRequest) -> Option<String> {
        request
            .system_annotations
            .get(&self.options.notify_service_annotation)
            .and_then(|values| values.first())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The services for auto-approval, when auto-approval applies to the request.
    fn approval_services(&self, request: &AccessRequest) -> Option<Vec<String>> {
        if !self.options.auto_approval.enabled {
            return None;
        }
        let services: Vec<String> = request
            .system_annotations
            .get(&self.options.services_annotation)?
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        (!services.is_empty()).then_some(services)
    }

    /// Whether the request carries anything for this plugin.
    fn concerns(&self, request: &AccessRequest) -> bool {
        self.notify_service(request).is_some() || self.approval_services(request).is_some()
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
        if let Observation::Put(request) = observed
            && !self.concerns(request)
        {
            return Ok(Outcome::Done);
        }
        self.records
            .step(
                observed,
                IncidentRecord::new,
                |record| self.needs_work(observed, record),
                async |claim| self.work(observed, claim).await,
            )
            .await
    }

    fn needs_work(&self, observed: &Observation, record: &IncidentRecord) -> bool {
        if record.resolution.is_some() {
            return record.close_progress != CloseProgress::Done;
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) if request.state == RequestState::Pending => {
                (record.incident_id.is_empty() && self.notify_service(request).is_some())
                    || (!record.incident_id.is_empty()
                        && record.reviews_count < request.reviews.len())
                    || (record.auto_approval.is_none() && self.approval_services(request).is_some())
            }
            Observation::Put(_) => false,
        }
    }

    /// Does what is left, holding the lease; `claim` derefs to what is stored, before and after.
    async fn work(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_>,
    ) -> Result<Outcome, StepError> {
        let id = observed.id().to_owned();
        let request = match observed {
            Observation::Put(request) => Some(&**request),
            Observation::Deleted(_) => None,
        };

        if let Some(request) = request.filter(|r| r.state == RequestState::Pending)
            && claim.resolution.is_none()
        {
            if claim.incident_id.is_empty()
                && let Some(service) = self.notify_service(request)
            {
                self.open_incident(request, &service, claim).await?;
            }
            self.post_review_notes(request, claim).await?;
            if claim.auto_approval.is_none()
                && let Some(services) = self.approval_services(request)
            {
                self.auto_approve(request, &services, claim).await?;
            }
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
                next.close_progress = if claim.incident_id.is_empty() && claim.service_id.is_empty()
                {
                    CloseProgress::Done
                } else {
                    CloseProgress::Pending
                };
                claim.save(next).await?;
            }
            self.close_incident(&id, claim).await?;
        }

        Ok(Outcome::Done)
    }

    async fn open_incident(
        &self,
        request: &AccessRequest,
        service_name: &str,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if claim.service_id.is_empty() {
            let service = match self.api.find_service_by_name(service_name).await {
                Ok(Some(service)) => service,
                Ok(None) => {
                    tracing::warn!(
                        service = service_name,
                        "PagerDuty service named in the notify annotation not found; no incident is opened"
                    );
                    return Ok(());
                }
                Err(error) => {
                    let error = transient(error)?;
                    tracing::error!(service = service_name, %error, "cannot look up the PagerDuty service; no incident is opened");
                    return Ok(());
                }
            };
            let mut next = claim.record().clone();
            next.service_id = service.id;
            claim.save(next).await?;
        }
        let new = NewIncident {
            title: render::incident_title(request),
            service_id: claim.service_id.clone(),
            incident_key: IncidentRecord::incident_key(&request.id),
            details: render::incident_details(request, self.options.web_base.as_deref()),
        };
        match self.api.create_incident(&new).await {
            Ok(incident) => {
                self.metrics.sent("incident");
                tracing::info!(pd_incident_id = %incident.id, pd_service_id = %claim.service_id, "opened a PagerDuty incident");
                let mut next = claim.record().clone();
                next.incident_id = incident.id;
                Ok(claim.save(next).await?)
            }
            Err(error) => {
                self.metrics.send_failed("incident");
                let error = transient(error)?;
                tracing::error!(service = service_name, %error, "cannot open the PagerDuty incident");
                Ok(())
            }
        }
    }

    async fn post_review_notes(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if claim.incident_id.is_empty() {
            return Ok(());
        }
        while let Some(review) = request.reviews.get(claim.reviews_count) {
            match self
                .api
                .add_note(&claim.incident_id, &render::review_note(review))
                .await
            {
                Ok(()) => self.metrics.sent("note"),
                Err(error) => {
                    self.metrics.send_failed("note");
                    let error = transient(error)?;
                    tracing::error!(pd_incident_id = %claim.incident_id, %error, "cannot post the review note; skipping it");
                }
            }
            let mut next = claim.record().clone();
            next.reviews_count += 1;
            claim.save(next).await?;
        }
        Ok(())
    }

    async fn auto_approve(
        &self,
        request: &AccessRequest,
        services: &[String],
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let limits = &self.options.auto_approval;
        let decision = match approval::decide(&self.api, limits, request, services).await {
            Ok(decision) => decision,
            Err(error) => {
                let error = transient(error)?;
                tracing::error!(%error, "cannot check whether the requester is on call; not auto-approving");
                Decision::Decline {
                    why: error.to_string(),
                }
            }
        };
        let outcome = match decision {
            Decision::Decline { why } => {
                tracing::info!(requester = %request.user, %why, "not auto-approving the request");
                ApprovalOutcome::Declined
            }
            Decision::Approve { reason } if limits.dry_run => {
                tracing::info!(requester = %request.user, %reason, "dry run: would auto-approve the request (auto_approval.dry_run is set)");
                ApprovalOutcome::DryRun
            }
            Decision::Approve { reason } => self.submit_approval(request, reason).await?,
        };
        let mut next = claim.record().clone();
        next.auto_approval = Some(outcome);
        Ok(claim.save(next).await?)
    }

    async fn submit_approval(
        &self,
        request: &AccessRequest,
        reason: String,
    ) -> Result<ApprovalOutcome, StepError> {
        let review = ReviewSubmission {
            request_id: request.id.clone(),
            author: self.client.identity().username().to_owned(),
            proposed_state: RequestState::Approved,
            reason,
        };
        match self.client.submit_review(&review).await {
            Ok(_) => {
                self.metrics.sent("approval");
                tracing::info!(requester = %request.user, reason = %review.reason, "auto-approved the request: the requester is on call");
                Ok(ApprovalOutcome::Approved)
            }
            Err(ClientError::AlreadyExists { .. }) => {
                tracing::info!("the plugin has already reviewed this request");
                Ok(ApprovalOutcome::Approved)
            }
            Err(error) if error.is_connection_problem() => Err(error.into()),
            Err(ClientError::AccessDenied { message, .. }) if message.contains("already") => {
                // Resolved by someone else between the observation and the review.
                tracing::info!(%message, "the request was resolved before the auto-approval");
                Ok(ApprovalOutcome::Refused)
            }
            Err(error) => {
                self.metrics.send_failed("approval");
                tracing::error!(%error, reviewer = %review.author, "Teleport refused the auto-approval; does the plugin's role allow review_requests for these roles?");
                Ok(ApprovalOutcome::Refused)
            }
        }
    }

    async fn close_incident(&self, id: &str, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.resolution else {
            return Ok(());
        };
        if claim.close_progress == CloseProgress::Pending && claim.incident_id.is_empty() {
            // A service was chosen, so an incident may exist whose ID was never saved.
            let found = if claim.service_id.is_empty() {
                None
            } else {
                match self
                    .api
                    .find_open_incident(&IncidentRecord::incident_key(id), &claim.service_id)
                    .await
                {
                    Ok(found) => found,
                    Err(error) => {
                        let error = transient(error)?;
                        tracing::error!(%error, "cannot look for the request's incident");
                        None
                    }
                }
            };
            let mut next = claim.record().clone();
            match found {
                Some(incident) => next.incident_id = incident.id,
                None => next.close_progress = CloseProgress::Done,
            }
            claim.save(next).await?;
        }
        if claim.close_progress == CloseProgress::Pending {
            let note = render::resolution_note(resolution, &claim.resolve_reason);
            match self.api.add_note(&claim.incident_id, &note).await {
                Ok(()) => self.metrics.sent("note"),
                Err(error) => {
                    self.metrics.send_failed("note");
                    let error = transient(error)?;
                    tracing::error!(pd_incident_id = %claim.incident_id, %error, "cannot post the resolution note; skipping it");
                }
            }
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Noted;
            claim.save(next).await?;
        }
        if claim.close_progress == CloseProgress::Noted {
            match self.api.resolve_incident(&claim.incident_id).await {
                Ok(()) => {
                    self.metrics.sent("resolve");
                    tracing::info!(pd_incident_id = %claim.incident_id, resolution = %resolution.as_str().to_ascii_lowercase(), "resolved the PagerDuty incident");
                }
                Err(error) => {
                    self.metrics.send_failed("resolve");
                    let error = transient(error)?;
                    tracing::error!(pd_incident_id = %claim.incident_id, %error, "cannot resolve the PagerDuty incident");
                }
            }
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Done;
            claim.save(next).await?;
        }
        Ok(())
    }
}
