//! Datadog as the runtime's [`IncidentService`]: an incident per request (to the routed
//! recipients), a timeline cell per review, and on resolution a resolution cell and then
//! `PATCH` state `resolved`. The order of the work, the leases and the auto-approval are the
//! runtime's [`IncidentHandler`].
//!
//! Datadog has no idempotency key for incidents, so a create whose outcome is unknown — it
//! got no answer, or the replica that sent it stopped (a SIGKILL) before recording it and
//! its lease lapsed — is followed by a search for the request's incident before creating
//! again: the summary's `ID:` line names the request.

use std::sync::Arc;

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::config::{RoleToRecipients, is_plain_email};
use teleport_plugin_runtime::incident::effects::{CloseCall, close_incident, post_note};
use teleport_plugin_runtime::incident::uncertain::UncertainCreates;
use teleport_plugin_runtime::incident::{IncidentHandler, IncidentService, OnCall};
use teleport_plugin_runtime::record::{Claim, Effects, Permanent, Resolution, StepError};
use teleport_plugin_runtime::routing::RuleCache;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{DatadogApi, DatadogError, NewIncident};
use crate::config::DatadogConfig;
use crate::record::IncidentRecord;
use crate::render;

/// The annotation naming the On-Call teams whose on-call people are auto-approved (Teleport's
/// "approve schedules" annotation, which Go's Datadog plugin reads as team handles or names).
pub const APPROVE_TEAMS_ANNOTATION: &str = "teleport.dev/schedules";

/// The Datadog plugin's request handler.
pub type DatadogHandler = IncidentHandler<Datadog>;

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

/// The Datadog API and settings, as the runtime's [`IncidentService`].
pub struct Datadog {
    api: DatadogApi,
    settings: HandlerSettings,
    /// Requests whose create may have opened an incident nobody recorded: a create without
    /// a definite answer (a timeout, a 5xx), or a takeover of a lapsed lease. Searched for
    /// before creating; forgotten once a create is answered or the request's work is done.
    uncertain_creates: UncertainCreates,
}

type RecordClaim<'a> = Claim<'a, IncidentRecord>;

teleport_plugin_runtime::health_check!(
    Datadog,
    "Datadog API",
    |service| service.api.check_permissions(),
    "the Datadog keys work and may write incidents"
);

impl IncidentService for Datadog {
    type Codec = IncidentRecord;
    type Lookup = DatadogApi;
    const REVIEW_KIND: &'static str = "review";
    const REVIEW_NOTE: &'static str = "timeline cell";

    fn wants_incident(&self, _request: &AccessRequest, record: &IncidentRecord) -> bool {
        !record.incident_settled()
    }

    async fn open(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<(), StepError> {
        let recipients = self.recipients(request).await;
        let mut next = claim.record().clone();
        next.state.recipients = Some(recipients.clone());
        if recipients.is_empty() {
            tracing::warn!("no recipient for the request; no incident created");
            claim.record_effect(next);
            return Ok(());
        }
        let look_up = self.uncertain_creates.needs_look_up(claim, &request.id);
        let outcome = match self.earlier_incident(request, look_up).await? {
            Some(id) => {
                tracing::info!(datadog_incident_id = %id, "found the incident an unrecorded create opened");
                Ok(id)
            }
            None => self.create(request, &recipients, claim, effects).await?,
        };
        match outcome {
            Ok(id) => {
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

    async fn post_review(&self, incident: &str, review: &AccessReview) -> Result<(), ServiceError> {
        Ok(self
            .api
            .add_timeline_cell(incident, &render::review_cell(review))
            .await?)
    }

    fn on_call(&self) -> OnCall<'_, DatadogApi> {
        self.settings
            .datadog
            .auto_approval
            .on_call(&self.api, APPROVE_TEAMS_ANNOTATION)
    }

    /// The resolution cell (once), then the incident's state `resolved`. A PROMOTED request
    /// leaves the incident as it is, as Go does.
    async fn close(
        &self,
        _request_id: &str,
        resolution: Resolution,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<(), StepError> {
        if let Some(incident) = claim.incident_id().map(str::to_owned)
            && resolution != Resolution::Promoted
        {
            if !claim.resolution_noted {
                let cell = render::resolution_cell(resolution, &claim.state.resolve_reason);
                post_note(
                    effects,
                    claim,
                    "resolution",
                    "timeline cell",
                    &incident,
                    || async { Ok(self.api.add_timeline_cell(&incident, &cell).await?) },
                )
                .await?;
                claim.record_effect_with(|next| next.resolution_noted = true);
            }
            close_incident(
                effects,
                claim,
                CloseCall::Resolve("Datadog incident"),
                &incident,
                resolution,
                || async { Ok(self.api.resolve_incident(&incident).await?) },
            )
            .await?;
        }
        claim.record_effect_with(|next| next.state.synced = Some(resolution));
        Ok(())
    }

    fn finished(&self, request_id: &str) {
        self.uncertain_creates.forget(request_id);
    }
}

impl Datadog {
    /// The service calling `api` with `settings`.
    pub fn new(api: DatadogApi, settings: HandlerSettings) -> Self {
        Self {
            api,
            settings,
            uncertain_creates: UncertainCreates::default(),
        }
    }

    /// The incident as Go's plugin fills it, for `recipients` (addresses are notified by
    /// handle, the rest are teams).
    fn new_incident(&self, request: &AccessRequest, recipients: &[String]) -> NewIncident {
        let (handles, teams): (Vec<&String>, Vec<&String>) =
            recipients.iter().partition(|r| is_plain_email(r));
        NewIncident {
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
        }
    }

    /// Creates the request's incident: its ID, or why Datadog refuses it for good.
    async fn create(
        &self,
        request: &AccessRequest,
        recipients: &[String],
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<Result<String, Permanent>, StepError> {
        let incident = self.new_incident(request, recipients);
        let created = self
            .uncertain_creates
            .create(&request.id, effects, claim, "incident", || async {
                Ok::<_, ServiceError>(self.api.create_incident(&incident).await?)
            })
            .await?;
        if let Ok(id) = &created {
            tracing::info!(datadog_incident_id = %id, "created the Datadog incident");
        }
        Ok(created)
    }

    /// The request's incident an unrecorded create opened, when there may be one: the
    /// newest search hit whose summary names the request on its `ID:` line.
    async fn earlier_incident(
        &self,
        request: &AccessRequest,
        look_up: bool,
    ) -> Result<Option<String>, StepError> {
        if !look_up {
            return Ok(None);
        }
        let query = render::incident_search_query(&request.id);
        match self.api.search_incidents(&query).await {
            Ok(found) => Ok(found
                .into_iter()
                .find(|hit| render::names_request(&hit.summary, &request.id))
                .map(|hit| hit.id)),
            Err(error) if search_worth_retrying(&error) => Err(StepError::Service(error.into())),
            Err(error) => {
                tracing::warn!(%error, "cannot search for an incident an unrecorded create may have opened; creating one");
                Ok(None)
            }
        }
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
}

/// Whether a failed search should hold the create back until it can be tried again: a
/// rate limit or an outage passes. A refusal does not end the step: keys that work for
/// creating but may not read incidents (no `incident_read`) would otherwise stop the
/// request for good, and keys that do not work at all are refused the create too (which
/// is retried, searching again first).
fn search_worth_retrying(error: &DatadogError) -> bool {
    error.is_transient() && !matches!(error, DatadogError::Unauthorized { .. })
}
