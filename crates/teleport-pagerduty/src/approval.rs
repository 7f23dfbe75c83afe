//! On-call auto-approval: does the requester qualify, by the services annotation, PagerDuty's
//! on-call data and the configured limits (escalation level, schedules, allowed roles)?

use teleport_client::AccessRequest;
use teleport_plugin_runtime::approval::Decision;
use teleport_plugin_runtime::config::is_plain_email;
use teleport_plugin_runtime::incident::OnCallLookup;

use crate::client::{OnCall, PagerDutyApi, PagerDutyError, Service};
use crate::config::{AutoApproval, PagerDutyLimits};
use crate::render::{OnCallIn, approval_reason, on_call_summary};

/// Checks what can be checked without PagerDuty: the requester is an e-mail and every
/// requested role is allowed.
pub fn precheck(auto_approval: &AutoApproval, request: &AccessRequest) -> Result<(), String> {
    if !is_plain_email(&request.user) {
        return Err(format!(
            "the requester {:?} is not an e-mail address, so cannot be matched to a PagerDuty user",
            request.user
        ));
    }
    auto_approval.check_roles(request)
}

/// Why `entry` does not count under `limits`, if it does not.
pub fn outside_limits(limits: &PagerDutyLimits, entry: &OnCall) -> Option<String> {
    if let Some(max) = limits.max_escalation_level
        && entry.escalation_level > max
    {
        return Some(format!(
            "escalation level {} is above max_escalation_level {max}",
            entry.escalation_level
        ));
    }
    if let Some(schedules) = &limits.schedules {
        let matches = entry.schedule.as_ref().is_some_and(|s| {
            schedules
                .iter()
                .any(|want| want.eq_ignore_ascii_case(&s.summary) || *want == s.id)
        });
        if !matches {
            let through = entry
                .schedule
                .as_ref()
                .map(|s| format!("schedule {}", s.summary))
                .unwrap_or_else(|| "no schedule".to_owned());
            return Some(format!("on call through {through}, not one of schedules"));
        }
    }
    None
}

/// The services the requester is on call for within `limits`, best level first per service;
/// and, for the log, why other on-call entries did not count.
pub fn qualifying(
    limits: &PagerDutyLimits,
    services: &[Service],
    entries: &[OnCall],
) -> (Vec<OnCallIn>, Vec<String>) {
    let mut on_call = Vec::new();
    let mut excluded = Vec::new();
    for service in services {
        let mut candidates: Vec<&OnCall> = entries
            .iter()
            .filter(|e| e.escalation_policy.id == service.escalation_policy.id)
            .collect();
        candidates.sort_by_key(|e| e.escalation_level);
        for entry in candidates {
            match outside_limits(limits, entry) {
                None => {
                    on_call.push(OnCallIn {
                        service: service.name.clone(),
                        escalation_level: entry.escalation_level,
                        schedule: entry.schedule.as_ref().map(|s| s.summary.clone()),
                    });
                    break;
                }
                Some(why) => excluded.push(format!("{}: {why}", service.name)),
            }
        }
    }
    (on_call, excluded)
}

impl OnCallLookup for PagerDutyApi {
    type Limits = PagerDutyLimits;
    type Error = PagerDutyError;

