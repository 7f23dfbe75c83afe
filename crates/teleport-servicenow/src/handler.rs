//! The request handler: one convergence step per observation of a request — open its
//! incident once, add each review once as a work note, check the requester's on-call status
//! once, and resolve the incident once — across restarts and replicas.
//!
//! Every step works under a lease on the record in Teleport plugin data with the runtime's
//! send policy (`teleport_plugin_runtime::record`). As in Go, every request gets an incident;
//! access monitoring rules (else the request's suggested reviewers) name its assignee.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use teleport_client::{AccessRequest, RequestState, TeleportClient};
use teleport_plugin_runtime::approval::{AutoApprover, annotation_values};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use teleport_plugin_runtime::routing::RuleCache;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::approval;
use crate::client::{Closing, NewIncident, ServiceNowApi};
use crate::config::ServiceNowConfig;
use crate::record::{IncidentRecord, incident_state};
use crate::{PLUGIN_NAME, render};

/// The annotation naming the on-call rotas whose people are auto-approved (Teleport's, as
/// in Go).
pub const APPROVE_SCHEDULES_ANNOTATION: &str = "teleport.dev/schedules";

/// What the handler needs from the connected cluster.
pub struct Context {
    /// `https://<proxy>` for links to requests, when the cluster supports them.
    pub web_base: Option<String>,
    /// The cluster's name, for the description.
    pub cluster_name: String,
    /// The access monitoring rules that name assignees, when followed.
    pub rules: Option<Arc<RuleCache>>,
}

/// The ServiceNow plugin's [`RequestHandler`].
pub struct ServiceNowHandler {
    api: ServiceNowApi,
    approver: AutoApprover,
    records: LeasedRecords<IncidentRecord>,
    config: ServiceNowConfig,
    context: Context,
    effects: Effects,
    /// Requests whose create went out without a definite answer (a timeout, a 5xx): the
    /// incident may exist, so it is looked up by `correlation_id` before creating again.
    /// Forgotten when the request's step is done.
    uncertain_creates: Mutex<HashSet<String>>,
}

type RecordClaim<'a> = Claim<'a, IncidentRecord>;

impl RequestHandler for ServiceNowHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        let outcome = record::outcome(self.step(observed).await);
        if matches!(outcome, Outcome::Done) {
            self.set_uncertain(observed.id(), false);
        }
        outcome
    }
}

impl HealthCheck for ServiceNowHandler {
    fn service_name(&self) -> &'static str {
        "ServiceNow API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.api.check_health().await?;
        tracing::info!("ServiceNow credentials work");
        Ok(())
    }
}

impl ServiceNowHandler {
    /// A handler calling `api` and Teleport through `client`.
    pub fn new(
        api: ServiceNowApi,
        client: TeleportClient,
        config: ServiceNowConfig,
        context: Context,
        replica_id: String,
        lease: Duration,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(client.clone(), PLUGIN_NAME, replica_id, lease);
        Self {
            api,
            approver: AutoApprover::new(client, metrics.clone()),
            records,
            config,
            context,
            effects: Effects::new(metrics),
            uncertain_creates: Mutex::new(HashSet::new()),
        }
    }

    fn set_uncertain(&self, request_id: &str, uncertain: bool) {
        let mut set = self
            .uncertain_creates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if uncertain {
            set.insert(request_id.to_owned());
        } else {
            set.remove(request_id);
        }
    }

    fn is_uncertain(&self, request_id: &str) -> bool {
        self.uncertain_creates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(request_id)
    }

    /// The incident an earlier, unanswered create opened, when there may be one.
    async fn earlier_incident(&self, request: &AccessRequest) -> Result<Option<String>, StepError> {
        if !self.is_uncertain(&request.id) {
            return Ok(None);
        }
        match self
            .api
            .find_incident(&IncidentRecord::correlation_id(&request.id))
            .await
        {
            Ok(found) => Ok(found),
            Err(error) if error.is_transient() => Err(StepError::Service(error.into())),
            Err(error) => {
                tracing::warn!(%error, "cannot look for an incident an earlier create may have opened; creating one");
                Ok(None)
            }
        }
    }

