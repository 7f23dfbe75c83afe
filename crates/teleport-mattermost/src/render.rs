//! Mattermost Markdown for access requests, worded like the Go plugin's posts and comments.

use teleport_client::{AccessReview, RequestState};
use teleport_plugin_runtime::messaging::{RequestView, Status};
use teleport_plugin_runtime::state::Resolution;
use time::OffsetDateTime;
use time::macros::format_description;

/// Limit for the request, resolution and review reasons (Go plugin), in characters.
pub const REASON_LIMIT: usize = 500;

const TRUNCATED: &str = " (truncated)";

/// The status word and its emoji, as in the Go plugin (`PROMOTED` has no emoji).
pub fn status_label(status: Status) -> String {
    let (emoji, tag) = match status {
        Status::Pending => (Some("⏳"), "PENDING"),
        Status::Resolved(Resolution::Approved) => (Some("✅"), "APPROVED"),
        Status::Resolved(Resolution::Denied) => (Some("❌"), "DENIED"),
        Status::Resolved(Resolution::Expired) => (Some("⌛"), "EXPIRED"),
        Status::Resolved(Resolution::Promoted) => (None, "PROMOTED"),
    };
    match emoji {
        Some(emoji) => format!("{emoji} {tag}"),
        None => tag.to_owned(),
    }
}

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
    lines.push(format!("**Status**: {}", status_label(view.status)));
    if !view.resolve_reason.is_empty() {
        lines.push(format!(
            "**Resolution reason**: {}",
            markdown_escape(&view.resolve_reason, REASON_LIMIT)
        ));
    }
    match view.link() {
        Some(link) => lines.push(format!("**Link**: [{link}]({link})")),
        None if pending => {
            lines.push(format!(
                "**Approve**: `tsh request review --approve {}`",
                request.id
            ));
            lines.push(format!(
                "**Deny**: `tsh request review --deny {}`",
                request.id
            ));
        }
        None => {}
    }
    lines.join("\n")
}

/// The thread comment for one review.
pub fn review_comment(review: &AccessReview) -> String {
    let proposed = match review.proposed_state {
        RequestState::Approved => "✅ APPROVED",
        RequestState::Denied => "❌ DENIED",
        _ => "PENDING",
    };
    let mut out = format!(
        "{} reviewed the request at {}.\nResolution: {proposed}.",
        review.author,
        review
            .created
            .map(rfc822)
            .unwrap_or_else(|| "an unknown time".into()),
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
    let tag = match view.status {
        Status::Pending => "PENDING",
        Status::Resolved(resolution) => resolution.as_str(),
    };
    let mut out = format!(
        "Request with ID `{}` has been updated: **{tag}**",
        view.request.id
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

/// Go's RFC 822 layout (`02 Jan 06 15:04 MST`), in UTC.
pub fn rfc822(at: OffsetDateTime) -> String {
    let layout =
        format_description!("[day] [month repr:short] [year repr:last_two] [hour]:[minute]");
    let utc = at.to_offset(time::UtcOffset::UTC);
    // Only fixed-width numbers and month names: formatting cannot fail.
    format!("{} UTC", utc.format(&layout).unwrap_or_default())
}

/// Shows untrusted text verbatim in a code block: trimmed, `(empty)` when empty, each
/// backtick followed by U+FEFF so it cannot close the fence (counting twice toward `limit`),
/// and cut at `limit` characters with ` (truncated)` after the fence.
pub fn markdown_escape(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty)".to_owned();
    }
    let mut out = String::from("```\n");
    let mut budget = limit;
    for (index, ch) in text.chars().enumerate() {
        if index >= budget {
            out.push_str("```");
            out.push_str(TRUNCATED);
            return out;
        }
        out.push(ch);
        if ch == '`' {
            out.push('\u{feff}');
            budget = budget.saturating_sub(1);
        }
    }
    out.push_str("```");
    out
}
