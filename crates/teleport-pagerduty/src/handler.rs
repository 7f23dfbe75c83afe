//! The request handler: one convergence step per observation of a request — open its
//! incident once, post each review once, check the requester's on-call status once, and
//! close the incident once — across restarts and replicas.
//!
//! Every step starts from the record in Teleport plugin data and works under a lease, with
//! the runtime's shared send policy (see `teleport_plugin_runtime::record`): the outcome of a
//! PagerDuty write is recorded before the next one and the rest goes out with the release,
//! so a new request costs two Teleport writes. PagerDuty itself refuses a second open
//! incident with the request's `incident_key`, which covers the one gap left: an incident
//! created just before a crash, before its ID was recorded.

use std::time::Duration;

use teleport_client::{AccessRequest, RequestState, TeleportClient};
use teleport_plugin_runtime::approval::{AutoApprover, Decision, annotation_values};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::approval;
use crate::client::{NewIncident, PagerDutyApi, PagerDutyError};
use crate::config::{AutoApproval, PagerDutyConfig};
use crate::record::{CloseProgress, IncidentRecord};
use crate::{PLUGIN_NAME, render};

/// Settings of the handler.
#[derive(Clone, Debug)]
pub struct HandlerOptions {
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

impl HandlerOptions {
    /// Options from the validated `[pagerduty]` section.
    pub fn new(
        config: &PagerDutyConfig,
        web_base: Option<String>,
        replica_id: String,
        lease: Duration,
    ) -> Self {
        Self {
            notify_service_annotation: config.notify_service_annotation.clone(),
            services_annotation: config.services_annotation.clone(),
            auto_approval: config.auto_approval.clone(),
            web_base,
            replica_id,
            lease,
        }
    }
}

/// The PagerDuty plugin's [`RequestHandler`].
pub struct PagerDutyHandler {
    api: PagerDutyApi,
    records: LeasedRecords<IncidentRecord>,
    options: HandlerOptions,
    effects: Effects,
    approver: AutoApprover,
}

/// The lease on one request's record, held while working on it.
type RecordClaim<'a> = Claim<'a, IncidentRecord>;

/// What to do with a PagerDuty error of a lookup (no side effect): one that may pass ends the
/// step (retried); a permanent one is the caller's to log and skip.
fn lookup_failure(error: PagerDutyError) -> Result<PagerDutyError, StepError> {
    if error.is_transient() {
        Err(StepError::Service(error.into()))
    } else {
        Ok(error)
    }
}

impl RequestHandler for PagerDutyHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }
}

impl HealthCheck for PagerDutyHandler {
    fn service_name(&self) -> &'static str {
        "PagerDuty API"
    }

    /// The key works (`GET /abilities`); whether the `From` user exists is only reported,
    /// as the Go plugin never checked it.
    async fn check_health(&self) -> Result<(), ServiceError> {
        self.api.abilities().await?;
        let email = self.api.user_email();
        match self.api.find_user_by_email(email).await {
            Ok(Some(user)) => {
                tracing::info!(pd_user = %user.name, pd_user_id = %user.id, "PagerDuty API key works; acting as this user");
            }
            Ok(None) => tracing::warn!(
                "PagerDuty has no user with the e-mail {email} (pagerduty.user_email); writes that need a From user will be refused"
            ),
            Err(error) if error.is_transient() => return Err(error.into()),
            Err(error) => tracing::warn!(%error, "cannot look up the pagerduty.user_email user"),
        }
        Ok(())
    }
}

impl PagerDutyHandler {
    /// A handler calling `api` and Teleport through `client`.
    pub fn new(
        api: PagerDutyApi,
        client: TeleportClient,
        options: HandlerOptions,
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
            approver: AutoApprover::new(client.clone(), metrics.clone()),
            records,
            options,
            effects: Effects::new(metrics),
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
        let services = annotation_values(request, &self.options.services_annotation);
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
        if record.request.resolution.is_some() {
            return record.close_progress != CloseProgress::Done;
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) if request.state == RequestState::Pending => {
                (record.incident_id.is_empty() && self.notify_service(request).is_some())
                    || (!record.incident_id.is_empty()
                        && record.request.reviews_count < request.reviews.len())
                    || (record.auto_approval.is_none() && self.approval_services(request).is_some())
            }
            Observation::Put(_) => false,
        }
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

