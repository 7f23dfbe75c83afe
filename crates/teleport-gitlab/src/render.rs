//! The texts the plugin writes to GitLab: the issue title and description, review and
//! resolution notes (the Go plugin's wording, in GitLab Markdown), and reading the request
//! ID back from a description.
//!
//! Text from requesters and reviewers goes in as one-line code spans: GitLab runs quick
//! actions (`/close`, `/label ~"Teleport: Approved"`) found at the start of a line in
//! anything the plugin's account writes, and would notify `@mentions`; neither happens
//! inside a code span that starts mid-line.

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::format::{markdown_escape_inline, request_link};
use teleport_plugin_runtime::record::Resolution;

/// Go's RFC 822 time, in UTC.
pub use teleport_plugin_runtime::format::rfc822;

/// Longest request, review or resolve reason shown (characters), as in Go's Jira plugin.
pub const REASON_LIMIT: usize = 3000;
/// Longest user or role name shown.
const NAME_LIMIT: usize = 200;
/// GitLab refuses longer titles.
const TITLE_LIMIT: usize = 255;

/// Untrusted text as a one-line code span (line breaks become spaces).
fn code(text: &str, limit: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    markdown_escape_inline(&one_line, limit)
}

/// `Access request from <user>` (plain text: GitLab does not render titles as Markdown).
pub fn issue_title(request: &AccessRequest) -> String {
    let title = format!("Access request from {}", request.user);
    title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(TITLE_LIMIT)
        .collect()
}

/// The issue description: who asked for which roles and when, how to decide, the reason,
/// and the request ID the plugin finds the request by.
pub fn issue_description(request: &AccessRequest, web_base: Option<&str>) -> String {
    let roles: Vec<String> = request
        .roles
        .iter()
        .map(|role| format!("**{}**", code(role, NAME_LIMIT)))
        .collect();
    let when = request
        .created
        .map(|at| format!(" at **{}**", rfc822(at)))
        .unwrap_or_default();
    let link = web_base
        .map(|base| format!(" or proceed to {}", request_link(base, &request.id)))
        .unwrap_or_default();
    let mut paragraphs = vec![format!(
        "{} requested permissions for roles {} on Teleport{when}. To approve or deny the \
         request, please assign a corresponding label and close the issue{link}.",
        code(&request.user, NAME_LIMIT),
        roles.join(", "),
    )];
    if !request.request_reason.trim().is_empty() {
        paragraphs.push(format!(
            "Reason: **{}**.",
            code(&request.request_reason, REASON_LIMIT)
        ));
    }
    paragraphs.push(format!("Request ID is `{}`.", safe_id(&request.id)));
    paragraphs.join("\n\n")
}

/// Request IDs are UUIDs; anything else is dropped so an ID cannot change the text around it.
fn safe_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(128)
        .collect()
}

/// The request ID in a description the plugin wrote (`Request ID is `<id>`.`), if any.
pub fn request_id_in(description: &str) -> Option<String> {
    let (_, after) = description.rsplit_once("Request ID is `")?;
    let (id, _) = after.split_once('`')?;
    let valid = !id.is_empty() && id.len() <= 128 && safe_id(id) == id;
    valid.then(|| id.to_owned())
}

/// The note for one review.
pub fn review_note(review: &AccessReview) -> String {
    let when = review
        .created
        .map(rfc822)
        .unwrap_or_else(|| "an unknown time".into());
    let mut text = format!(
        "**{}** reviewed the request at **{when}**.\n\nResolution: **{}**.",
        code(&review.author, NAME_LIMIT),
        review.proposed_state
    );
    if !review.reason.trim().is_empty() {
        text.push_str(&format!(
            "\n\nReason: {}.",
            code(&review.reason, REASON_LIMIT)
        ));
    }
    text
}

/// The note posted before the issue is closed.
pub fn resolution_note(resolution: Resolution, reason: &str) -> String {
    let mut text = format!(
        "Access request has been {}",
        resolution.as_str().to_ascii_lowercase()
    );
    if !reason.trim().is_empty() {
        text.push_str(&format!("\n\nReason: {}", code(reason, REASON_LIMIT)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_id_is_read_back() {
        let request = AccessRequest {
            id: "0f2b7e4c-1111-4222-8333-944455556666".into(),
            user: "alice".into(),
            roles: vec!["dev".into()],
            ..Default::default()
        };
        let description = issue_description(&request, None);
        assert_eq!(
            request_id_in(&description).as_deref(),
            Some(request.id.as_str())
        );
        assert_eq!(request_id_in("no id"), None);
        assert_eq!(request_id_in("Request ID is `a b`."), None);
        assert_eq!(request_id_in("Request ID is `unterminated"), None);
    }

    #[test]
    fn untrusted_text_cannot_start_a_line() {
        let spans = code("fine\n/close\n@all `x`", 100);
        assert!(!spans.contains('\n'), "{spans}");
        assert!(spans.starts_with('`') && spans.ends_with('`'), "{spans}");
        assert!(spans.contains("`\u{feff}x`\u{feff}"), "{spans}");
    }
}
