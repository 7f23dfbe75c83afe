//! The alert, note and approval texts (the Go plugin's wording).

use teleport_client::{AccessReview, RequestState};
use teleport_opsgenie::render::{
    alert_description, alert_message, approval_reason, resolution_note, review_note,
};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;
use time::macros::datetime;

const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

#[test]
fn alert_title_and_description() {
    let mut request = access_request(ID, "alice@example.com", &["editor", "auditor"], "deploy");
    request.created = Some(datetime!(2026-01-02 15:04:05 UTC));
    assert_eq!(
        alert_message(&request),
        "Access request from alice@example.com"
    );
    assert_eq!(
        alert_description(&request, Some("https://teleport.example.com/")),
        format!(
            "alice@example.com requested permissions for roles editor, auditor on Teleport at 02 Jan 26 15:04 UTC.\n\
             Reason: deploy\n\
             To approve or deny the request, proceed to https://teleport.example.com/web/requests/{ID}"
        )
    );
    request.request_reason.clear();
    assert_eq!(
        alert_description(&request, None),
        "alice@example.com requested permissions for roles editor, auditor on Teleport at 02 Jan 26 15:04 UTC."
    );
    request.user = "x".repeat(200);
    assert_eq!(alert_message(&request).chars().count(), 130);
}

#[test]
fn notes_and_approval_reason() {
    let review = AccessReview {
        author: "bob@example.com".into(),
        proposed_state: RequestState::Denied,
        reason: "not today".into(),
        created: Some(datetime!(2026-01-02 15:04:05 UTC)),
    };
    assert_eq!(
        review_note(&review),
        "bob@example.com reviewed the request at 02 Jan 26 15:04 UTC.\nResolution: DENIED.\nReason: not today."
    );
    assert_eq!(
        resolution_note(Resolution::Expired, ""),
        "Access request has been expired"
    );
    assert_eq!(
        resolution_note(Resolution::Approved, "ok"),
        "Access request has been approved\nReason: ok"
    );
    assert_eq!(
        approval_reason("alice@example.com", &["Primary".into(), "Night".into()]),
        "Access requested by user alice@example.com who is on call on schedule(s) Primary, Night"
    );
}
