//! Slack message text and Block Kit JSON for access requests, worded like the Go plugin's.
//!
//! Pure functions over plain view structs; the bot maps Teleport's access request into
//! [`RequestView`] / [`ReviewView`]. Every output stays inside Slack's limits: 3000
//! characters per section text and 4000 for a message `text`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use teleport_plugin_runtime::format::{self, FieldLines, clip};
pub use teleport_plugin_runtime::format::{markdown_escape, markdown_escape_inline, rfc822};
use teleport_plugin_runtime::messaging;
use teleport_plugin_runtime::record::Resolution;
use time::OffsetDateTime;

/// Limit for the request reason, resolve reason and review reason (Go plugin v12).
pub const REASON_LIMIT: usize = 500;
/// Limit for one-line values (user, cluster, roles, resources).
pub const INLINE_LIMIT: usize = 400;
/// Slack's limit for a section block's text.
pub const SECTION_TEXT_LIMIT: usize = 3000;
/// Slack's limit for a message's `text`.
pub const MESSAGE_TEXT_LIMIT: usize = 4000;

/// Where an access request stands, as shown in the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for reviews.
    Pending,
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// Expired or deleted.
    Expired,
    /// Promoted to an access list.
    Promoted,
}

impl Status {
    /// The word shown in messages (and stored as the resolution tag).
    pub fn tag(self) -> &'static str {
        format::status_tag(self.as_runtime())
    }

    fn with_emoji(self) -> String {
        format::status_label(self.as_runtime())
    }

    // Go's `"%s %s"` of emoji and word: PROMOTED (no emoji) keeps the leading space.
    fn status_field(self) -> String {
        format::status_field(self.as_runtime())
    }

    // The runtime's status, whose words and emoji every messaging plugin shares.
    fn as_runtime(self) -> messaging::Status {
        match self {
            Self::Pending => messaging::Status::Pending,
            Self::Approved => messaging::Status::Resolved(Resolution::Approved),
            Self::Denied => messaging::Status::Resolved(Resolution::Denied),
            Self::Expired => messaging::Status::Resolved(Resolution::Expired),
            Self::Promoted => messaging::Status::Resolved(Resolution::Promoted),
        }
    }
}

/// What a request message shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestView {
    /// Request ID.
    pub id: String,
    /// Teleport cluster name.
    pub cluster: String,
    /// Requesting user; the line is left out when empty.
    pub user: String,
    /// Requested roles, in the order to show them; left out when empty.
    pub roles: Vec<String>,
    /// Request reason; left out when empty.
    pub reason: String,
    /// Friendly names of requested resources; left out when empty.
    pub resources: Vec<String>,
    /// The logins each role allows: when known, one `Role … Login(s)` line per role
    /// replaces the `Role(s)` line, as in Go.
    pub logins_by_role: BTreeMap<String, Vec<String>>,
    /// `https://<proxy>` for the web link, as the runtime's `web_base` gives it (advanced
    /// workflows only); `None` shows `tsh` commands.
    pub link_base: Option<String>,
    /// Current status.
    pub status: Status,
    /// Resolution reason; left out when empty.
    pub resolve_reason: String,
}

/// What a review reply shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewView {
    /// Reviewer's user name.
    pub author: String,
    /// The state the reviewer proposed (approved or denied).
    pub proposed_state: Status,
    /// Review reason; the line is left out when empty.
    pub reason: String,
    /// When the review was submitted.
    pub created: OffsetDateTime,
}

/// Blocks plus the plain `text` Slack shows in notifications.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedMessage {
    /// Block Kit blocks.
    pub blocks: Vec<Value>,
    /// Notification fallback text.
    pub text: String,
}

/// The request message: header, fields, status context. The same shape for every update.
pub fn request_message(request: &RequestView) -> RenderedMessage {
    RenderedMessage {
        blocks: vec![
            section("You have a new Role Request:"),
            section(&request_fields(request)),
            context(&status_text(request.status, &request.resolve_reason)),
        ],
        text: request_notification(request),
    }
}

