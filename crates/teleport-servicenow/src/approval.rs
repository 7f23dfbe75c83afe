//! On-call auto-approval: is the requester on call, by the request's `teleport.dev/schedules`
//! annotation (ServiceNow on-call rota `sys_id`s), ServiceNow's `whoisoncall` and user
//! records, and the configured limits (rotas, allowed roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::Decision;
use teleport_plugin_runtime::incident::OnCallLookup;
use time::OffsetDateTime;

use crate::client::{DATE_TIME_LAYOUT, ServiceNowApi, ServiceNowError};
use crate::config::{AutoApproval, ServiceNowLimits};
use crate::render::approval_reason;

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

impl OnCallLookup for ServiceNowApi {
    type Limits = ServiceNowLimits;
    type Error = ServiceNowError;

    /// The whole check against ServiceNow. Transient errors are returned so the step is
    /// retried; everything else ends in a decision.
    async fn decide(
        &self,
        limits: &AutoApproval,
        request: &AccessRequest,
        annotated: &[String],
    ) -> Result<Decision, ServiceNowError> {
        let rotas = match limits.targets_to_check(request, annotated) {
            Ok(rotas) => rotas,
            Err(why) => return Ok(Decision::decline(why)),
        };
        let mut on_call = Vec::new();
        for rota in &rotas {
            if on_call_in(self, rota, &request.user).await? {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_is_go_s_layout() {
        let text = now_date_time();
        assert_eq!(text.len(), 19, "{text}");
        assert_eq!(&text[10..11], " ");
    }
}
