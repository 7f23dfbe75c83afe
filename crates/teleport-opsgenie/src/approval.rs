//! On-call auto-approval: is the requester on call, by the request's `teleport.dev/schedules`
//! annotation, Opsgenie's on-call participants and the configured limits (schedules, allowed
//! roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::{Decision, check_allowed_roles};

use crate::client::{OpsgenieApi, OpsgenieError};
use crate::config::AutoApproval;
use crate::render::approval_reason;

/// The schedules of the annotation that count under `limits`, or why none does.
pub fn schedules_to_check(
    limits: &AutoApproval,
    request: &AccessRequest,
    annotated: &[String],
) -> Result<Vec<String>, String> {
    check_allowed_roles(limits.allowed_roles.as_deref(), request)?;
    let mut schedules: Vec<String> = annotated
        .iter()
        .filter(|s| {
            limits
                .schedules
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(s)))
        })
        .cloned()
        .collect();
    schedules.sort_unstable();
    schedules.dedup();
    if schedules.is_empty() {
        return Err("none of the request's schedules is in auto_approval.schedules".into());
    }
    Ok(schedules)
}

/// The whole check against Opsgenie. Transient errors are returned so the step is retried;
/// everything else ends in a decision.
pub async fn decide(
    api: &OpsgenieApi,
    limits: &AutoApproval,
    request: &AccessRequest,
    annotated: &[String],
) -> Result<Decision, OpsgenieError> {
    let schedules = match schedules_to_check(limits, request, annotated) {
        Ok(schedules) => schedules,
        Err(why) => return Ok(Decision::decline(why)),
    };
    let mut on_call_in = Vec::new();
    for schedule in &schedules {
        match api.on_call(schedule).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(roles: &[&str]) -> AccessRequest {
        teleport_plugin_testsupport::access_request("r1", "alice@example.com", roles, "")
    }

    #[test]
    fn limits_on_roles_and_schedules() {
        let annotated = vec![
            "Primary".to_owned(),
            "Night".to_owned(),
            "Primary".to_owned(),
        ];
        let open = AutoApproval {
            enabled: true,
            ..AutoApproval::default()
        };
        assert_eq!(
            schedules_to_check(&open, &request(&["dev"]), &annotated),
            Ok(vec!["Night".to_owned(), "Primary".to_owned()])
        );
        let limited = AutoApproval {
            enabled: true,
            schedules: Some(vec!["primary".into()]),
            allowed_roles: Some(vec!["dev".into()]),
            dry_run: false,
        };
        assert_eq!(
            schedules_to_check(&limited, &request(&["dev"]), &annotated),
            Ok(vec!["Primary".to_owned()])
        );
        let why =
            schedules_to_check(&limited, &request(&["dev", "admin"]), &annotated).unwrap_err();
        assert!(why.contains("\"admin\""), "{why}");
        assert!(schedules_to_check(&limited, &request(&["dev"]), &["Night".into()]).is_err());
    }
}
