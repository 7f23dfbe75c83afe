//! Discord message text and embeds for access requests, worded like the Go plugin's: the
//! common request fields and status line as content, and one embed per review.
//!
//! Everything stays inside Discord's documented limits (2000 characters of content, 10
//! embeds, 256 per title or author, 6000 over all embeds), which the Go plugin does not
//! check: past them Discord refuses the whole message.

use teleport_client::{AccessRequest, AccessReview, RequestState};
use teleport_plugin_runtime::format::{FieldLines, clip, review_fields, status_field};
pub use teleport_plugin_runtime::format::{markdown_escape, markdown_escape_inline};
use teleport_plugin_runtime::messaging::{RequestView, Status};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::client::{Embed, EmbedAuthor, MessageBody};

/// Limit for the request, resolution and review reasons (Go plugin), in characters.
pub const REASON_LIMIT: usize = 500;
/// Limit for one-line values (cluster, user, roles, resources).
pub const INLINE_LIMIT: usize = 400;
/// Discord's limit for a message's content.
pub const CONTENT_LIMIT: usize = 2000;
/// Discord's limit on embeds per message.
pub const EMBEDS_LIMIT: usize = 10;
/// Discord's limit on the characters of all embeds of a message together.
pub const EMBEDS_TOTAL_LIMIT: usize = 6000;
/// Discord's limit for an embed title or author name.
const EMBED_LINE_LIMIT: usize = 256;

/// Green, for an approving review (the Go plugin's colour).
pub const GREEN: u32 = 2_328_611;
/// Red, for a denying review (the Go plugin's colour).
pub const RED: u32 = 13_771_309;

/// The request message: content, and the request's reviews as embeds. The same shape on
/// creation and on every edit.
pub fn request_message(view: &RequestView) -> MessageBody {
    MessageBody {
        content: request_content(view),
        embeds: review_embeds(&view.request.reviews),
    }
}

/// `You have a new Role Request:`, the field lines and the status line. Past Discord's
/// limit the fields are cut, never the status, which is what an edit is for.
pub fn request_content(view: &RequestView) -> String {
    const HEADER: &str = "You have a new Role Request:\n";
    let status = status_text(view.status, &view.resolve_reason);
    let room = CONTENT_LIMIT.saturating_sub(HEADER.len() + status.chars().count() + 1);
    let mut fields = request_fields(view);
    if fields.chars().count() > room {
        fields = clip(&fields, room);
        fields.push('\n');
    }
    format!("{HEADER}{fields}{status}")
}

/// The request message's ID line, which a lookup finds it by (see `client/lookup.rs`).
pub fn request_id_line(request_id: &str) -> String {
    format!("*ID*: {request_id}\n")
}

/// One `*Name*: value` line per field, as in the Go plugins.
pub fn request_fields(view: &RequestView) -> String {
    let request: &AccessRequest = &view.request;
    let mut lines =
        FieldLines::request_head(&request.id, &view.cluster, &request.user, INLINE_LIMIT);
    if !request.roles.is_empty() {
        lines.push("Role(s)", &clip(&request.roles.join(","), INLINE_LIMIT));
    }
    // The view's list survives the request's deletion (kept in plugin data), so the last
    // edit of a deleted request still names its resources.
    let resources: Vec<String> = if view.resources.is_empty() {
        request.resources.iter().map(ToString::to_string).collect()
    } else {
        view.resources.clone()
    };
    if !resources.is_empty() {
        lines.push(
            "Resource(s)",
            &markdown_escape_inline(&resources.join(","), INLINE_LIMIT),
        );
    }
    if !request.request_reason.is_empty() {
        lines.push(
            "Reason",
            &markdown_escape(&request.request_reason, REASON_LIMIT),
        );
    }
    for review in review_fields(view.link(), view.status, &request.id) {
        lines.push(review.name, &review.markdown());
    }
    lines.into_text()
}

/// `*Status*: ⏳ PENDING` (`*Status*:  PROMOTED`, two spaces, as Go's common
/// `MsgStatusText`), plus a `*Resolution reason*` line when there is one.
pub fn status_text(status: Status, resolve_reason: &str) -> String {
    let mut out = format!("*Status*: {}", status_field(status));
    if !resolve_reason.is_empty() {
        out.push_str("\n*Resolution reason*: ");
        out.push_str(&markdown_escape(resolve_reason, REASON_LIMIT));
    }
    out
}

/// One embed per review, oldest first; past Discord's limits the oldest are left out, so
/// the latest reviews always show.
pub fn review_embeds(reviews: &[AccessReview]) -> Vec<Embed> {
    let mut embeds: Vec<Embed> = reviews.iter().map(review_embed).collect();
    let excess = embeds.len().saturating_sub(EMBEDS_LIMIT);
    embeds.drain(..excess);
    while embeds.iter().map(embed_len).sum::<usize>() > EMBEDS_TOTAL_LIMIT {
        embeds.remove(0);
    }
    embeds
}

/// A review as the Go plugin shows it: `Approved request at <Unix date>` in green or
/// `Denied request at …` in red, the reason as the description, the reviewer as author.
pub fn review_embed(review: &AccessReview) -> Embed {
    let at = review
        .created
        .map(unix_date)
        .unwrap_or_else(|| "an unknown time".to_owned());
    let (verb, color) = match review.proposed_state {
        RequestState::Approved => ("Approved", GREEN),
        RequestState::Denied => ("Denied", RED),
        _ => ("Reviewed", 0),
    };
    let description = if review.reason.is_empty() {
        String::new()
    } else {
        format!("Reason: {}", markdown_escape(&review.reason, REASON_LIMIT))
    };
    Embed {
        title: format!("{verb} request at {at}"),
        description,
        color,
        author: EmbedAuthor {
            name: clip(&review.author, EMBED_LINE_LIMIT),
        },
    }
}

fn embed_len(embed: &Embed) -> usize {
    embed.title.chars().count()
        + embed.description.chars().count()
        + embed.author.name.chars().count()
}

/// Go's `time.UnixDate` (`Mon Jan _2 15:04:05 MST 2006`), in UTC.
pub fn unix_date(at: OffsetDateTime) -> String {
    let layout = format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] UTC [year]"
    );
    // Only fixed-width numbers and names: formatting cannot fail.
    at.to_offset(time::UtcOffset::UTC)
        .format(&layout)
        .unwrap_or_default()
}
