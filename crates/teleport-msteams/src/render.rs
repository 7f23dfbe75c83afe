//! The adaptive card of a request, laid out as Go's plugin lays it out: the title `Access
//! Request <id>`, the status emoji and word, the facts (cluster, user, roles, reasons, the
//! `tsh` commands while pending without a web UI), an "Open" button to the web UI, and a
//! "Reviews" section with one fact set per review.

use serde_json::{Value, json};
use teleport_client::{AccessReview, RequestState};
use teleport_plugin_runtime::format::{
    TRUNCATED, review_fields, review_time, status_emoji, status_tag,
};
use teleport_plugin_runtime::messaging::{RequestView, Status};
use teleport_plugin_runtime::record::Resolution;

/// The adaptive card schema version (Go's).
pub const CARD_VERSION: &str = "1.2";
/// Limit for free text (reasons), in characters; Teams refuses messages over ~28 KB.
pub const REASON_LIMIT: usize = 1000;

/// Adaptive card colour of a status word.
fn status_color(status: Status) -> &'static str {
    match status {
        Status::Resolved(Resolution::Approved) => "Good",
        Status::Resolved(Resolution::Denied) => "Attention",
        Status::Pending | Status::Resolved(Resolution::Expired) => "Accent",
        Status::Resolved(Resolution::Promoted) => "Default",
    }
}

fn clip(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit).collect();
    out.push_str(TRUNCATED);
    out
}

fn fact(title: &str, value: impl Into<String>) -> Value {
    json!({ "title": title, "value": value.into() })
}

/// The card's first line, which names the request; what the look-up of a posted card
/// matches ([`request_id_of`]).
pub fn title(request_id: &str) -> String {
    format!("Access Request {request_id}")
}

/// The request a card was made for: the ID in its first text block, when that is the
/// [`title`] of a request card.
pub fn request_id_of(card: &Value) -> Option<&str> {
    let first = card.get("body")?.get(0)?;
    if first.get("type").and_then(Value::as_str) != Some("TextBlock") {
        return None;
    }
    first
        .get("text")?
        .as_str()?
        .strip_prefix("Access Request ")
        .filter(|id| !id.is_empty())
}

/// The card for `view`, with the request's reviews.
pub fn request_card(view: &RequestView) -> Value {
    let request = &view.request;
    let mut facts = vec![
        fact("Cluster", view.cluster.clone()),
        fact("User", request.user.clone()),
        fact("Role(s)", request.roles.join(", ")),
    ];
    if !view.resources.is_empty() {
        facts.push(fact("Resource(s)", view.resources.join(", ")));
    }
    if !request.request_reason.trim().is_empty() {
        facts.push(fact("Reason", clip(&request.request_reason, REASON_LIMIT)));
    }
    if !view.resolve_reason.trim().is_empty() {
        facts.push(fact(
            "Resolution reason",
            clip(&view.resolve_reason, REASON_LIMIT),
        ));
    }
    let link = view.link();
    // The link is the card's button, not a fact.
    for review in review_fields(link.clone(), view.status, &request.id) {
        if review.is_command {
            facts.push(fact(review.name, review.text));
        }
    }
    let mut body = vec![
        json!({ "type": "TextBlock", "text": title(&request.id), "size": "small" }),
        json!({
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [{ "type": "TextBlock", "text": status_emoji(view.status).unwrap_or_default(), "size": "large" }],
                },
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [{
                        "type": "TextBlock",
                        "text": status_tag(view.status),
                        "size": "large",
                        "weight": "bolder",
                        "color": status_color(view.status),
                    }],
                },
            ],
        }),
        json!({ "type": "FactSet", "facts": facts }),
    ];
    if !request.reviews.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": "Reviews",
            "weight": "bolder",
            "color": "accent",
            "separator": true,
        }));
        body.extend(request.reviews.iter().map(review_facts));
    }
    let actions: Vec<Value> = link
        .into_iter()
        .map(|url| json!({ "type": "Action.OpenUrl", "title": "Open", "url": url }))
        .collect();
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "actions": actions,
    })
}

/// One review: its verdict's emoji, author, time and reason.
fn review_facts(review: &AccessReview) -> Value {
    let verdict = match review.proposed_state {
        RequestState::Approved => status_emoji(Status::Resolved(Resolution::Approved)),
        RequestState::Denied => status_emoji(Status::Resolved(Resolution::Denied)),
        _ => None,
    };
    let mut facts = vec![
        fact("Status", verdict.unwrap_or_default()),
        fact("Author", review.author.clone()),
        fact("Created at", review_time(review.created)),
    ];
    if !review.reason.trim().is_empty() {
        facts.push(fact("Reason", clip(&review.reason, REASON_LIMIT)));
    }
    json!({ "type": "FactSet", "facts": facts })
}
