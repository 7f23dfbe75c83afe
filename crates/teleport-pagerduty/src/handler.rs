//! PagerDuty as the runtime's [`IncidentService`]: an incident per request on the service
//! the notify annotation names, a note per review, and on resolution a note and then the
//! incident resolved. The order of the work, the leases and the auto-approval are the
//! runtime's [`IncidentHandler`].
//!
//! PagerDuty itself refuses a second open incident with the request's `incident_key`, which
//! covers the one gap left: an incident created just before a crash, before its ID was
//! recorded; closing looks such an incident up by that key.

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::incident::effects::{CloseCall, close_incident, post_note};
use teleport_plugin_runtime::incident::{IncidentHandler, IncidentService, OnCall};
use teleport_plugin_runtime::record::{Claim, Effects, Resolution, StepError};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{NewIncident, PagerDutyApi, PagerDutyError};
use crate::config::{AutoApproval, PagerDutyConfig};
use crate::record::{CloseProgress, IncidentRecord};
use crate::render;

/// The PagerDuty plugin's request handler.
pub type PagerDutyHandler = IncidentHandler<PagerDuty>;

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
}

impl HandlerOptions {
    /// Options from the validated `[pagerduty]` section.
    pub fn new(config: &PagerDutyConfig, web_base: Option<String>) -> Self {
        Self {
            notify_service_annotation: config.notify_service_annotation.clone(),
            services_annotation: config.services_annotation.clone(),
            auto_approval: config.auto_approval.clone(),
            web_base,
        }
    }
}

/// The PagerDuty API and settings, as the runtime's [`IncidentService`].
pub struct PagerDuty {
    api: PagerDutyApi,
    options: HandlerOptions,
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

impl HealthCheck for PagerDuty {
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

impl IncidentService for PagerDuty {
    type Codec = IncidentRecord;
    type Lookup = PagerDutyApi;
    const REVIEW_KIND: &'static str = "note";
    const REVIEW_NOTE: &'static str = "review note";

    fn concerns(&self, request: &AccessRequest) -> bool {
        self.notify_service(request).is_some() || self.on_call().targets(request).is_some()
    }

    fn wants_incident(&self, request: &AccessRequest, record: &IncidentRecord) -> bool {
        record.incident_id.is_empty() && self.notify_service(request).is_some()
    }

    async fn open(
        &self,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<(), StepError> {
        let Some(service_name) = self.notify_service(request) else {
            return Ok(());
        };
        if claim.service_id.is_empty() {
            let service = match self.api.find_service_by_name(&service_name).await {
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
            // Recorded before the incident is created (by `before_effect`): a record with a
            // service and no incident may have an open incident to look for.
            claim.record_effect_with(|next| next.service_id = service.id);
        }
        let new = NewIncident {
            title: render::incident_title(request),
            service_id: claim.service_id.clone(),
            incident_key: IncidentRecord::incident_key(&request.id),
            details: render::incident_details(request, self.options.web_base.as_deref()),
        };
        match effects
            .run(claim, "incident", || async {
                Ok::<_, ServiceError>(self.api.create_incident(&new).await?)
            })
            .await?
        {
            Ok(incident) => {
                tracing::info!(pd_incident_id = %incident.id, pd_service_id = %claim.service_id, "opened a PagerDuty incident");
                claim.record_effect_with(|next| next.incident_id = incident.id);
            }
            Err(error) => {
                tracing::error!(service = service_name, %error, "cannot open the PagerDuty incident");
            }
        }
        Ok(())
    }

    async fn post_review(
        &self,
        incident_id: &str,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
        Ok(self
            .api
            .add_note(incident_id, &render::review_note(review))
            .await?)
    }

    fn on_call(&self) -> OnCall<'_, PagerDutyApi> {
        self.options
            .auto_approval
            .on_call(&self.api, &self.options.services_annotation)
    }

    async fn close(
        &self,
        request_id: &str,
        resolution: Resolution,
        claim: &mut RecordClaim<'_>,
        effects: &Effects,
    ) -> Result<(), StepError> {
        if claim.close_progress == CloseProgress::Pending && claim.incident_id.is_empty() {
            // A service was chosen, so an incident may exist whose ID was never recorded.
            let found = if claim.service_id.is_empty() {
                None
            } else {
                match self
                    .api
                    .find_open_incident(
                        &IncidentRecord::incident_key(request_id),
                        &claim.service_id,
                    )
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
            let incident_id = claim.incident_id.clone();
            let note = render::resolution_note(resolution, &claim.request.resolve_reason);
            post_note(
                effects,
                claim,
                "note",
                "resolution note",
                &incident_id,
                || async { Ok(self.api.add_note(&incident_id, &note).await?) },
            )
            .await?;
            claim.record_effect_with(|next| next.close_progress = CloseProgress::Noted);
        }
        if claim.close_progress == CloseProgress::Noted {
            let incident_id = claim.incident_id.clone();
            close_incident(
                effects,
                claim,
                CloseCall::Resolve("PagerDuty incident"),
                &incident_id,
                resolution,
                || async { Ok(self.api.resolve_incident(&incident_id).await?) },
            )
            .await?;
            claim.record_effect_with(|next| next.close_progress = CloseProgress::Done);
        }
        Ok(())
    }
}

impl PagerDuty {
    /// The service calling `api` with `options`.
    pub fn new(api: PagerDutyApi, options: HandlerOptions) -> Self {
        Self { api, options }
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
}
