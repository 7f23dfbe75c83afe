//! On-call auto-approval: is the requester on call, by the request's `teleport.dev/schedules`
//! annotation (Datadog On-Call team handles or names, as Go reads it), Datadog's on-call
//! teams and the configured limits (teams, allowed roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::Decision;
use teleport_plugin_runtime::incident::OnCallLookup;

use crate::client::{DatadogApi, DatadogError, OnCallTeam};
use crate::config::{AutoApproval, DatadogLimits};
use crate::render::approval_reason;

/// The teams among `on_call` that `wanted` names (by handle or name, as Go matches) and in
/// which `user` is on call (e-mail, any case), by handle.
pub fn on_call_in(on_call: &[OnCallTeam], wanted: &[String], user: &str) -> Vec<String> {
    on_call
        .iter()
        .filter(|team| wanted.iter().any(|w| *w == team.handle || *w == team.name))
        .filter(|team| team.on_call.iter().any(|e| e.eq_ignore_ascii_case(user)))
        .map(|team| team.handle.clone())
        .collect()
}

impl OnCallLookup for DatadogApi {
    type Limits = DatadogLimits;
    type Error = DatadogError;

    /// The whole check against Datadog. Transient errors are returned so the step is retried;
    /// everything else ends in a decision.
    async fn decide(
        &self,
        limits: &AutoApproval,
        request: &AccessRequest,
        annotated: &[String],
    ) -> Result<Decision, DatadogError> {
        let teams = match limits.targets_to_check(request, annotated) {
            Ok(teams) => teams,
            Err(why) => return Ok(Decision::decline(why)),
        };
        let on_call = match self.on_call_teams().await {
            Ok(on_call) => on_call,
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => {
                return Ok(Decision::decline(format!(
                    "cannot read Datadog's on-call teams: {error}"
                )));
            }
        };
        let found = on_call_in(&on_call, &teams, &request.user);
        if found.is_empty() {
            return Ok(Decision::decline(format!(
                "{} is not on call in team(s) {}",
                request.user,
                teams.join(", ")
            )));
        }
        Ok(Decision::Approve {
            reason: approval_reason(&request.user),
            on_call: format!("Datadog team(s) {}", found.join(", ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_match_by_handle_or_name() {
        let teams = vec![
            OnCallTeam {
                name: "Site Reliability".into(),
                handle: "sre".into(),
                on_call: vec!["Alice@Example.com".into()],
            },
            OnCallTeam {
                name: "Night".into(),
                handle: "night".into(),
                on_call: vec!["bob@example.com".into()],
            },
        ];
        let user = "alice@example.com";
        assert_eq!(on_call_in(&teams, &["sre".into()], user), ["sre"]);
        assert_eq!(
            on_call_in(&teams, &["Site Reliability".into()], user),
            ["sre"]
        );
        assert!(on_call_in(&teams, &["Night".into()], user).is_empty());
        assert!(on_call_in(&teams, &["SRE".into()], user).is_empty());
    }
}
