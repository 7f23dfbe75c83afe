//! The texts the plugin writes to Datadog and Teleport: the incident's title and summary,
//! the timeline cells for reviews and the resolution (the facts Go's plugin writes), and the
//! auto-approval reason; and how an incident is found again by its summary's `ID:` line.

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::format::{request_link, status_label};
use teleport_plugin_runtime::messaging::Status;
use teleport_plugin_runtime::record::Resolution;

/// `Access request from <user>`.
pub fn incident_title(request: &AccessRequest) -> String {
    format!("Access request from {}", request.user)
}

/// The incident's summary: which request, on which cluster, for whom and what, and where to
/// review it.
pub fn incident_summary(request: &AccessRequest, cluster: &str, web_base: Option<&str>) -> String {
    let mut lines = vec![
        "You have a new Access Request:".to_owned(),
        String::new(),
        id_line(&request.id),
        format!("Cluster: {cluster}"),
        format!("User: {}", request.user),
        format!("Role(s): {}", request.roles.join(", ")),
    ];
    if !request.resources.is_empty() {
        let resources: Vec<String> = request.resources.iter().map(ToString::to_string).collect();
        lines.push(format!("Resource(s): {}", resources.join(", ")));
    }
    if let Some(base) = web_base {
        lines.push(format!("Link: {}", request_link(base, &request.id)));
    }
    lines.join("\n")
}

/// The summary's line naming the request: `ID: <request id>`.
fn id_line(request_id: &str) -> String {
    format!("ID: {request_id}")
}

/// The incident search (Datadog's query syntax) for the incidents whose text holds the
/// request's ID: one quoted phrase, so the ID's hyphens are not read as operators.
pub fn incident_search_query(request_id: &str) -> String {
    let escaped = request_id.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Whether an incident's summary names this request on its own `ID:` line, as
/// [`incident_summary`] writes it. A search may match the ID anywhere (another incident
/// quoting it, a longer ID starting with it); only this line makes the incident the
/// request's.
pub fn names_request(summary: &str, request_id: &str) -> bool {
    let line = id_line(request_id);
    !request_id.is_empty() && summary.lines().any(|l| l.trim_end() == line)
}

/// The timeline cell for one review.
pub fn review_cell(review: &AccessReview) -> String {
    let mut text = format!(
        "{} reviewed the request.\nResolution: {}.",
        review.author, review.proposed_state
    );
    if !review.reason.is_empty() {
        text.push_str(&format!("\nReason: {}.", review.reason));
    }
    text
}

/// The timeline cell posted before the incident is resolved.
pub fn resolution_cell(resolution: Resolution, reason: &str) -> String {
    let mut text = format!(
        "Access request is {}",
        status_label(Status::Resolved(resolution))
    );
    if !reason.is_empty() {
        text.push_str(&format!("\nReason: {reason}"));
    }
    text
}

/// The reason of an auto-approval review, in Go's words (audit logs are searched for them).
pub fn approval_reason(user: &str) -> String {
    format!(
        "Access request has been automatically approved by {:?} plugin because user {user:?} is on-call.",
        crate::PLUGIN_NAME
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

    #[test]
    fn an_incident_is_found_again_by_its_summarys_id_line_only() {
        let request = AccessRequest {
            id: ID.into(),
            user: "alice@example.com".into(),
            roles: vec!["editor".into()],
            ..Default::default()
        };
        assert_eq!(incident_search_query(ID), format!("\"{ID}\""));
        assert_eq!(incident_search_query(r#"a"b\c"#), r#""a\"b\\c""#);
        assert!(names_request(&incident_summary(&request, "prod", None), ID));
        // What a search may also match: the ID quoted elsewhere, or a longer ID.
        assert!(!names_request(&format!("Follows up on {ID}"), ID));
        assert!(!names_request(&format!("ID: {ID}-2\nUser: bob"), ID));
        assert!(!names_request("ID: ", ""));
    }
}
