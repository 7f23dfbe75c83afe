//! The texts the plugin writes to Jira, in the Go plugin's wording (Jira wiki markup): the
//! issue summary and description, review comments and the resolution comment; and the
//! reason a person gives in a comment when moving an issue (`reason:` / `resolution:`).

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::format::{request_link, rfc822};
use teleport_plugin_runtime::record::Resolution;

/// The longest request or resolve reason written (bytes), as Go: Teleport allows 4096.
pub const REASON_LIMIT: usize = 3000;

/// `text` cut to at most `limit` bytes at a character boundary.
pub fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `<user> requested <role1, role2>`.
pub fn summary(request: &AccessRequest) -> String {
    format!("{} requested {}", request.user, request.roles.join(", "))
}

/// The description, laid out exactly as Go's template lays it out.
pub fn description(request: &AccessRequest, web_base: Option<&str>) -> String {
    let created = request.created.map(rfc822).unwrap_or_default();
    let mut text = format!(
        "User *{}* requested an access on *{created}* with the following roles:\n",
        request.user
    );
    for role in &request.roles {
        text.push_str(&format!("\n* {role}\n"));
    }
    text.push('\n');
    let reason = truncate(&request.request_reason, REASON_LIMIT);
    if !reason.is_empty() {
        text.push_str(&format!("\nReason: *{reason}*\n"));
    }
    text.push('\n');
    text.push_str(&format!("Request ID: *{}*\n", request.id));
    if let Some(base) = web_base {
        text.push_str(&format!(
            "To approve or deny the request, proceed to {}",
            request_link(base, &request.id)
        ));
    }
    text
}

/// The comment for one review.
pub fn review_comment(review: &AccessReview) -> String {
    let created = review.created.map(rfc822).unwrap_or_default();
    let mut text = format!(
        "*{}* reviewed the request at *{created}*.\nResolution: *{}*.\n",
        review.author, review.proposed_state
    );
    if !review.reason.is_empty() {
        text.push_str(&format!("Reason: {}.", review.reason));
    }
    text
}

/// The comment posted when the request is resolved.
pub fn resolution_comment(resolution: Resolution, reason: &str) -> String {
    let mut text = format!(
        "Access request has been {}\n",
        resolution.as_str().to_ascii_lowercase()
    );
    let reason = truncate(reason, REASON_LIMIT);
    if !reason.is_empty() {
        text.push_str(&format!("Reason: {reason}"));
    }
    text
}

/// The reason in a comment, as Go reads it: a line `reason: X` or `resolution: X` (any
/// case; X trimmed) anywhere in the comment wins; otherwise a line `reason:` or
/// `resolution:` alone, and everything after it.
pub fn reason_in_comment(body: &str) -> Option<String> {
    let label = |line: &str| -> Option<String> {
        let line = line.trim_start_matches(' ');
        let lower = line.to_ascii_lowercase();
        let rest_at = ["resolution", "reason"]
            .iter()
            .find(|word| lower.starts_with(*word))
            .map(|word| word.len())?;
        let rest = line[rest_at..].trim_start_matches(' ');
        rest.strip_prefix(':')
            .map(|value| value.trim_start_matches(' ').to_owned())
    };
    let lines: Vec<&str> = body.split('\n').collect();
    for line in &lines {
        let line = line.trim_end_matches('\r');
        if let Some(value) = label(line).filter(|v| !v.trim().is_empty()) {
            return Some(value.trim_matches([' ', '\n']).to_owned());
        }
    }
    for (index, line) in lines.iter().enumerate() {
        if label(line.trim_end_matches('\r')).is_some() {
            let rest = lines[index + 1..].join("\n");
            return Some(rest.trim_start_matches('\n').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_as_go_reads_them() {
        assert_eq!(
            reason_in_comment("Reason: looks fine").as_deref(),
            Some("looks fine")
        );
        assert_eq!(
            reason_in_comment("ok\n  RESOLUTION :  approved by ops  ").as_deref(),
            Some("approved by ops")
        );
        assert_eq!(
            reason_in_comment("Reason:\n\nfoo\nbar\nbaz").as_deref(),
            Some("foo\nbar\nbaz"),
            "Go's WebhookApprovalWithReason"
        );
        assert_eq!(
            reason_in_comment("resolution:\nsee below\nreason: inline wins").as_deref(),
            Some("inline wins")
        );
        assert_eq!(reason_in_comment("no reason here"), None);
        assert_eq!(reason_in_comment("the reason: is not at the start"), None);
        assert_eq!(reason_in_comment("reasonable: no"), None);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
