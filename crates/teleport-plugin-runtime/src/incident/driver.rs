//! [`IncidentHandler`]: the one request handler of the incident plugins — open the incident
//! once, note each review once, take the on-call decision once, record the resolution once
//! and close the incident once — across restarts and replicas.
//!
//! Every step works under a lease on the record in Teleport plugin data with the runtime's
//! send policy (`crate::record`): the outcome of a write is recorded before the next one
//! and the rest goes out with the release, so a new request costs two Teleport writes.

use teleport_client::{AccessRequest, RequestState};

use super::effects::post_note;
use super::service::{IncidentProgress, IncidentService};
use crate::app::PluginContext;
use crate::approval::{AutoApprover, Decision};
use crate::dispatch::{Observation, Outcome, RequestHandler};
use crate::health::HealthCheck;
use crate::record::{self, Claim, Effects, LeasedRecords, RecordCodec, Resolution, StepError};
use crate::service_error::ServiceError;

type Record<S> = <<S as IncidentService>::Codec as RecordCodec>::Record;

/// The [`RequestHandler`] (and [`HealthCheck`]) of an incident plugin.
pub struct IncidentHandler<S: IncidentService> {
    service: S,
    records: LeasedRecords<S::Codec>,
    effects: Effects,
    approver: AutoApprover,
}

impl<S: IncidentService> RequestHandler for IncidentHandler<S> {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        let outcome = record::outcome(self.step(observed).await);
        if matches!(outcome, Outcome::Done) {
            self.service.finished(observed.id());
        }
        outcome
    }
}

impl<S: IncidentService> HealthCheck for IncidentHandler<S> {
    fn service_name(&self) -> &'static str {
        self.service.service_name()
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.service.check_health().await
    }
}

impl<S: IncidentService> IncidentHandler<S> {
    /// A handler for `service`, keeping its records in the `plugin` namespace through the
    /// process's client, under its replica's leases, counted in its metrics.
    pub fn in_context(service: S, ctx: &PluginContext, plugin: &str) -> Self {
        Self {
            service,
            records: ctx.leased_records(plugin),
            effects: Effects::new(ctx.metrics.clone()),
            approver: AutoApprover::new(ctx.client.clone(), ctx.metrics.clone()),
        }
    }

    /// The plugin's service.
    pub fn service(&self) -> &S {
        &self.service
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
        if let Observation::Put(request) = observed
            && !self.service.concerns(request)
        {
            return Ok(Outcome::Done);
        }
        self.records
            .step(
                observed,
                <Record<S> as IncidentProgress>::start,
                |record| self.needs_work(observed, record),
                async |claim| self.work(observed, claim).await,
            )
            .await
    }

    fn needs_work(&self, observed: &Observation, record: &Record<S>) -> bool {
        if record.resolution().is_some() {
            return !record.closed();
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) if request.state == RequestState::Pending => {
                self.service.wants_incident(request, record)
                    || (record.incident_id().is_some()
                        && record.reviews_count() < request.reviews.len())
                    || (record.auto_approval().is_none()
                        && self.service.on_call().targets(request).is_some())
            }
            Observation::Put(_) => false,
        }
    }

    /// Does what is left, holding the lease; `claim` derefs to the record as the work left it.
    async fn work(
        &self,
        observed: &Observation,
        claim: &mut Claim<'_, S::Codec>,
    ) -> Result<Outcome, StepError> {
        let request = match observed {
            Observation::Put(request) => Some(&**request),
            Observation::Deleted(_) => None,
        };
        if let Some(request) = request.filter(|r| r.state == RequestState::Pending)
            && claim.resolution().is_none()
        {
            if self.service.wants_incident(request, claim) {
                self.service.open(request, claim, &self.effects).await?;
            }
            self.post_review_notes(request, claim).await?;
            // As Go: tried even when no incident could be opened.
            if claim.auto_approval().is_none()
                && let Some(targets) = self.service.on_call().targets(request)
            {
                self.auto_approve(request, &targets, claim).await?;
            }
        }
        let decided = claim.resolution().or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.resolution().is_none() {
                if let Some(request) = request {
                    self.post_review_notes(request, claim).await?;
                }
                let mut next = claim.record().clone();
                let reason = request
                    .map(|r| r.resolve_reason.clone())
                    .unwrap_or_default();
                next.record_resolution(resolution, reason);
                claim.record_effect(next);
            }
            if !claim.closed() {
                self.service
                    .close(observed.id(), resolution, claim, &self.effects)
                    .await?;
            }
        }
        Ok(Outcome::Done)
    }

    /// Notes every review not noted yet, in order, each counted once posted (or refused).
    async fn post_review_notes(
        &self,
        request: &AccessRequest,
        claim: &mut Claim<'_, S::Codec>,
    ) -> Result<(), StepError> {
        let Some(incident) = claim.incident_id().map(str::to_owned) else {
            return Ok(());
        };
        while let Some(review) = request.reviews.get(claim.reviews_count()) {
            post_note(
                &self.effects,
                claim,
                S::REVIEW_KIND,
                S::REVIEW_NOTE,
                &incident,
                || self.service.post_review(&incident, review),
            )
            .await?;
            let mut next = claim.record().clone();
            next.count_review();
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn auto_approve(
        &self,
        request: &AccessRequest,
        targets: &[String],
        claim: &mut Claim<'_, S::Codec>,
    ) -> Result<(), StepError> {
        let on_call = self.service.on_call();
        let decision = match on_call.decide(request, targets).await {
            Ok(decision) => decision,
            Err(error) if error.is_retryable() => return Err(StepError::Service(error)),
            Err(error) => {
                tracing::error!(error = %error.message(), "cannot check whether the requester is on call; not auto-approving");
                Decision::decline(error.message())
            }
        };
        let outcome = self
            .approver
            .settle(request, decision, on_call.auto_approval.dry_run, claim)
            .await?;
        let mut next = claim.record().clone();
        next.set_auto_approval(outcome);
        claim.record_effect(next);
        Ok(())
    }
}
