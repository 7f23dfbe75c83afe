//! E-mail subjects and bodies (plain text as in the Go plugin, plus an HTML alternative).

use teleport_client::AccessReview;
use teleport_plugin_runtime::format::{proposed_state_label, review_fields, review_time};
pub use teleport_plugin_runtime::format::{rfc822, status_label};
use teleport_plugin_runtime::messaging::RequestView;

/// Header line of the first mail of a thread.
pub const NEW_REQUEST: &str = "You have a new Role Request";
/// Header line of the resolution mail.
pub const RESOLVED: &str = "Role Request has been resolved";
/// Header line of the requester's mail.
pub const YOUR_REQUEST_RESOLVED: &str = "Your Role Request has been resolved";

/// A rendered body in both forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// text/plain.
    pub text: String,
    /// text/html.
    pub html: String,
}

/// `<cluster> Role Request <id>`, the same for every mail of a thread.
pub fn subject(cluster: &str, request_id: &str) -> String {
    format!("{cluster} Role Request {request_id}")
}

/// The request's fields under `header`, then its status (with the resolve reason).
pub fn request_body(view: &RequestView, header: &str) -> Body {
    let request = &view.request;
    let mut fields: Vec<(&str, String)> = vec![
        ("ID", request.id.clone()),
        ("Cluster", view.cluster.clone()),
    ];
    if !request.user.is_empty() {
        fields.push(("User", request.user.clone()));
    }
    if !request.roles.is_empty() {
        fields.push(("Role(s)", request.roles.join(",")));
    }
    if !request.request_reason.is_empty() {
        fields.push(("Reason", request.request_reason.clone()));
    }
    let link = view.link();
    for review in review_fields(link.clone(), view.status, &request.id) {
        fields.push((review.name, review.text));
    }
    let mut status = format!("Status: {}", status_label(view.status));
    if !view.resolve_reason.is_empty() {
        status.push_str(&format!(" ({})", view.resolve_reason));
    }

    let mut text = format!("{header}:\n\n");
    for (name, value) in &fields {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    text.push_str(&status);

    let mut rows = String::new();
    for (name, value) in &fields {
        let value = match (*name, &link) {
            ("Link", Some(link)) => format!("<a href=\"{0}\">{0}</a>", escape(link)),
            ("Approve" | "Deny", _) => format!("<code>{}</code>", escape(value)),
            _ => escape(value),
        };
        rows.push_str(&format!(
            "<tr><th align=\"left\" valign=\"top\">{name}</th><td style=\"white-space: pre-wrap\">{value}</td></tr>\n"
        ));
    }
    let html = page(&format!(
        "<p>{}:</p>\n<table>\n{rows}</table>\n<p>{}</p>\n",
        escape(header),
        escape(&status)
    ));
    Body { text, html }
}

/// One review, as a reply in every thread.
pub fn review_body(review: &AccessReview) -> Body {
    let mut lines = vec![
        format!(
            "{} reviewed the request at {}.",
            review.author,
            review_time(review.created)
        ),
        format!(
            "Resolution: {}.",
            proposed_state_label(review.proposed_state)
        ),
    ];
    if !review.reason.is_empty() {
        lines.push(format!("Reason: {}.", review.reason));
    }
    let text = lines.join("\n");
    let html = page(
        &lines
            .iter()
            .map(|line| format!("<p style=\"white-space: pre-wrap\">{}</p>\n", escape(line)))
            .collect::<String>(),
    );
    Body { text, html }
}

fn page(content: &str) -> String {
    format!("<!DOCTYPE html>\n<html><body>\n{content}</body></html>\n")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
