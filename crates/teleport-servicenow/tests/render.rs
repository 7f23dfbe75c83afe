//! The incident, note and approval texts (the Go plugin's words and line breaks).

use teleport_client::{AccessReview, RequestState, ResourceId};
use teleport_plugin_testsupport::access_request;
use teleport_servicenow::render::{
    approval_reason, close_notes, description, review_note, short_description,
};
use time::macros::datetime;

const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

#[test]
fn incident_short_description_and_description() {
    let mut request = access_request(ID, "alice", &["editor", "auditor"], "deploy");
    assert_eq!(
        short_description(&request),
        "Teleport access request from user alice"
    );
    assert_eq!(
        description(&request, "prod", Some("https://teleport.example.com/")),
        format!(
            "Teleport user alice submitted access request for roles editor, auditor on Teleport cluster prod.\n\
             Reason: deploy\n\
             Click this link to review the request in Teleport: https://teleport.example.com/web/requests/{ID}\n"
        )
    );
    request.request_reason.clear();
    assert_eq!(
        description(&request, "prod", None),
        "Teleport user alice submitted access request for roles editor, auditor on Teleport cluster prod.\n\n\n"
    );
    request.resources = vec![ResourceId {
        cluster: "prod".into(),
        kind: "node".into(),
        name: "db-1".into(),
        sub_resource: String::new(),
    }];
    assert!(
        description(&request, "prod", None).starts_with(
            "Teleport user alice submitted access request on Teleport cluster prod.\n"
        )
    );
}

#[test]
fn notes_and_approval_reason() {
    let review = AccessReview {
        author: "bob".into(),
        proposed_state: RequestState::Denied,
        reason: "not today".into(),
        created: Some(datetime!(2026-01-02 15:04:05 UTC)),
    };
    assert_eq!(
        review_note(&review),
        "bob reviewed the request at 02 Jan 26 15:04 UTC.\nResolution: DENIED.\nReason: not today."
    );
    let quiet = AccessReview {
        reason: String::new(),
        proposed_state: RequestState::Approved,
        ..review
    };
    assert_eq!(
        review_note(&quiet),
        "bob reviewed the request at 02 Jan 26 15:04 UTC.\nResolution: APPROVED.\n"
    );
    assert_eq!(
        close_notes("Solution provided", ""),
        "Access request has been Solution provided\n"
    );
    assert_eq!(
        close_notes("resolved", "ok"),
        "Access request has been resolved\nReason: ok"
    );
    assert_eq!(
        approval_reason("alice", &["r1".into(), "r2".into()]),
        "Access requested by user alice who is on call on service(s) r1, r2"
    );
}