/// The field lines, one `*Name*: value` line each, as in the Go plugin.
pub fn request_fields(request: &RequestView) -> String {
    let mut lines =
        FieldLines::request_head(&request.id, &request.cluster, &request.user, INLINE_LIMIT);
    // Lists are sorted, and every value escaped inline, as in the Go plugin.
    let mut roles = request.roles.clone();
    roles.sort();
    if !request.logins_by_role.is_empty() {
        for role in &roles {
            let mut logins = request
                .logins_by_role
                .get(role)
                .cloned()
                .unwrap_or_default();
            logins.sort();
            let logins = if logins.is_empty() {
                "-".to_owned()
            } else {
                logins.join(", ")
            };
            lines.push(
                "Role",
                &format!(
                    "{} *Login(s)*: {}",
                    markdown_escape_inline(role, INLINE_LIMIT),
                    markdown_escape_inline(&logins, INLINE_LIMIT)
                ),
            );
        }
    } else if !roles.is_empty() {
        lines.push(
            "Role(s)",
            &markdown_escape_inline(&roles.join(","), INLINE_LIMIT),
        );
    }
    if !request.resources.is_empty() {
        let mut resources = request.resources.clone();
        resources.sort();
        lines.push(
            "Resource(s)",
            &markdown_escape_inline(&resources.join(","), INLINE_LIMIT),
        );
    }
    if !request.reason.is_empty() {
        lines.push("Reason", &markdown_escape(&request.reason, REASON_LIMIT));
    }
    let link = request
        .link_base
        .as_ref()
        .map(|base| format::request_link(base, &request.id));
    for review in format::review_fields(link, request.status.as_runtime(), &request.id) {
        lines.push(review.name, &review.markdown());
    }
    clip(&lines.into_text(), SECTION_TEXT_LIMIT)
}

/// `*Status*: ⏳ PENDING` (`*Status*:  PROMOTED`, two spaces, as Go), plus a
/// `*Resolution reason*` line when there is one.
pub fn status_text(status: Status, resolve_reason: &str) -> String {
    let mut out = format!("*Status*: {}", status.status_field());
    if !resolve_reason.is_empty() {
        out.push_str("\n*Resolution reason*: ");
        out.push_str(&markdown_escape(resolve_reason, REASON_LIMIT));
    }
    out
}

fn request_notification(request: &RequestView) -> String {
    let mut out = String::from("You have a new Role Request");
    if !request.user.is_empty() {
        out.push_str(&format!(" from {}", clip(&request.user, INLINE_LIMIT)));
    }
    if !request.roles.is_empty() {
        out.push_str(&format!(
            " for {}",
            clip(&request.roles.join(","), INLINE_LIMIT)
        ));
    }
    out.push_str(&format!(" ({}): {}", request.status.tag(), request.id));
    clip(&out, MESSAGE_TEXT_LIMIT)
}

/// The thread reply for one review, three lines as in the Go plugin (v12 wording).
pub fn review_reply(review: &ReviewView) -> String {
    let resolution = match review.proposed_state {
        Status::Approved | Status::Denied => review.proposed_state.with_emoji(),
        other => other.tag().to_owned(),
    };
    let mut out = format!(
        "{} reviewed the request at {}.\nResolution: {resolution}.\n",
        clip(&review.author, INLINE_LIMIT),
        rfc822(review.created),
    );
    if !review.reason.is_empty() {
        out.push_str(&format!(
            "Reason: {}.",
            markdown_escape(&review.reason, REASON_LIMIT)
        ));
    }
    clip(&out, MESSAGE_TEXT_LIMIT)
}

/// The direct message telling the requester their request was resolved.
pub fn requester_update(id: &str, status: Status, resolve_reason: &str) -> RenderedMessage {
    let mut text = format!(
        "Request with ID {id:?} has been updated: *{}*",
        status.tag()
    );
    if !resolve_reason.is_empty() {
        text.push_str("\n*Resolution reason*: ");
        text.push_str(&markdown_escape(resolve_reason, REASON_LIMIT));
    }
    let text = clip(&text, SECTION_TEXT_LIMIT);
    RenderedMessage {
        blocks: vec![section(&text)],
        text,
    }
}

/// An access-list review reminder (its text is the runtime's, in Slack markdown) as one
/// section.
pub fn reminder(text: &str) -> RenderedMessage {
    let text = clip(text, SECTION_TEXT_LIMIT);
    RenderedMessage {
        blocks: vec![section(&text)],
        text,
    }
}

/// The `block_id` of the Approve/Deny buttons, Go's (the Socket Mode handler acts only on it).
pub const REVIEW_BLOCK_ID: &str = "review_block";
/// The `action_id` of the Approve button.
pub const APPROVE_ACTION_ID: &str = "approve_button";
/// The `action_id` of the Deny button.
pub const DENY_ACTION_ID: &str = "deny_button";

/// The Approve/Deny buttons (`[review] enabled`), carrying the request ID as their value;
/// appended to a pending request's message only.
pub fn review_buttons(request_id: &str) -> Value {
    let button = |action_id: &str, label: &str, style: &str| {
        json!({
            "type": "button",
            "action_id": action_id,
            "text": { "type": "plain_text", "text": label },
            "style": style,
            "value": request_id,
        })
    };
    json!({
        "type": "actions",
        "block_id": REVIEW_BLOCK_ID,
        "elements": [
            button(APPROVE_ACTION_ID, "Approve", "primary"),
            button(DENY_ACTION_ID, "Deny", "danger"),
        ],
    })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn context(text: &str) -> Value {
    json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": text }] })
}
