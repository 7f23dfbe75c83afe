//! The request handler: one convergence step per observation of a request — open its alert
//! once, post each review once as a note, check the requester's on-call status once, and
//! close the alert once — across restarts and replicas.
//!
//! Every step works under a lease on the record in Teleport plugin data with the runtime's
//! send policy (`teleport_plugin_runtime::record`). Opsgenie creates alerts asynchronously:
//! the create's `requestId` is recorded, and the alert's ID is asked for until Opsgenie has
//! processed it. A create repeated after a crash is harmless: Opsgenie de-duplicates open
//! alerts on the request's alias.

use std::time::Duration;

use teleport_client::{AccessRequest, RequestState, TeleportClient};
use teleport_plugin_runtime::approval::{AutoApprover, annotation_values};
use teleport_plugin_runtime::dispatch::{Observation, Outcome, RequestHandler};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::metrics::Metrics;
use teleport_plugin_runtime::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::approval;
use crate::client::{NewAlert, OpsgenieApi, OpsgenieError, Responder};
use crate::config::OpsgenieConfig;
use crate::record::AlertRecord;
use crate::{PLUGIN_NAME, render};

/// The annotation naming the schedules an alert notifies (Teleport's, as in Go).
pub const NOTIFY_SCHEDULES_ANNOTATION: &str = "teleport.dev/notify-services";
/// The annotation naming the teams an alert notifies.
pub const TEAMS_ANNOTATION: &str = "teleport.dev/teams";
/// The annotation naming the schedules whose on-call people are auto-approved.
pub const APPROVE_SCHEDULES_ANNOTATION: &str = "teleport.dev/schedules";

/// The Opsgenie plugin's [`RequestHandler`].
pub struct OpsgenieHandler {
    api: OpsgenieApi,
    records: LeasedRecords<AlertRecord>,
    config: OpsgenieConfig,
    web_base: Option<String>,
    effects: Effects,
    approver: AutoApprover,
}

type RecordClaim<'a> = Claim<'a, AlertRecord>;

/// Who an alert notifies.
struct Targets {
    schedules: Vec<String>,
    teams: Vec<String>,
}

impl Targets {
    fn is_empty(&self) -> bool {
        self.schedules.is_empty() && self.teams.is_empty()
    }
}

impl RequestHandler for OpsgenieHandler {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }
}

impl HealthCheck for OpsgenieHandler {
    fn service_name(&self) -> &'static str {
        "Opsgenie API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.api.ping().await?;
        tracing::info!("Opsgenie API key works");
        Ok(())
    }
}

impl OpsgenieHandler {
    /// A handler calling `api` and Teleport through `client`.
    pub fn new(
        api: OpsgenieApi,
        client: TeleportClient,
        config: OpsgenieConfig,
        web_base: Option<String>,
        replica_id: String,
        lease: Duration,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(client.clone(), PLUGIN_NAME, replica_id, lease);
        Self {
            api,
            approver: AutoApprover::new(client.clone(), metrics.clone()),
            records,
            config,
            web_base,
            effects: Effects::new(metrics),
        }
    }

    /// The annotations' schedules and teams, each else the configured defaults.
    fn targets(&self, request: &AccessRequest) -> Targets {
        let or_default = |values: Vec<String>, default: &[String]| {
            if values.is_empty() {
                default.to_vec()
            } else {
                values
            }
        };
        Targets {
            schedules: or_default(
                annotation_values(request, NOTIFY_SCHEDULES_ANNOTATION),
                &self.config.default_schedules,
            ),
            teams: or_default(
                annotation_values(request, TEAMS_ANNOTATION),
                &self.config.default_teams,
            ),
        }
    }

    /// The schedules for auto-approval, when auto-approval applies to the request.
    fn approval_schedules(&self, request: &AccessRequest) -> Option<Vec<String>> {
        if !self.config.auto_approval.enabled {
            return None;
        }
        let schedules = annotation_values(request, APPROVE_SCHEDULES_ANNOTATION);
        (!schedules.is_empty()).then_some(schedules)
    }

