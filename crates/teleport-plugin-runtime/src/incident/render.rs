//! Texts Go's PagerDuty and Opsgenie plugins word alike: the incident's (alert's) body, a
//! review's note and the note a resolved request's incident gets. Kept byte for byte; each
//! plugin re-exports or wraps them in its own `render.rs`.

use teleport_client::{AccessRequest, AccessReview};

use crate::format::rfc822;
use crate::record::Resolution;

/// The incident's body: who wants what and why, and `link` (the request in Teleport's web
/// UI, each plugin escaping its ID as its Go plugin does) to review it.
pub fn request_details(request: &AccessRequest, link: Option<&str>) -> String {
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
    if let Some(link) = link {
        lines.push(format!("To approve or deny the request, proceed to {link}"));
    }
    lines.join("\n")
}

/// The note for one review: `<author> reviewed the request at <RFC 822>.`, the proposed
/// state, and the reason when there is one.
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

/// The note of the resolution: `Access request has been <resolution>` and the reason.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_note_names_the_outcome_in_lower_case_and_the_reason() {
        assert_eq!(
            resolution_note(Resolution::Denied, ""),
            "Access request has been denied"
        );
        assert_eq!(
            resolution_note(Resolution::Approved, "ok"),
            "Access request has been approved\nReason: ok"
        );
    }
}
