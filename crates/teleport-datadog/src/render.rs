//! The texts the plugin writes to Datadog and Teleport: the incident's title and summary,
//! the timeline cells for reviews and the resolution (the facts Go's plugin writes), and the
//! auto-approval reason.

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::format::{status_label, url_path_segment};
use teleport_plugin_runtime::messaging::Status;
use teleport_plugin_runtime::record::Resolution;

/// `Access request from <user>`.
pub fn incident_title(request: &AccessRequest) -> String {
    format!("Access request from {}", request.user)
}

/// The incident's summary: which request, on which cluster, for whom and what, and where to
/// review it.
pub fn incident_summary(request: &AccessRequest, cluster: &str, web_base: Option<&str>) -> String {
    let mut lines = vec![
        "You have a new Access Request:".to_owned(),
        String::new(),
        format!("ID: {}", request.id),
        format!("Cluster: {cluster}"),
        format!("User: {}", request.user),
        format!("Role(s): {}", request.roles.join(", ")),
    ];
    if !request.resources.is_empty() {
        let resources: Vec<String> = request.resources.iter().map(ToString::to_string).collect();
        lines.push(format!("Resource(s): {}", resources.join(", ")));
    }
    if let Some(base) = web_base {
        lines.push(format!(
            "Link: {}/web/requests/{}",
            base.trim_end_matches('/'),
            url_path_segment(&request.id)
        ));
    }
    lines.join("\n")
}

/// The timeline cell for one review.
pub fn review_cell(review: &AccessReview) -> String {
    let mut text = format!(
        "{} reviewed the request.\nResolution: {}.",
        review.author, review.proposed_state
    );
    if !review.reason.is_empty() {
        text.push_str(&format!("\nReason: {}.", review.reason));
    }
    text
}

/// The timeline cell posted before the incident is resolved.
pub fn resolution_cell(resolution: Resolution, reason: &str) -> String {
    let mut text = format!(
        "Access request is {}",
        status_label(Status::Resolved(resolution))
    );
    if !reason.is_empty() {
        text.push_str(&format!("\nReason: {reason}"));
    }
    text
}

/// The reason of an auto-approval review, in Go's words (audit logs are searched for them).
pub fn approval_reason(user: &str) -> String {
    format!(
        "Access request has been automatically approved by {:?} plugin because user {user:?} is on-call.",
        crate::PLUGIN_NAME
    )
}