    fn concerns(&self, request: &AccessRequest) -> bool {
        !self.targets(request).is_empty() || self.approval_schedules(request).is_some()
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
                AlertRecord::new,
                |record| self.needs_work(observed, record),
                async |claim| self.work(observed, claim).await,
            )
            .await
    }

    fn needs_work(&self, observed: &Observation, record: &AlertRecord) -> bool {
        if record.request.resolution.is_some() {
            return !record.closed;
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) if request.state == RequestState::Pending => {
                (record.alert_id.is_empty() && !self.targets(request).is_empty())
                    || (!record.alert_id.is_empty()
                        && record.request.reviews_count < request.reviews.len())
                    || (record.auto_approval.is_none()
                        && self.approval_schedules(request).is_some())
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
            let targets = self.targets(request);
            if claim.alert_id.is_empty() && !targets.is_empty() {
                self.open_alert(request, &targets, claim).await?;
            }
            self.post_review_notes(request, claim).await?;
            if claim.auto_approval.is_none()
                && let Some(schedules) = self.approval_schedules(request)
            {
                self.auto_approve(request, &schedules, claim).await?;
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
                next.closed = claim.alert_id.is_empty() && claim.alert_request.is_empty();
                // Before any side effect that shows it: a later observation must not change it.
                claim.record_effect(next);
            }
            self.close_alert(claim).await?;
        }
        Ok(Outcome::Done)
    }

    /// Asks Opsgenie for the alert (once), then for its ID until Opsgenie has processed it.
    async fn open_alert(
        &self,
        request: &AccessRequest,
        targets: &Targets,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if claim.alert_request.is_empty() {
            let mut responders: Vec<Responder> = targets
                .schedules
                .iter()
                .map(|s| Responder::new("schedule", s))
                .collect();
            responders.extend(targets.teams.iter().map(|t| Responder::new("team", t)));
            let alert = NewAlert {
                message: render::alert_message(request),
                alias: AlertRecord::alias(&request.id),
                description: render::alert_description(request, self.web_base.as_deref()),
                responders,
                priority: self.config.priority.clone(),
            };
            match self
                .effects
                .run(claim, "alert", || async {
                    Ok::<_, ServiceError>(self.api.create_alert(&alert).await?)
                })
                .await?
            {
                Ok(request_id) => {
                    let mut next = claim.record().clone();
                    next.alert_request = request_id;
                    claim.record_effect(next);
                }
                Err(error) => {
                    tracing::error!(%error, "cannot open the Opsgenie alert");
                    return Ok(());
                }
            }
        }
        self.learn_alert_id(claim).await
    }

    /// The alert ID of the recorded create; a create not processed yet ends the step, to be
    /// asked again shortly.
    async fn learn_alert_id(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        if claim.alert_request.is_empty() {
            return Ok(());
        }
        let mut next = claim.record().clone();
        match self.api.alert_of_request(&claim.alert_request).await {
            Ok(alert_id) => {
                tracing::info!(opsgenie_alert_id = %alert_id, "opened an Opsgenie alert");
                next.alert_id = alert_id;
                next.alert_request.clear();
            }
            Err(error @ OpsgenieError::Processing) => {
                tracing::debug!("Opsgenie has not processed the alert yet; asking again");
                return Err(StepError::Service(error.into()));
            }
            Err(error) if error.is_transient() => return Err(StepError::Service(error.into())),
            Err(error) => {
                tracing::error!(%error, "Opsgenie did not open the alert");
                next.alert_request.clear();
            }
        }
        // A lookup is no side effect: written with the next one or the release.
        claim.stage(next);
        Ok(())
    }

    async fn post_review_notes(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        if claim.alert_id.is_empty() {
            return Ok(());
        }
        while let Some(review) = request.reviews.get(claim.request.reviews_count) {
            self.post_note(claim, &render::review_note(review)).await?;
            let mut next = claim.record().clone();
            next.request.reviews_count += 1;
            claim.record_effect(next);
        }
        Ok(())
    }

    async fn post_note(&self, claim: &mut RecordClaim<'_>, note: &str) -> Result<(), StepError> {
        let alert_id = claim.alert_id.clone();
        let posted = self
            .effects
            .run(claim, "note", || async {
                Ok::<_, ServiceError>(self.api.add_note(&alert_id, note).await?)
            })
            .await?;
        if let Err(error) = posted {
            tracing::error!(opsgenie_alert_id = %alert_id, %error, "cannot post the review note; skipping it");
        }
        Ok(())
    }

    async fn auto_approve(
        &self,
        request: &AccessRequest,
        schedules: &[String],
        claim: &mut RecordClaim<'_>,
    ) -> Result<(), StepError> {
        let limits = &self.config.auto_approval;
        let decision = match approval::decide(&self.api, limits, request, schedules).await {
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

    async fn close_alert(&self, claim: &mut RecordClaim<'_>) -> Result<(), StepError> {
        let Some(resolution) = claim.request.resolution else {
            return Ok(());
        };
        if claim.closed {
            return Ok(());
        }
        if claim.alert_id.is_empty() {
            self.learn_alert_id(claim).await?;
        }
        if !claim.alert_id.is_empty() {
            let alert_id = claim.alert_id.clone();
            let note = render::resolution_note(resolution, &claim.request.resolve_reason);
            match self
                .effects
                .run(claim, "close", || async {
                    Ok::<_, ServiceError>(self.api.close_alert(&alert_id, &note).await?)
                })
                .await?
            {
                Ok(()) => {
                    tracing::info!(opsgenie_alert_id = %alert_id, resolution = %resolution.as_str().to_ascii_lowercase(), "closed the Opsgenie alert");
                }
                Err(error) => {
                    tracing::error!(opsgenie_alert_id = %alert_id, %error, "cannot close the Opsgenie alert");
                }
            }
        }
        let mut next = claim.record().clone();
        next.closed = true;
        claim.record_effect(next);
        Ok(())
    }
}
