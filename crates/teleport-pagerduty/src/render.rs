//! The texts the plugin writes to PagerDuty and Teleport: incident title and body, review
//! and resolution notes (the Go plugin's wording), and the auto-approval reason.

use teleport_client::AccessRequest;
use teleport_plugin_runtime::format::request_link;
use teleport_plugin_runtime::incident::render::request_details;
/// The review and resolution notes, worded as Go's PagerDuty and Opsgenie plugins do.
pub use teleport_plugin_runtime::incident::render::{resolution_note, review_note};

/// Go's `time.RFC822` layout, in UTC (the messaging plugins' wording too).
pub use teleport_plugin_runtime::format::rfc822;

/// `Access request from <user>`.
pub fn incident_title(request: &AccessRequest) -> String {
    format!("Access request from {}", request.user)
}

/// The incident body: who wants what and why, and where to review it.
pub fn incident_details(request: &AccessRequest, web_base: Option<&str>) -> String {
    let link = web_base.map(|base| request_link(base, &request.id));
    request_details(request, link.as_deref())
}

/// One service the requester is on call for, as the approval reason names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnCallIn {
    /// The service name.
    pub service: String,
    /// The escalation level.
    pub escalation_level: u32,
    /// The schedule name, when the user is on call through one.
    pub schedule: Option<String>,
}

/// The reason of an auto-approval review, in the Go plugin's exact words (audit logs are
/// parsed): the PagerDuty user's name and e-mail and the services, comma-joined.
pub fn approval_reason(user_name: &str, email: &str, on_call: &[OnCallIn]) -> String {
    let services: Vec<&str> = on_call.iter().map(|o| o.service.as_str()).collect();
    format!(
        "Access requested by user {user_name} ({email}) who is on call in service(s) {}",
        services.join(",")
    )
}

/// Where the requester is on call, with escalation levels and schedules, for the log.
pub fn on_call_summary(on_call: &[OnCallIn]) -> String {
    on_call
        .iter()
        .map(|o| match &o.schedule {
            Some(schedule) => format!(
                "{} (escalation level {}, schedule {schedule})",
                o.service, o.escalation_level
            ),
            None => format!("{} (escalation level {})", o.service, o.escalation_level),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