        let decided = claim.request.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.request.resolution.is_none() {
                if let Some(request) = request {
                    self.post_review_notes(request, claim).await?;
                }
                self.record_resolution(request, resolution, claim);
            }
            self.close_incident(observed.id(), claim).await?;
        }

        Ok(Outcome::Done)
    }

    /// Records the resolution once, and what closing the incident involves.
    fn record_resolution(
        &self,
        request: Option<&AccessRequest>,
        resolution: Resolution,
        claim: &mut RecordClaim<'_>,
    ) {
        let mut next = claim.record().clone();
        next.request.resolution = Some(resolution);
        next.request.resolve_reason = request
            .map(|r| r.resolve_reason.clone())
            .unwrap_or_default();
        next.close_progress = if claim.incident_id.is_empty() && claim.service_id.is_empty() {
            CloseProgress::Done
        } else {
            CloseProgress::Pending
        };
        // Before any side effect that shows it: a later observation must not change it.
        claim.record_effect(next);
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
                    let error = lookup_failure(error)?;
                    tracing::error!(service = service_name, %error, "cannot look up the PagerDuty service; no incident is opened");
                    return Ok(());
                }
            };
            let mut next = claim.record().clone();
            next.service_id = service.id;
            // Recorded before the incident is created (by `before_effect`): a record with a
            // service and no incident may have an open incident to look for.
            claim.record_effect(next);
        }
        let new = NewIncident {
            title: render::incident_title(request),
            service_id: claim.service_id.clone(),
            incident_key: IncidentRecord::incident_key(&request.id),
            details: render::incident_details(request, self.options.web_base.as_deref()),
        };
        match self
            .effects
            .run(claim, "incident", || async {
                Ok::<_, ServiceError>(self.api.create_incident(&new).await?)
            })
            .await?
        {
            Ok(incident) => {
                tracing::info!(pd_incident_id = %incident.id, pd_service_id = %claim.service_id, "opened a PagerDuty incident");
                let mut next = claim.record().clone();
                next.incident_id = incident.id;
                claim.record_effect(next);
            }
            Err(error) => {
                tracing::error!(service = service_name, %error, "cannot open the PagerDuty incident");
            }
        }
        Ok(())
    }

    async fn post_review_notes(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if claim.incident_id.is_empty() {
            return Ok(());
        }
        while let Some(review) = request.reviews.get(claim.request.reviews_count) {
            self.post_note(claim, &render::review_note(review), "review note")
                .await?;
            let mut next = claim.record().clone();
            next.request.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    /// Posts `note` on the claimed request's incident; a permanent refusal is logged (as
    /// `what`) and skipped, anything that may pass ends the step.
    async fn post_note(
        &self,
        claim: &mut RecordClaim<'_>,
        note: &str,
        what: &str,
    ) -> Result<(), StepError> {
        let incident_id = claim.incident_id.clone();
        let posted = self
            .effects
            .run(claim, "note", || async {
                Ok::<_, ServiceError>(self.api.add_note(&incident_id, note).await?)
            })
            .await?;
        if let Err(error) = posted {
            tracing::error!(pd_incident_id = %incident_id, %error, "cannot post the {what}; skipping it");
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
                let error = lookup_failure(error)?;
                tracing::error!(%error, "cannot check whether the requester is on call; not auto-approving");
                Decision::Decline {
                    why: error.to_string(),
                }
            }
        };
        let outcome = self
            .approver
            .settle(request, decision, limits.dry_run, claim)
            .await?;
        let mut next = claim.record().clone();
        next.auto_approval = Some(outcome);
        claim.record_effect(next);
        Ok(())
    }

    async fn close_incident(&self, id: &str, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.request.resolution else {
            return Ok(());
        };
        if claim.close_progress == CloseProgress::Pending && claim.incident_id.is_empty() {
            // A service was chosen, so an incident may exist whose ID was never recorded.
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
                        let error = lookup_failure(error)?;
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
            claim.stage(next);
        }
        if claim.close_progress == CloseProgress::Pending {
            let note = render::resolution_note(resolution, &claim.request.resolve_reason);
            self.post_note(claim, &note, "resolution note").await?;
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Noted;
            claim.record_effect(next);
        }
        if claim.close_progress == CloseProgress::Noted {
            let incident_id = claim.incident_id.clone();
            match self
                .effects
                .run(claim, "resolve", || async {
                    Ok::<_, ServiceError>(self.api.resolve_incident(&incident_id).await?)
                })
                .await?
            {
                Ok(()) => {
                    tracing::info!(pd_incident_id = %incident_id, resolution = %resolution.as_str().to_ascii_lowercase(), "resolved the PagerDuty incident");
                }
                Err(error) => {
                    tracing::error!(pd_incident_id = %incident_id, %error, "cannot resolve the PagerDuty incident");
                }
            }
            let mut next = claim.record().clone();
            next.close_progress = CloseProgress::Done;
            claim.record_effect(next);
        }
        Ok(())
    }
}
