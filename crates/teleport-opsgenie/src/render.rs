//! The texts the plugin writes to Opsgenie and Teleport: alert title and description, review
//! and resolution notes (the Go plugin's wording), and the auto-approval reason.

use teleport_client::{AccessRequest, AccessReview};
pub use teleport_plugin_runtime::format::rfc822;
use teleport_plugin_runtime::format::url_path_segment;
use teleport_plugin_runtime::record::Resolution;

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
    let when = request
        .created
        .map(|at| format!(" at {}", rfc822(at)))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "{} requested permissions for roles {} on Teleport{when}.",
        request.user,
        request.roles.join(", ")
    )];
    if !request.request_reason.is_empty() {
        lines.push(format!("Reason: {}", request.request_reason));
    }
    if !request.resources.is_empty() {
        let resources: Vec<String> = request.resources.iter().map(ToString::to_string).collect();
        lines.push(format!("Resources: {}", resources.join(", ")));
    }
    if let Some(base) = web_base {
        lines.push(format!(
            "To approve or deny the request, proceed to {}/web/requests/{}",
            base.trim_end_matches('/'),
            url_path_segment(&request.id)
        ));
    }
    lines.join("\n")
}

/// The note for one review.
pub fn review_note(review: &AccessReview) -> String {
    let when = review
        .created
        .map(|at| format!(" at {}", rfc822(at)))
        .unwrap_or_default();
    let mut text = format!(
        "{} reviewed the request{when}.\nResolution: {}.",
        review.author, review.proposed_state
    );
    if !review.reason.is_empty() {
        text.push_str(&format!("\nReason: {}.", review.reason));
    }
    text
}

/// The note the alert is closed with.
pub fn resolution_note(resolution: Resolution, reason: &str) -> String {
    let mut text = format!(
        "Access request has been {}",
        resolution.as_str().to_ascii_lowercase()
    );
    if !reason.is_empty() {
        text.push_str(&format!("\nReason: {reason}"));
    }
    text
}

/// The reason of an auto-approval review.
pub fn approval_reason(user: &str, schedules: &[String]) -> String {
    format!(
        "Access requested by user {user} who is on call on schedule(s) {}",
        schedules.join(", ")
    )
}
