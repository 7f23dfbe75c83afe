//! Mattermost Markdown for access requests, worded like the Go plugin's posts and comments.

use teleport_client::AccessReview;
pub use teleport_plugin_runtime::format::{markdown_escape, rfc822, status_label};
use teleport_plugin_runtime::format::{
    proposed_state_label, review_fields, review_time, status_field, status_tag,
};
use teleport_plugin_runtime::messaging::{RequestView, Status};

/// Limit for the request, resolution and review reasons (Go plugin), in characters.
pub const REASON_LIMIT: usize = 500;

/// The request post: the same shape on creation and on every edit.
pub fn request_post(view: &RequestView) -> String {
    let request = &view.request;
    let pending = view.status == Status::Pending;
    let mut lines = Vec::new();
    if pending {
        lines.push("*You have new pending request to review!*".to_owned());
    }
    lines.push(format!("**User**: {}", request.user));
    lines.push(format!("**Roles**: {}", request.roles.join(", ")));
    lines.push(format!("**Request ID**: {}", request.id));
    if !request.request_reason.is_empty() {
        lines.push(format!(
            "**Reason**: {}",
            markdown_escape(&request.request_reason, REASON_LIMIT)
        ));
    }
    // Go's template writes `{{.StatusEmoji}} {{.Status}}`: PROMOTED gets two spaces.
    lines.push(format!("**Status**: {}", status_field(view.status)));
    if !view.resolve_reason.is_empty() {
        lines.push(format!(
            "**Resolution reason**: {}",
            markdown_escape(&view.resolve_reason, REASON_LIMIT)
        ));
    }
    for review in review_fields(view.link(), view.status, &request.id) {
        let text = if review.is_command {
            review.markdown()
        } else {
            format!("[{0}]({0})", review.text)
        };
        lines.push(format!("**{}**: {text}", review.name));
    }
    lines.join("\n")
}

/// The thread comment for one review.
pub fn review_comment(review: &AccessReview) -> String {
    let mut out = format!(
        "{} reviewed the request at {}.\nResolution: {}.",
        review.author,
        review_time(review.created),
        proposed_state_label(review.proposed_state),
    );
    if !review.reason.is_empty() {
        out.push_str(&format!(
            "\nReason: {}.",
            markdown_escape(&review.reason, REASON_LIMIT)
        ));
    }
    out
}

/// The direct message telling the requester the decision.
pub fn requester_notice(view: &RequestView) -> String {
    let mut out = format!(
        "Request with ID `{}` has been updated: **{}**",
        view.request.id,
        status_tag(view.status)
    );
    if !view.resolve_reason.is_empty() {
        out.push_str(&format!(
            "\n**Resolution reason**: {}",
            markdown_escape(&view.resolve_reason, REASON_LIMIT)
        ));
    }
    if let Some(link) = view.link() {
        out.push_str(&format!("\n**Link**: [{link}]({link})"));
    }
    out
}
