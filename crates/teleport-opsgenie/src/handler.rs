//! Opsgenie as the runtime's [`IncidentService`]: an alert per request (to the annotated or
//! configured schedules and teams), a note per review, the alert closed with the resolution
//! note. The order of the work, the leases and the auto-approval are the runtime's
//! [`IncidentHandler`].
//!
//! Opsgenie creates alerts asynchronously: the create's `requestId` is recorded, and the
//! alert's ID is asked for until Opsgenie has processed it. A create repeated after a crash
//! is harmless: Opsgenie de-duplicates open alerts on the request's alias.

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::approval::annotation_values;
use teleport_plugin_runtime::incident::effects::{CloseCall, close_incident};
use teleport_plugin_runtime::incident::{IncidentHandler, IncidentService, OnCall};
use teleport_plugin_runtime::record::{Claim, Effects, Resolution, StepError};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{NewAlert, OpsgenieApi, OpsgenieError, Responder};
use crate::config::OpsgenieConfig;
use crate::record::AlertRecord;
use crate::render;

/// The annotation naming the schedules an alert notifies (Teleport's, as in Go).
pub const NOTIFY_SCHEDULES_ANNOTATION: &str = "teleport.dev/notify-services";
/// The annotation naming the teams an alert notifies.
pub const TEAMS_ANNOTATION: &str = "teleport.dev/teams";
/// The annotation naming the schedules whose on-call people are auto-approved.
pub const APPROVE_SCHEDULES_ANNOTATION: &str = "teleport.dev/schedules";

/// The Opsgenie plugin's request handler.
pub type OpsgenieHandler = IncidentHandler<Opsgenie>;

/// The Opsgenie API and settings, as the runtime's [`IncidentService`].
pub struct Opsgenie {
    api: OpsgenieApi,
    config: OpsgenieConfig,
    web_base: Option<String>,
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

teleport_plugin_runtime::health_check!(
    Opsgenie,
    "Opsgenie API",
    |service| service.api.ping(),
    "Opsgenie API key works"
);

impl IncidentService for Opsgenie {
    type Codec = AlertRecord;
    type Lookup = OpsgenieApi;
    const REVIEW_KIND: &'static str = "note";
    const REVIEW_NOTE: &'static str = "review note";

    fn concerns(&self, request: &AccessRequest) -> bool {
        !self.targets(request).is_empty() || self.on_call().targets(request).is_some()
    }

    fn wants_incident(&self, request: &AccessRequest, record: &AlertRecord) -> bool {
        record.alert_id.is_empty() && !self.targets(request).is_empty()
    }

    /// Asks Opsgenie for the alert (once), then for its ID until Opsgenie has processed it.
    async fn open(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<(), StepError> {
        if claim.alert_request.is_empty() {
            let targets = self.targets(request);
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
            match effects
                .run(claim, "alert", || async {
                    Ok::<_, ServiceError>(self.api.create_alert(&alert).await?)
                })
                .await?
            {
                Ok(request_id) => claim.record_effect_with(|next| next.alert_request = request_id),
                Err(error) => {
                    tracing::error!(%error, "cannot open the Opsgenie alert");
                    return Ok(());
                }
            }
        }
        self.learn_alert_id(claim).await
    }

    async fn post_review(&self, alert_id: &str, review: &AccessReview) -> Result<(), ServiceError> {
        Ok(self
            .api
            .add_note(alert_id, &render::review_note(review))
            .await?)
    }

    fn on_call(&self) -> OnCall<'_, OpsgenieApi> {
        self.config
            .auto_approval
            .on_call(&self.api, APPROVE_SCHEDULES_ANNOTATION)
    }

    async fn close(
        &self,
        _request_id: &str,
        resolution: Resolution,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<(), StepError> {
        if claim.alert_id.is_empty() {
            self.learn_alert_id(claim).await?;
        }
        if !claim.alert_id.is_empty() {
            let alert_id = claim.alert_id.clone();
            let note = render::resolution_note(resolution, &claim.request.resolve_reason);
            close_incident(
                effects,
                claim,
                CloseCall::Close("Opsgenie alert"),
                &alert_id,
                resolution,
                || async { Ok(self.api.close_alert(&alert_id, &note).await?) },
            )
            .await?;
        }
        claim.record_effect_with(|next| next.closed = true);
        Ok(())
    }
}

impl Opsgenie {
    /// The service calling `api` with `config`; `web_base` links requests.
    pub fn new(api: OpsgenieApi, config: OpsgenieConfig, web_base: Option<String>) -> Self {
        Self {
            api,
            config,
            web_base,
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
}
