//! Text pieces every messaging plugin words the same way as the Go plugins:
//! Go's RFC 822 time, status words and their emoji, Markdown code fences
//! around untrusted text, and the link or `tsh` commands that review a request. Each plugin's `render.rs` builds its messages from these.

use teleport_client::RequestState;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::messaging::Status;
use crate::record::Resolution;

/// Appended where text was cut to fit a limit.
pub const TRUNCATED: &str = " (truncated)";

/// Go's RFC 822 layout (`02 Jan 06 15:04 MST`), in UTC.
pub fn rfc822(at: OffsetDateTime) -> String {
    let layout =
        format_description!("[day] [month repr:short] [year repr:last_two] [hour]:[minute]");
    let utc = at.to_offset(time::UtcOffset::UTC);
    // Only fixed-width numbers and month names: formatting cannot fail.
    format!("{} UTC", utc.format(&layout).unwrap_or_default())
}

/// When a review was submitted, as [`rfc822`], or `an unknown time` when
/// Teleport did not say.
pub fn review_time(created: Option<OffsetDateTime>) -> String {
    created
        .map(rfc822)
        .unwrap_or_else(|| "an unknown time".into())
}

/// The status word: `PENDING`, or the resolution's stored tag.
pub fn status_tag(status: Status) -> &'static str {
    match status {
        Status::Pending => "PENDING",
        Status::Resolved(resolution) => resolution.as_str(),
    }
}

/// The emoji the Go plugins put before a status word (`PROMOTED` has none).
pub fn status_emoji(status: Status) -> Option<&'static str> {
    match status {
        Status::Pending => Some("⏳"),
        Status::Resolved(Resolution::Approved) => Some("✅"),
        Status::Resolved(Resolution::Denied) => Some("❌"),
        Status::Resolved(Resolution::Expired) => Some("⌛"),
        Status::Resolved(Resolution::Promoted) => None,
    }
}

/// `⏳ PENDING`, `✅ APPROVED`, ... (`PROMOTED` has no emoji).
pub fn status_label(status: Status) -> String {
    let tag = status_tag(status);
    match status_emoji(status) {
        Some(emoji) => format!("{emoji} {tag}"),
        None => tag.to_owned(),
    }
}

/// The status as Go's chat plugins print it after `*Status*: `: the emoji, a space, the
/// word (Go's `"%s %s"`), so PROMOTED, which has no emoji, gets a leading space
/// (`*Status*:  PROMOTED`).
pub fn status_field(status: Status) -> String {
    format!(
        "{} {}",
        status_emoji(status).unwrap_or_default(),
        status_tag(status)
    )
}

/// What a review proposed: `✅ APPROVED`, `❌ DENIED`, or `PENDING` for
/// anything else.
pub fn proposed_state_label(state: RequestState) -> String {
    match state {
        RequestState::Approved => status_label(Status::Resolved(Resolution::Approved)),
        RequestState::Denied => status_label(Status::Resolved(Resolution::Denied)),
        _ => status_tag(Status::Pending).to_owned(),
    }
}

/// Wraps untrusted text in a code block so chat shows it verbatim.
///
/// The text is trimmed; empty text becomes `(empty)`. A backtick is followed by U+FEFF (a
/// zero-width no-break space) so it cannot close the fence, and counts twice toward
/// `limit`. Past the limit the output ends with the closing fence and ` (truncated)`.
/// Unlike the Go code, which counts bytes, the limit counts characters.
pub fn markdown_escape(text: &str, limit: usize) -> String {
    escape_fenced(text, limit, "```\n", "```")
}

/// [`markdown_escape`] for one-line values: single backticks instead of a code block.
pub fn markdown_escape_inline(text: &str, limit: usize) -> String {
    escape_fenced(text, limit, "`", "`")
}

fn escape_fenced(text: &str, limit: usize, open: &str, close: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty)".to_owned();
    }
    let mut out = String::with_capacity(open.len() + text.len().min(limit * 4) + 16);
    out.push_str(open);
    let mut budget = limit;
    for (index, ch) in text.chars().enumerate() {
        if index >= budget {
            out.push_str(close);
            out.push_str(TRUNCATED);
            return out;
        }
        out.push(ch);
        if ch == '`' {
            out.push('\u{feff}');
            budget = budget.saturating_sub(1);
        }
    }
    out.push_str(close);
    out
}

/// One way to review a request that its message offers ([`review_fields`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewField {
    /// The field's name: `Link`, `Approve` or `Deny`.
    pub name: &'static str,
    /// The link, or the `tsh` command.
    pub text: String,
    /// Whether `text` is a command (chat shows it as code).
    pub is_command: bool,
}

