//! On-call auto-approval: is the requester on call, by the request's `teleport.dev/schedules`
//! annotation (ServiceNow on-call rota `sys_id`s), ServiceNow's `whoisoncall` and user
//! records, and the configured limits (rotas, allowed roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::{Decision, check_allowed_roles};
use time::OffsetDateTime;

use crate::client::{DATE_TIME_LAYOUT, ServiceNowApi, ServiceNowError};
use crate::config::AutoApproval;
use crate::render::approval_reason;

/// The rotas of the annotation that count under `limits`, or why none does.
pub fn rotas_to_check(
    limits: &AutoApproval,
    request: &AccessRequest,
    annotated: &[String],
) -> Result<Vec<String>, String> {
    check_allowed_roles(limits.allowed_roles.as_deref(), request)?;
    let mut rotas: Vec<String> = annotated
        .iter()
        .filter(|r| {
            limits
                .rotas
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(r)))
        })
        .cloned()
        .collect();
    rotas.sort_unstable();
    rotas.dedup();
    if rotas.is_empty() {
        return Err("none of the request's rotas is in auto_approval.rotas".into());
    }
    Ok(rotas)
}

/// Now, as `whoisoncall` reads `date_time` (UTC, as the hosted Go plugin's clock).
pub fn now_date_time() -> String {
    OffsetDateTime::now_utc()
        .format(DATE_TIME_LAYOUT)
        .unwrap_or_default()
}

/// Whether `user` is on call in `rota` now. Transient errors are returned so the step is
/// retried; a rota or user that cannot be read counts as "not on call", logged.
async fn on_call_in(api: &ServiceNowApi, rota: &str, user: &str) -> Result<bool, ServiceNowError> {
    let user_ids = match api.on_call_users(rota, &now_date_time()).await {
        Ok(ids) => ids,
        Err(error) if error.is_transient() => return Err(error),
        Err(error) => {
            tracing::warn!(rota = %rota, %error, "cannot read who is on call in this ServiceNow rota");
            return Ok(false);
        }
    };
    if user_ids.is_empty() {
        tracing::debug!(rota = %rota, "nobody is on call in this ServiceNow rota");
    }
    for user_id in &user_ids {
        match api.user_name(user_id).await {
            // Exact, as Go compares: ServiceNow's user name is the Teleport user name.
            Ok(name) if name == user => return Ok(true),
            Ok(_) => {}
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => {
                tracing::warn!(rota = %rota, user_id = %user_id, %error, "cannot read an on-call ServiceNow user");
            }
        }
    }
    Ok(false)
}

/// The whole check against ServiceNow. Transient errors are returned so the step is
/// retried; everything else ends in a decision.
pub async fn decide(
    api: &ServiceNowApi,
    limits: &AutoApproval,
    request: &AccessRequest,
    annotated: &[String],
) -> Result<Decision, ServiceNowError> {
    let rotas = match rotas_to_check(limits, request, annotated) {
        Ok(rotas) => rotas,
        Err(why) => return Ok(Decision::decline(why)),
    };
    let mut on_call = Vec::new();
    for rota in &rotas {
        if on_call_in(api, rota, &request.user).await? {
            on_call.push(rota.clone());
        }
    }
    if on_call.is_empty() {
        return Ok(Decision::decline(format!(
            "{} is not on call in rota(s) {}",
            request.user,
            rotas.join(", ")
        )));
    }
    Ok(Decision::Approve {
        reason: approval_reason(&request.user, &on_call),
        on_call: format!("rota(s) {}", on_call.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(roles: &[&str]) -> AccessRequest {
        teleport_plugin_testsupport::access_request("r1", "alice", roles, "")
    }

    #[test]
    fn limits_on_roles_and_rotas() {
        let annotated = vec![
            "rota-b".to_owned(),
            "rota-a".to_owned(),
            "rota-b".to_owned(),
        ];
        let open = AutoApproval {
            enabled: true,
            ..AutoApproval::default()
        };
        assert_eq!(
            rotas_to_check(&open, &request(&["dev"]), &annotated),
            Ok(vec!["rota-a".to_owned(), "rota-b".to_owned()])
        );
        let limited = AutoApproval {
            enabled: true,
            rotas: Some(vec!["ROTA-A".into()]),
            allowed_roles: Some(vec!["dev".into()]),
            dry_run: false,
        };
        assert_eq!(
            rotas_to_check(&limited, &request(&["dev"]), &annotated),
            Ok(vec!["rota-a".to_owned()])
        );
        let why = rotas_to_check(&limited, &request(&["dev", "admin"]), &annotated).unwrap_err();
        assert!(why.contains("\"admin\""), "{why}");
        assert!(rotas_to_check(&limited, &request(&["dev"]), &["rota-b".into()]).is_err());
        assert!(rotas_to_check(&limited, &request(&[]), &annotated).is_err());
    }

    #[test]
    fn date_time_is_go_s_layout() {
        let text = now_date_time();
        assert_eq!(text.len(), 19, "{text}");
        assert_eq!(&text[10..11], " ");
    }
}
