//! The texts the plugin writes to Opsgenie and Teleport: alert title and description, review
//! and resolution notes (the Go plugin's wording), and the auto-approval reason.

use teleport_client::AccessRequest;
use teleport_plugin_runtime::format::request_link;
pub use teleport_plugin_runtime::format::rfc822;
use teleport_plugin_runtime::incident::render::request_details;
/// The review and resolution notes, worded as Go's PagerDuty and Opsgenie plugins do.
pub use teleport_plugin_runtime::incident::render::{resolution_note, review_note};

/// `Access request from <user>` (Opsgenie's `message`, at most 130 characters).
pub fn alert_message(request: &AccessRequest) -> String {
    let text = format!("Access request from {}", request.user);
    if text.chars().count() <= 130 {
        text
    } else {
        text.chars().take(127).chain("...".chars()).collect()
    }
}

/// The alert description: who wants what and why, and where to review it.
pub fn alert_description(request: &AccessRequest, web_base: Option<&str>) -> String {
    let link = web_base.map(|base| request_link(base, &request.id));
    request_details(request, link.as_deref())
}

/// The reason of an auto-approval review.
pub fn approval_reason(user: &str, schedules: &[String]) -> String {
    format!(
        "Access requested by user {user} who is on call on schedule(s) {}",
        schedules.join(", ")
    )
}