    /// The rotas for auto-approval, when auto-approval applies to the request.
    fn approval_rotas(&self, request: &AccessRequest) -> Option<Vec<String>> {
        if !self.config.auto_approval.enabled {
            return None;
        }
        let rotas = annotation_values(request, APPROVE_SCHEDULES_ANNOTATION);
        (!rotas.is_empty()).then_some(rotas)
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
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
            return !record.closed;
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) if request.state == RequestState::Pending => {
                record.incident_id.is_empty()
                    || record.request.reviews_count < request.reviews.len()
                    || (record.auto_approval.is_none() && self.approval_rotas(request).is_some())
            }
            Observation::Put(_) => false,
        }
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
            if claim.incident_id.is_empty() {
                self.open_incident(request, claim).await?;
            }
            self.post_review_notes(request, claim).await?;
            // As Go: tried even when the incident could not be opened.
            if claim.auto_approval.is_none()
                && let Some(rotas) = self.approval_rotas(request)
            {
                self.auto_approve(request, &rotas, claim).await?;
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
                let mut next = claim.record().clone();
                next.request.resolution = Some(resolution);
                next.request.resolve_reason = request
                    .map(|r| r.resolve_reason.clone())
                    .unwrap_or_default();
                next.closed = claim.incident_id.is_empty();
                // Before any side effect that shows it: a later observation must not change it.
                claim.record_effect(next);
            }
            self.resolve_incident(claim).await?;
        }
        Ok(Outcome::Done)
    }

    /// Who the incident is assigned to: the first recipient of the matching access
    /// monitoring rules (as Go), else the first reviewer the requester suggested.
    async fn assignee(&self, request: &AccessRequest) -> String {
        let from_rules = match &self.context.rules {
            Some(rules) => rules.recipients(request).await,
            None => None,
        };
        from_rules
            .unwrap_or_else(|| request.suggested_reviewers.clone())
            .into_iter()
            .map(|r| r.trim().to_owned())
            .find(|r| !r.is_empty())
            .unwrap_or_default()
    }

    async fn open_incident(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let incident = NewIncident {
            short_description: render::short_description(request),
            description: render::description(
                request,
                &self.context.cluster_name,
                self.context.web_base.as_deref(),
            ),
            caller_id: request.user.clone(),
            assigned_to: self.assignee(request).await,
            correlation_id: IncidentRecord::correlation_id(&request.id),
        };
        if let Some(sys_id) = self.earlier_incident(request).await? {
            tracing::info!(servicenow_incident_id = %sys_id, "found the incident an unanswered create opened");
            let mut next = claim.record().clone();
            next.incident_id = sys_id;
            claim.record_effect(next);
            return Ok(());
        }
        // Until ServiceNow answers, the incident may or may not exist.
        self.set_uncertain(&request.id, true);
        let created = self
            .effects
            .run(claim, "incident", || async {
                Ok::<_, ServiceError>(self.api.create_incident(&incident).await?)
            })
            .await?;
        self.set_uncertain(&request.id, false);
        match created {
            Ok(sys_id) => {
                tracing::info!(servicenow_incident_id = %sys_id, "opened a ServiceNow incident");
                let mut next = claim.record().clone();
                next.incident_id = sys_id;
                claim.record_effect(next);
            }
            Err(error) => {
                tracing::error!(%error, "cannot open the ServiceNow incident");
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
            let sys_id = claim.incident_id.clone();
            let note = render::review_note(review);
            let posted = self
                .effects
                .run(claim, "work_note", || async {
                    Ok::<_, ServiceError>(self.api.add_work_note(&sys_id, &note).await?)
                })
                .await?;
            if let Err(error) = posted {
                tracing::error!(servicenow_incident_id = %sys_id, %error, "cannot add the review work note; skipping it");
            }
            let mut next = claim.record().clone();
            next.request.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn auto_approve(
        &self,
        request: &AccessRequest,
        rotas: &[String],
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let limits = &self.config.auto_approval;
        let decision = match approval::decide(&self.api, limits, request, rotas).await {
            Ok(decision) => decision,
            Err(error) => return Err(StepError::Service(error.into())),
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

    async fn resolve_incident(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.request.resolution else {
            return Ok(());
        };
        if claim.closed {
            return Ok(());
        }
        if !claim.incident_id.is_empty() {
            let sys_id = claim.incident_id.clone();
            let closing = Closing {
                close_code: self.config.close_code.clone(),
                incident_state: incident_state(resolution).to_owned(),
                close_notes: render::close_notes(
                    &self.config.close_code,
                    &claim.request.resolve_reason,
                ),
            };
            match self
                .effects
                .run(claim, "resolve", || async {
                    Ok::<_, ServiceError>(self.api.resolve_incident(&sys_id, &closing).await?)
                })
                .await?
            {
                Ok(()) => {
                    tracing::info!(servicenow_incident_id = %sys_id, resolution = %resolution.as_str().to_ascii_lowercase(), "resolved the ServiceNow incident");
                }
                Err(error) => {
                    tracing::error!(servicenow_incident_id = %sys_id, %error, "cannot resolve the ServiceNow incident");
                }
            }
        }
        let mut next = claim.record().clone();
        next.closed = true;
        claim.record_effect(next);
        Ok(())
    }
}
