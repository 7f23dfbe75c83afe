//! ServiceNow as the runtime's [`IncidentService`]: an incident per request (every request,
//! as in Go), a work note per review, the incident resolved with the close code and notes.
//! The order of the work, the leases and the auto-approval are the runtime's
//! [`IncidentHandler`].
//!
//! Access monitoring rules (else the request's suggested reviewers) name the assignee. A
//! create that got no answer is looked up by `correlation_id` before creating again.

use std::sync::Arc;

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::incident::effects::{CloseCall, close_incident};
use teleport_plugin_runtime::incident::uncertain::UncertainCreates;
use teleport_plugin_runtime::incident::{IncidentHandler, IncidentService, OnCall};
use teleport_plugin_runtime::record::{Claim, Effects, Resolution, StepError};
use teleport_plugin_runtime::routing::RuleCache;
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{Closing, NewIncident, ServiceNowApi};
use crate::config::ServiceNowConfig;
use crate::record::{IncidentRecord, incident_state};
use crate::render;

/// The annotation naming the on-call rotas whose people are auto-approved (Teleport's, as
/// in Go).
pub const APPROVE_SCHEDULES_ANNOTATION: &str = "teleport.dev/schedules";

/// The ServiceNow plugin's request handler.
pub type ServiceNowHandler = IncidentHandler<ServiceNow>;

/// What the handler needs from the connected cluster.
pub struct Context {
    /// `https://<proxy>` for links to requests, when the cluster supports them.
    pub web_base: Option<String>,
    /// The cluster's name, for the description.
    pub cluster_name: String,
    /// The access monitoring rules that name assignees, when followed.
    pub rules: Option<Arc<RuleCache>>,
}

/// The ServiceNow Table API and settings, as the runtime's [`IncidentService`].
pub struct ServiceNow {
    api: ServiceNowApi,
    config: ServiceNowConfig,
    context: Context,
    /// Requests whose incident may exist unrecorded (a create without a definite answer, or
    /// a takeover of a lapsed lease): looked up by `correlation_id` before creating again.
    uncertain_creates: UncertainCreates,
}

type RecordClaim<'a> = Claim<'a, IncidentRecord>;

teleport_plugin_runtime::health_check!(
    ServiceNow,
    "ServiceNow API",
    |service| service.api.check_health(),
    "ServiceNow credentials work"
);

impl IncidentService for ServiceNow {
    type Codec = IncidentRecord;
    type Lookup = ServiceNowApi;
    const REVIEW_KIND: &'static str = "work_note";
    const REVIEW_NOTE: &'static str = "review work note";

    fn wants_incident(&self, _request: &AccessRequest, record: &IncidentRecord) -> bool {
        record.incident_id.is_empty()
    }

    async fn open(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
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
        let look_up = self.uncertain_creates.needs_look_up(claim, &request.id);
        if let Some(sys_id) = self.earlier_incident(request, look_up).await? {
            tracing::info!(servicenow_incident_id = %sys_id, "found the incident an unanswered create opened");
            claim.record_effect_with(|next| next.incident_id = sys_id);
            return Ok(());
        }
        let created = self
            .uncertain_creates
            .create(&request.id, effects, claim, "incident", || async {
                Ok::<_, ServiceError>(self.api.create_incident(&incident).await?)
            })
            .await?;
        match created {
            Ok(sys_id) => {
                tracing::info!(servicenow_incident_id = %sys_id, "opened a ServiceNow incident");
                claim.record_effect_with(|next| next.incident_id = sys_id);
            }
            Err(error) => {
                tracing::error!(%error, "cannot open the ServiceNow incident");
            }
        }
        Ok(())
    }

    async fn post_review(&self, sys_id: &str, review: &AccessReview) -> Result<(), ServiceError> {
        Ok(self
            .api
            .add_work_note(sys_id, &render::review_note(review))
            .await?)
    }

    fn on_call(&self) -> OnCall<'_, ServiceNowApi> {
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
            close_incident(
                effects,
                claim,
                CloseCall::Resolve("ServiceNow incident"),
                &sys_id,
                resolution,
                || async { Ok(self.api.resolve_incident(&sys_id, &closing).await?) },
            )
            .await?;
        }
        claim.record_effect_with(|next| next.closed = true);
        Ok(())
    }

    fn finished(&self, request_id: &str) {
        self.uncertain_creates.forget(request_id);
    }
}

impl ServiceNow {
    /// The service calling `api` with `config` for the cluster in `context`.
    pub fn new(api: ServiceNowApi, config: ServiceNowConfig, context: Context) -> Self {
        Self {
            api,
            config,
            context,
            uncertain_creates: UncertainCreates::default(),
        }
    }

    /// The incident an earlier, unanswered create opened, when there may be one.
    async fn earlier_incident(
        &self,
        request: &AccessRequest,
        look_up: bool,
    ) -> Result<Option<String>, StepError> {
        if !look_up {
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
}
