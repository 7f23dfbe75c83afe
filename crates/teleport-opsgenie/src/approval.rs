//! On-call auto-approval: is the requester on call, by the request's `teleport.dev/schedules`
//! annotation, Opsgenie's on-call participants and the configured limits (schedules, allowed
//! roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::Decision;
use teleport_plugin_runtime::incident::OnCallLookup;

use crate::client::{OpsgenieApi, OpsgenieError};
use crate::config::{AutoApproval, OpsgenieLimits};
use crate::render::approval_reason;

impl OnCallLookup for OpsgenieApi {
    type Limits = OpsgenieLimits;
    type Error = OpsgenieError;

    /// The whole check against Opsgenie. Transient errors are returned so the step is retried;
    /// everything else ends in a decision.
    async fn decide(
        &self,
        limits: &AutoApproval,
        request: &AccessRequest,
        annotated: &[String],
    ) -> Result<Decision, OpsgenieError> {
        let schedules = match limits.targets_to_check(request, annotated) {
            Ok(schedules) => schedules,
            Err(why) => return Ok(Decision::decline(why)),
        };
        let mut on_call_in = Vec::new();
        for schedule in &schedules {
            match self.on_call(schedule).await {
                Ok(people) => {
                    if people.iter().any(|p| p.eq_ignore_ascii_case(&request.user)) {
                        on_call_in.push(schedule.clone());
                    }
                }
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => {
                    tracing::warn!(schedule = %schedule, %error, "cannot read who is on call in this Opsgenie schedule");
                }
            }
        }
        if on_call_in.is_empty() {
            return Ok(Decision::decline(format!(
                "{} is not on call in schedule(s) {}",
                request.user,
                schedules.join(", ")
            )));
        }
        Ok(Decision::Approve {
            reason: approval_reason(&request.user, &on_call_in),
            on_call: format!("schedule(s) {}", on_call_in.join(", ")),
        })
    }
}
