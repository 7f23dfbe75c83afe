//! The request handler: one convergence step per observation of a request — create its
//! incident once, add a timeline cell per review once, check the requester's on-call status
//! once, and resolve the incident once (a resolution cell, then `PATCH` state `resolved`) —
//! across restarts and replicas.
//!
//! Every step works under a lease on the record in Teleport plugin data with the runtime's
//! send policy (`teleport_plugin_runtime::record`). Datadog has no idempotency key for
//! incidents: a crash between the create and its record is the one window in which an
//! incident can be created twice.

use std::sync::Arc;
use std::time::Duration;

use teleport_client::{AccessRequest, RequestState, TeleportClient};
use teleport_plugin_runtime::approval::{AutoApprover, annotation_values};
use teleport_plugin_runtime::config::{RoleToRecipients, is_plain_email};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use teleport_plugin_runtime::routing::RuleCache;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::approval;
use crate::client::{DatadogApi, NewIncident};
use crate::config::DatadogConfig;
use crate::record::IncidentRecord;
use crate::{PLUGIN_NAME, render};

/// The annotation naming the On-Call teams whose on-call people are auto-approved (Teleport's
/// "approve schedules" annotation, which Go's Datadog plugin reads as team handles or names).
pub const APPROVE_TEAMS_ANNOTATION: &str = "teleport.dev/schedules";

/// What the handler needs besides the clients.
pub struct HandlerSettings {
    /// `[datadog]`.
    pub datadog: DatadogConfig,
    /// `[role_to_recipients]`.
    pub role_to_recipients: RoleToRecipients,
    /// The access monitoring rules that route requests to this plugin, when followed.
    pub rules: Option<Arc<RuleCache>>,
    /// The cluster's name, for the summary.
    pub cluster: String,
    /// `https://<proxy>` for links to requests, when the cluster has them.
    pub web_base: Option<String>,
}

/// The Datadog plugin's [`RequestHandler`].
pub struct DatadogHandler {
    api: DatadogApi,
    approver: AutoApprover,
    records: LeasedRecords<IncidentRecord>,
    settings: HandlerSettings,
    effects: Effects,
}

type RecordClaim<'a> = Claim<'a, IncidentRecord>;

impl RequestHandler for DatadogHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }
}

impl HealthCheck for DatadogHandler {
    fn service_name(&self) -> &'static str {
        "Datadog API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.api.check_permissions().await?;
        tracing::info!("the Datadog keys work and may write incidents");
        Ok(())
    }
}

impl DatadogHandler {
    /// A handler calling `api` and Teleport through `client`.
    pub fn new(
        api: DatadogApi,
        client: TeleportClient,
        settings: HandlerSettings,
        replica_id: String,
        lease: Duration,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(client.clone(), PLUGIN_NAME, replica_id, lease);
        Self {
            api,
            approver: AutoApprover::new(client, metrics.clone()),
            records,
            settings,
            effects: Effects::new(metrics),
        }
    }

    /// The teams for auto-approval, when auto-approval applies to the request.
    fn approval_teams(&self, request: &AccessRequest) -> Option<Vec<String>> {
        if !self.settings.datadog.auto_approval.enabled {
            return None;
        }
        let teams = annotation_values(request, APPROVE_TEAMS_ANNOTATION);
        (!teams.is_empty()).then_some(teams)
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
        let state = &record.state;
        if state.resolution.is_some() {
            return state.synced.is_none();
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) if request.state == RequestState::Pending => {
                !record.incident_settled()
                    || (record.incident_id().is_some()
                        && state.reviews_count < request.reviews.len())
                    || (record.approval_due() && self.approval_teams(request).is_some())
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
            && claim.state.resolution.is_none()
        {
            if !claim.incident_settled() {
                self.open_incident(request, claim).await?;
            }
            self.post_review_cells(request, claim).await?;
            if claim.approval_due()
                && let Some(teams) = self.approval_teams(request)
            {
                self.auto_approve(request, &teams, claim).await?;
            }
        }
        let decided = claim.state.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.state.resolution.is_none() {
                if let Some(request) = request {
                    self.post_review_cells(request, claim).await?;
                }
                let mut next = claim.record().clone();
                next.state.resolution = Some(resolution);
                next.state.resolve_reason = request
                    .map(|r| r.resolve_reason.clone())
                    .unwrap_or_default();
                // Before any side effect that shows it: a later observation must not change it.
                claim.record_effect(next);
            }
            self.resolve_incident(claim).await?;
        }
        Ok(Outcome::Done)
    }