impl ReviewField {
    /// `text`, a command in single backticks as the Go chat plugins show it.
    pub fn markdown(&self) -> String {
        if self.is_command {
            format!("`{}`", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// What a request's message offers for reviewing it, as in the Go plugins: the request's
/// `link` in the web UI when the cluster has one, else, while the request is pending, the
/// `tsh` commands that approve and deny it; else nothing.
pub fn review_fields(link: Option<String>, status: Status, request_id: &str) -> Vec<ReviewField> {
    match link {
        Some(link) => vec![ReviewField {
            name: "Link",
            text: link,
            is_command: false,
        }],
        None if status == Status::Pending => [("Approve", "--approve"), ("Deny", "--deny")]
            .into_iter()
            .map(|(name, flag)| ReviewField {
                name,
                text: format!("tsh request review {flag} {request_id}"),
                is_command: true,
            })
            .collect(),
        None => Vec::new(),
    }
}

/// Cuts `text` to at most `limit` characters, the cut marked with [`TRUNCATED`] (within
/// the limit).
pub fn clip(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let keep = limit.saturating_sub(TRUNCATED.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(TRUNCATED);
    out
}

/// The field lines of Go's Slack and Discord request messages: `*Name*: value`, one a line.
#[derive(Debug, Default)]
pub struct FieldLines(String);

impl FieldLines {
    /// The lines every request message opens with: `ID`, `Cluster`, and `User` when known,
    /// each value (but the ID) cut to `limit`.
    pub fn request_head(id: &str, cluster: &str, user: &str, limit: usize) -> Self {
        let mut lines = Self(String::with_capacity(256));
        lines.push("ID", id);
        lines.push("Cluster", &clip(cluster, limit));
        if !user.is_empty() {
            lines.push("User", &clip(user, limit));
        }
        lines
    }

    /// One more line.
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push_str(&format!("*{name}*: {value}\n"));
    }

    /// The lines as one text.
    pub fn into_text(self) -> String {
        self.0
    }
}

/// `<web_base>/web/requests/<id>`: the request's page in Teleport's web UI (`web_base` as
/// [`crate::teleport::web_base`] gives it), the ID escaped as one path segment so that a
/// hostile ID cannot point the link elsewhere.
pub fn request_link(web_base: &str, request_id: &str) -> String {
    format!(
        "{}/web/requests/{}",
        web_base.trim_end_matches('/'),
        url_path_segment(request_id)
    )
}

/// One URL path segment, percent-escaped (everything but unreserved characters), for links
/// into Teleport's web UI.
pub fn url_path_segment(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn clip_keeps_the_marked_cut_within_the_limit() {
        assert_eq!(clip("short", 10), "short");
        let cut = clip(&"x".repeat(50), 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with(TRUNCATED), "{cut}");
        assert_eq!(
            FieldLines::request_head("id", "c", "", 10).into_text(),
            "*ID*: id\n*Cluster*: c\n"
        );
    }

    #[test]
    fn a_request_link_keeps_a_hostile_id_in_one_path_segment() {
        assert_eq!(
            request_link("https://p/", "a/../b?c#d"),
            "https://p/web/requests/a%2F..%2Fb%3Fc%23d"
        );
        assert_eq!(
            request_link("https://p", "3f1a2b4c-5d6e"),
            "https://p/web/requests/3f1a2b4c-5d6e"
        );
    }

    #[test]
    fn rfc822_is_go_layout_in_utc() {
        assert_eq!(
            rfc822(datetime!(2024-03-05 16:07:09 +2)),
            "05 Mar 24 14:07 UTC"
        );
        assert_eq!(review_time(None), "an unknown time");
    }

    #[test]
    fn status_words_and_emoji() {
        assert_eq!(status_label(Status::Pending), "⏳ PENDING");
        assert_eq!(
            status_label(Status::Resolved(Resolution::Expired)),
            "⌛ EXPIRED"
        );
        assert_eq!(
            status_label(Status::Resolved(Resolution::Promoted)),
            "PROMOTED"
        );
        assert_eq!(status_field(Status::Pending), "⏳ PENDING");
        assert_eq!(
            status_field(Status::Resolved(Resolution::Promoted)),
            " PROMOTED"
        );
        assert_eq!(proposed_state_label(RequestState::Denied), "❌ DENIED");
        assert_eq!(proposed_state_label(RequestState::Pending), "PENDING");
    }

    #[test]
    fn fences_hold_backticks_and_cut_at_the_limit() {
        assert_eq!(markdown_escape("  ", 10), "(empty)");
        assert_eq!(markdown_escape("a`b", 10), "```\na`\u{feff}b```");
        assert_eq!(markdown_escape("abcdef", 3), "```\nabc``` (truncated)");
        assert_eq!(markdown_escape_inline("a`b", 400), "`a`\u{feff}b`");
    }
}
