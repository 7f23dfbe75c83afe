//! The texts the plugin writes to ServiceNow and Teleport, in the Go plugin's words and
//! layout (its templates' line breaks included): the incident's short description and
//! description, review work notes, close notes, and the auto-approval reason.

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::format::{request_link, review_time};

/// `Teleport access request from user <user>`.
pub fn short_description(request: &AccessRequest) -> String {
    format!("Teleport access request from user {}", request.user)
}

/// The incident description: who asked for which roles (a resource request: for access) on
/// which cluster, the reason, and the link to review it, each line present even when
/// empty, as Go's template writes it.
pub fn description(request: &AccessRequest, cluster: &str, web_base: Option<&str>) -> String {
    let what = if request.resources.is_empty() {
        format!(" for roles {}", request.roles.join(", "))
    } else {
        String::new()
    };
    let reason = if request.request_reason.is_empty() {
        String::new()
    } else {
        format!("Reason: {}", request.request_reason)
    };
    let link = web_base
        .map(|base| {
            format!(
                "Click this link to review the request in Teleport: {}",
                request_link(base, &request.id)
            )
        })
        .unwrap_or_default();
    format!(
        "Teleport user {user} submitted access request{what} on Teleport cluster {cluster}.\n{reason}\n{link}\n",
        user = request.user,
    )
}

/// The work note for one review.
pub fn review_note(review: &AccessReview) -> String {
    let reason = if review.reason.is_empty() {
        String::new()
    } else {
        format!("Reason: {}.", review.reason)
    };
    format!(
        "{author} reviewed the request at {when}.\nResolution: {state}.\n{reason}",
        author = review.author,
        when = review_time(review.created),
        state = review.proposed_state,
    )
}

/// The close notes: Go words the outcome with the configured close code.
pub fn close_notes(close_code: &str, resolve_reason: &str) -> String {
    let reason = if resolve_reason.is_empty() {
        String::new()
    } else {
        format!("Reason: {resolve_reason}")
    };
    format!("Access request has been {close_code}\n{reason}")
}

/// The reason of an auto-approval review.
pub fn approval_reason(user: &str, rotas: &[String]) -> String {
    format!(
        "Access requested by user {user} who is on call on service(s) {}",
        rotas.join(", ")
    )
}
