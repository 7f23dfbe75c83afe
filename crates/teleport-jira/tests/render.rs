//! The texts in Jira, character for character as the Go plugin's templates produce them.

use teleport_client::{AccessReview, RequestState};
use teleport_jira::render;
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;
use time::macros::datetime;

#[test]
fn summary_and_description_as_go() {
    let mut request = access_request(
        "req-1",
        "alice@example.com",
        &["dev", "ops"],
        "fix the outage",
    );
    request.created = Some(datetime!(2024-05-01 12:34 UTC));
    assert_eq!(
        render::summary(&request),
        "alice@example.com requested dev, ops"
    );
    assert_eq!(
        render::description(&request, None),
        "User *alice@example.com* requested an access on *01 May 24 12:34 UTC* with the following roles:\n\
         \n* dev\n\n* ops\n\n\
         \nReason: *fix the outage*\n\n\
         Request ID: *req-1*\n"
    );
    request.request_reason.clear();
    assert_eq!(
        render::description(&request, Some("https://teleport.example.com")),
        "User *alice@example.com* requested an access on *01 May 24 12:34 UTC* with the following roles:\n\
         \n* dev\n\n* ops\n\n\n\
         Request ID: *req-1*\n\
         To approve or deny the request, proceed to https://teleport.example.com/web/requests/req-1"
    );
}

#[test]
fn long_reasons_are_cut_at_3000_bytes() {
    let reason = format!("because {}", "é".repeat(2000));
    let request = access_request("req-1", "alice", &["dev"], &reason);
    let text = render::description(&request, None);
    let shown = text
        .split("Reason: *")
        .nth(1)
        .unwrap()
        .split("*\n")
        .next()
        .unwrap();
    assert!(
        shown.len() <= 3000 && shown.len() >= 2998,
        "{}",
        shown.len()
    );
    assert!(reason.starts_with(shown));
}

#[test]
fn review_and_resolution_comments_as_go() {
    let review = AccessReview {
        author: "bob".into(),
        proposed_state: RequestState::Denied,
        reason: "not now".into(),
        created: Some(datetime!(2024-05-01 13:00 UTC)),
    };
    assert_eq!(
        render::review_comment(&review),
        "*bob* reviewed the request at *01 May 24 13:00 UTC*.\nResolution: *DENIED*.\nReason: not now."
    );
    let silent = AccessReview {
        reason: String::new(),
        ..review
    };
    assert_eq!(
        render::review_comment(&silent),
        "*bob* reviewed the request at *01 May 24 13:00 UTC*.\nResolution: *DENIED*.\n"
    );
    assert_eq!(
        render::resolution_comment(Resolution::Approved, "ok"),
        "Access request has been approved\nReason: ok"
    );
    assert_eq!(
        render::resolution_comment(Resolution::Expired, ""),
        "Access request has been expired\n"
    );
}
