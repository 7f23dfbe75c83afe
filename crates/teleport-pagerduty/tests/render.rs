//! The texts written to PagerDuty and Teleport: the Go plugin's wording, RFC 822 times.

use teleport_client::{AccessRequest, AccessReview, RequestState, ResourceId};
use teleport_pagerduty::render::{
    OnCallIn, approval_reason, incident_details, incident_title, on_call_summary, resolution_note,
    review_note, rfc822,
};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;
use time::macros::datetime;

fn request() -> AccessRequest {
    AccessRequest {
        created: Some(datetime!(2024-03-05 14:07:09 UTC)),
        ..access_request(
            "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b",
            "alice@example.com",
            &["dev", "dba"],
            "fix the outage",
        )
    }
}

#[test]
fn times_are_go_rfc822_in_utc() {
    assert_eq!(
        rfc822(datetime!(2024-03-05 14:07:09 UTC)),
        "05 Mar 24 14:07 UTC"
    );
    assert_eq!(
        rfc822(datetime!(2024-03-05 23:30:00 -2)),
        "06 Mar 24 01:30 UTC"
    );
}

#[test]
fn incident_title_and_body() {
    let request = request();
    assert_eq!(
        incident_title(&request),
        "Access request from alice@example.com"
    );
    assert_eq!(
        incident_details(&request, None),
        "alice@example.com requested permissions for roles dev, dba on Teleport at 05 Mar 24 14:07 UTC.\n\
         Reason: fix the outage"
    );
    let mut with_more = request.clone();
    with_more.request_reason.clear();
    with_more.resources.push(ResourceId {
        cluster: "example.com".into(),
        kind: "node".into(),
        name: "db-1".into(),
        sub_resource: String::new(),
    });
    assert_eq!(
        incident_details(&with_more, Some("https://teleport.example.com/")),
        "alice@example.com requested permissions for roles dev, dba on Teleport at 05 Mar 24 14:07 UTC.\n\
         Resources: /example.com/node/db-1\n\
         To approve or deny the request, proceed to https://teleport.example.com/web/requests/3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
    );
}

#[test]
fn review_and_resolution_notes() {
    let review = AccessReview {
        author: "bob".into(),
        proposed_state: RequestState::Denied,
        reason: "not today".into(),
        created: Some(datetime!(2024-03-05 15:00:00 UTC)),
    };
    assert_eq!(
        review_note(&review),
        "bob reviewed the request at 05 Mar 24 15:00 UTC.\nResolution: DENIED.\nReason: not today."
    );
    let silent = AccessReview {
        reason: String::new(),
        ..review
    };
    assert_eq!(
        review_note(&silent),
        "bob reviewed the request at 05 Mar 24 15:00 UTC.\nResolution: DENIED."
    );
    assert_eq!(
        resolution_note(Resolution::Approved, "ok"),
        "Access request has been approved\nReason: ok"
    );
    assert_eq!(
        resolution_note(Resolution::Expired, ""),
        "Access request has been expired"
    );
}

#[test]
fn approval_reason_is_go_s_and_the_log_summary_names_levels_and_schedules() {
    let on_call = [
        OnCallIn {
            service: "service 1".into(),
            escalation_level: 1,
            schedule: Some("Primary".into()),
        },
        OnCallIn {
            service: "service 2".into(),
            escalation_level: 2,
            schedule: None,
        },
    ];
    assert_eq!(
        approval_reason("Alice Doe", "alice@example.com", &on_call),
        "Access requested by user Alice Doe (alice@example.com) who is on call in service(s) \
         service 1,service 2"
    );
    assert_eq!(
        on_call_summary(&on_call),
        "service 1 (escalation level 1, schedule Primary), service 2 (escalation level 2)"
    );
}