    /// The whole check against PagerDuty. Transient PagerDuty errors are returned so the step
    /// is retried; everything else ends in a decision.
    async fn decide(
        &self,
        auto_approval: &AutoApproval,
        request: &AccessRequest,
        service_names: &[String],
    ) -> Result<Decision, PagerDutyError> {
        if let Err(why) = precheck(auto_approval, request) {
            return Ok(Decision::decline(why));
        }
        let Some(user) = self.find_user_by_email(&request.user).await? else {
            return Ok(Decision::decline(format!(
                "no PagerDuty user has the e-mail {}",
                request.user
            )));
        };
        let mut names: Vec<&str> = service_names
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut services = Vec::new();
        for name in names {
            match self.find_service_by_name(name).await? {
                Some(service) => services.push(service),
                None => tracing::warn!(
                    service = name,
                    "PagerDuty service named in the services annotation not found"
                ),
            }
        }
        if services.is_empty() {
            return Ok(Decision::decline(
                "none of the services in the annotation exist in PagerDuty",
            ));
        }
        let mut policies: Vec<String> = services
            .iter()
            .map(|s| s.escalation_policy.id.clone())
            .filter(|id| !id.is_empty())
            .collect();
        policies.sort_unstable();
        policies.dedup();
        let entries = self.on_calls(&user.id, &policies).await?;
        let (on_call, excluded) = qualifying(&auto_approval.limits, &services, &entries);
        if on_call.is_empty() {
            let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
            return Ok(Decision::decline(if excluded.is_empty() {
                format!(
                    "{} is not on call in service(s) {}",
                    request.user,
                    names.join(", ")
                )
            } else {
                format!(
                    "{} is on call only outside the auto-approval limits ({})",
                    request.user,
                    excluded.join("; ")
                )
            }));
        }
        Ok(Decision::Approve {
            reason: approval_reason(&user.name, &request.user, &on_call),
            on_call: on_call_summary(&on_call),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Reference;

    fn entry(policy: &str, level: u32, schedule: Option<(&str, &str)>) -> OnCall {
        OnCall {
            user: Reference {
                id: "PU1".into(),
                kind: "user_reference".into(),
                summary: "Alice".into(),
            },
            escalation_policy: Reference {
                id: policy.into(),
                ..Reference::default()
            },
            escalation_level: level,
            schedule: schedule.map(|(id, name)| Reference {
                id: id.into(),
                kind: "schedule_reference".into(),
                summary: name.into(),
            }),
        }
    }

    fn service(name: &str, policy: &str) -> Service {
        Service {
            id: format!("S-{name}"),
            name: name.into(),
            escalation_policy: Reference {
                id: policy.into(),
                ..Reference::default()
            },
        }
    }

    fn request(user: &str, roles: &[&str]) -> AccessRequest {
        AccessRequest {
            id: "r1".into(),
            user: user.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            state: teleport_client::RequestState::Pending,
            ..Default::default()
        }
    }

    #[test]
    fn precheck_needs_an_email_and_allowed_roles() {
        let open = AutoApproval::default();
        assert!(precheck(&open, &request("alice@example.com", &["dev"])).is_ok());
        assert!(precheck(&open, &request("alice", &["dev"])).is_err());
        let limited = AutoApproval {
            allowed_roles: Some(vec!["dev".into(), "ops".into()]),
            ..AutoApproval::default()
        };
        assert!(precheck(&limited, &request("a@example.com", &["ops", "dev"])).is_ok());
        let why = precheck(&limited, &request("a@example.com", &["dev", "admin"])).unwrap_err();
        assert!(why.contains("\"admin\""), "{why}");
        assert!(precheck(&limited, &request("a@example.com", &[])).is_err());
    }

    #[test]
    fn limits_on_level_and_schedule() {
        let level = PagerDutyLimits {
            max_escalation_level: Some(2),
            ..PagerDutyLimits::default()
        };
        assert_eq!(outside_limits(&level, &entry("P", 2, None)), None);
        assert!(outside_limits(&level, &entry("P", 3, None)).is_some());

        let schedules = PagerDutyLimits {
            schedules: Some(vec!["primary".into(), "PSCHED9".into()]),
            ..PagerDutyLimits::default()
        };
        assert_eq!(
            outside_limits(&schedules, &entry("P", 5, Some(("X", "Primary")))),
            None
        );
        assert_eq!(
            outside_limits(&schedules, &entry("P", 1, Some(("PSCHED9", "Night")))),
            None
        );
        assert!(outside_limits(&schedules, &entry("P", 1, Some(("X", "Secondary")))).is_some());
        assert!(outside_limits(&schedules, &entry("P", 1, None)).is_some());
    }

    #[test]
    fn qualifying_takes_the_best_allowed_level_per_service() {
        let limits = PagerDutyLimits {
            max_escalation_level: Some(2),
            ..PagerDutyLimits::default()
        };
        let services = [
            service("one", "EP1"),
            service("two", "EP2"),
            service("three", "EP3"),
        ];
        let entries = [
            entry("EP1", 3, None),
            entry("EP1", 2, Some(("S1", "Primary"))),
            entry("EP2", 4, None),
        ];
        let (on_call, excluded) = qualifying(&limits, &services, &entries);
        assert_eq!(
            on_call,
            [OnCallIn {
                service: "one".into(),
                escalation_level: 2,
                schedule: Some("Primary".into()),
            }]
        );
        assert_eq!(excluded.len(), 1);
        assert!(
            excluded[0].starts_with("two: escalation level 4"),
            "{excluded:?}"
        );
    }
}
