//! The incident, timeline and approval texts (the facts Go's plugin writes).

use teleport_client::{AccessReview, RequestState};
use teleport_datadog::render::{
    approval_reason, incident_summary, incident_title, resolution_cell, review_cell,
};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;

const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

#[test]
fn incident_title_and_summary() {
    let request = access_request(ID, "alice@example.com", &["editor", "auditor"], "deploy");
    assert_eq!(
        incident_title(&request),
        "Access request from alice@example.com"
    );
    assert_eq!(
        incident_summary(&request, "prod", Some("https://teleport.example.com/")),
        format!(
            "You have a new Access Request:\n\nID: {ID}\nCluster: prod\nUser: alice@example.com\n\
             Role(s): editor, auditor\nLink: https://teleport.example.com/web/requests/{ID}"
        )
    );
    assert!(!incident_summary(&request, "prod", None).contains("Link:"));
}

#[test]
fn timeline_cells_and_approval_reason() {
    let review = AccessReview {
        author: "bob@example.com".into(),
        proposed_state: RequestState::Denied,
        reason: "not today".into(),
        created: None,
    };
    assert_eq!(
        review_cell(&review),
        "bob@example.com reviewed the request.\nResolution: DENIED.\nReason: not today."
    );
    assert_eq!(
        resolution_cell(Resolution::Expired, ""),
        "Access request is ⌛ EXPIRED"
    );
    assert_eq!(
        resolution_cell(Resolution::Approved, "ok"),
        "Access request is ✅ APPROVED\nReason: ok"
    );
    assert_eq!(
        approval_reason("alice@example.com"),
        "Access request has been automatically approved by \"datadog\" plugin because user \"alice@example.com\" is on-call."
    );
}