    /// Who the incident notifies: the access monitoring rules' recipients when one matches,
    /// else `role_to_recipients` for the roles plus the suggested reviewers' addresses.
    async fn recipients(&self, request: &AccessRequest) -> Vec<String> {
        if let Some(rules) = &self.settings.rules
            && let Some(routed) = rules.recipients(request).await
        {
            tracing::debug!(recipients = ?routed, "access monitoring rules route this request");
            return routed;
        }
        self.settings
            .role_to_recipients
            .recipients_for(&request.roles, &request.suggested_reviewers)
    }

    async fn open_incident(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let recipients = self.recipients(request).await;
        let mut next = claim.record().clone();
        next.state.recipients = Some(recipients.clone());
        if recipients.is_empty() {
            tracing::warn!("no recipient for the request; no incident created");
            claim.record_effect(next);
            return Ok(());
        }
        let (handles, teams): (Vec<&String>, Vec<&String>) =
            recipients.iter().partition(|r| is_plain_email(r));
        let incident = NewIncident {
            title: render::incident_title(request),
            summary: render::incident_summary(
                request,
                &self.settings.cluster,
                self.settings.web_base.as_deref(),
            ),
            severity: self.settings.datadog.severity.clone(),
            root_cause: request.request_reason.clone(),
            teams: teams.into_iter().cloned().collect(),
            notification_handles: handles.into_iter().map(|e| format!("@{e}")).collect(),
        };
        match self
            .effects
            .run(claim, "incident", || async {
                Ok::<_, ServiceError>(self.api.create_incident(&incident).await?)
            })
            .await?
        {
            Ok(id) => {
                tracing::info!(datadog_incident_id = %id, "created the Datadog incident");
                next.set_incident(&id);
                next.state.sent_to = recipients;
            }
            Err(error) => {
                tracing::error!(%error, "cannot create the Datadog incident");
                next.state.failed_to = recipients;
            }
        }
        claim.record_effect(next);
        Ok(())
    }

    async fn post_review_cells(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let Some(incident) = claim.incident_id().map(str::to_owned) else {
            return Ok(());
        };
        while let Some(review) = request.reviews.get(claim.state.reviews_count) {
            self.post_cell(claim, &incident, "review", &render::review_cell(review))
                .await?;
            let mut next = claim.record().clone();
            next.state.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    /// Posts one timeline cell; a permanent refusal is logged and skipped.
    async fn post_cell(
        &self,
        claim: &mut RecordClaim<'_>,
        incident: &str,
        kind: &'static str,
        markdown: &str,
    ) -> Result<(), StepError> {
        let posted = self
            .effects
            .run(claim, kind, || async {
                Ok::<_, ServiceError>(self.api.add_timeline_cell(incident, markdown).await?)
            })
            .await?;
        if let Err(error) = posted {
            tracing::error!(datadog_incident_id = %incident, %error, "cannot add the timeline cell; skipping it");
        }
        Ok(())
    }

    async fn auto_approve(
        &self,
        request: &AccessRequest,
        teams: &[String],
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let limits = &self.settings.datadog.auto_approval;
        let decision = approval::decide(&self.api, limits, request, teams)
            .await
            .map_err(|error| StepError::Service(error.into()))?;
        let outcome = self
            .approver
            .settle(request, decision, limits.dry_run, claim)
            .await?;
        let mut next = claim.record().clone();
        next.auto_approval = Some(outcome);
        claim.record_effect(next);
        Ok(())
    }

    /// The resolution cell (once), then the incident's state `resolved`. A PROMOTED request
    /// leaves the incident as it is, as Go does.
    async fn resolve_incident(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.state.resolution else {
            return Ok(());
        };
        if claim.state.synced.is_some() {
            return Ok(());
        }
        if let Some(incident) = claim.incident_id().map(str::to_owned)
            && resolution != Resolution::Promoted
        {
            if !claim.resolution_noted {
                let cell = render::resolution_cell(resolution, &claim.state.resolve_reason);
                self.post_cell(claim, &incident, "resolution", &cell)
                    .await?;
                let mut next = claim.record().clone();
                next.resolution_noted = true;
                claim.record_effect(next);
            }
            match self
                .effects
                .run(claim, "resolve", || async {
                    Ok::<_, ServiceError>(self.api.resolve_incident(&incident).await?)
                })
                .await?
            {
                Ok(()) => {
                    tracing::info!(datadog_incident_id = %incident, resolution = %resolution.as_str().to_ascii_lowercase(), "resolved the Datadog incident");
                }
                Err(error) => {
                    tracing::error!(datadog_incident_id = %incident, %error, "cannot resolve the Datadog incident");
                }
            }
        }
        let mut next = claim.record().clone();
        next.state.synced = Some(resolution);
        claim.record_effect(next);
        Ok(())
    }
}
