//! On-call auto-approval: is the requester on call, by the request's `teleport.dev/schedules`
//! annotation (Datadog On-Call team handles or names, as Go reads it), Datadog's on-call
//! teams and the configured limits (teams, allowed roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::{Decision, check_allowed_roles};

use crate::client::{DatadogApi, DatadogError, OnCallTeam};
use crate::config::AutoApproval;
use crate::render::approval_reason;

/// The teams of the annotation that count under `limits`, or why none does.
pub fn teams_to_check(
    limits: &AutoApproval,
    request: &AccessRequest,
    annotated: &[String],
) -> Result<Vec<String>, String> {
    check_allowed_roles(limits.allowed_roles.as_deref(), request)?;
    let mut teams: Vec<String> = annotated
        .iter()
        .filter(|t| {
            limits
                .teams
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(t)))
        })
        .cloned()
        .collect();
    teams.sort_unstable();
    teams.dedup();
    if teams.is_empty() {
        return Err("none of the request's teams is in auto_approval.teams".into());
    }
    Ok(teams)
}

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

/// The whole check against Datadog. Transient errors are returned so the step is retried;
/// everything else ends in a decision.
pub async fn decide(
    api: &DatadogApi,
    limits: &AutoApproval,
    request: &AccessRequest,
    annotated: &[String],
) -> Result<Decision, DatadogError> {
    let teams = match teams_to_check(limits, request, annotated) {
        Ok(teams) => teams,
        Err(why) => return Ok(Decision::decline(why)),
    };
    let on_call = match api.on_call_teams().await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(roles: &[&str]) -> AccessRequest {
        teleport_plugin_testsupport::access_request("r1", "alice@example.com", roles, "")
    }

    #[test]
    fn limits_on_roles_and_teams() {
        let annotated = vec!["sre".to_owned(), "Night".to_owned(), "sre".to_owned()];
        let open = AutoApproval {
            enabled: true,
            ..AutoApproval::default()
        };
        assert_eq!(
            teams_to_check(&open, &request(&["dev"]), &annotated),
            Ok(vec!["Night".to_owned(), "sre".to_owned()])
        );
        let limited = AutoApproval {
            enabled: true,
            teams: Some(vec!["SRE".into()]),
            allowed_roles: Some(vec!["dev".into()]),
            dry_run: false,
        };
        assert_eq!(
            teams_to_check(&limited, &request(&["dev"]), &annotated),
            Ok(vec!["sre".to_owned()])
        );
        let why = teams_to_check(&limited, &request(&["dev", "admin"]), &annotated).unwrap_err();
        assert!(why.contains("\"admin\""), "{why}");
        assert!(teams_to_check(&limited, &request(&["dev"]), &["Night".into()]).is_err());
    }

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
