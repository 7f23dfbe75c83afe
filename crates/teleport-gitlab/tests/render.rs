//! The texts the plugin writes to GitLab, whole: the issue title and description (with and
//! without a reason and a link), review and resolution notes, and untrusted text that must
//! neither run quick actions nor mention anyone.

use teleport_client::{AccessReview, RequestState};
use teleport_gitlab::render;
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;
use time::macros::datetime;

const ID: &str = "0f2b7e4c-1111-4222-8333-944455556666";

#[test]
fn description_in_go_wording_with_link_and_reason() {
    let mut request = access_request(ID, "alice@example.com", &["dev", "ops"], "fix prod");
    request.created = Some(datetime!(2024-03-05 16:07:09 UTC));
    assert_eq!(
        render::issue_title(&request),
        "Access request from alice@example.com"
    );
    assert_eq!(
        render::issue_description(&request, Some("https://teleport.example.com")),
        "`alice@example.com` requested permissions for roles **`dev`**, **`ops`** on Teleport at \
         **05 Mar 24 16:07 UTC**. To approve or deny the request, please assign a corresponding \
         label and close the issue or proceed to \
         https://teleport.example.com/web/requests/0f2b7e4c-1111-4222-8333-944455556666.\n\n\
         Reason: **`fix prod`**.\n\n\
         Request ID is `0f2b7e4c-1111-4222-8333-944455556666`."
    );
}

#[test]
fn description_without_reason_or_link() {
    let request = access_request(ID, "bob", &["dba"], "  ");
    assert_eq!(
        render::issue_description(&request, None),
        "`bob` requested permissions for roles **`dba`** on Teleport. To approve or deny the \
         request, please assign a corresponding label and close the issue.\n\n\
         Request ID is `0f2b7e4c-1111-4222-8333-944455556666`."
    );
}

#[test]
fn review_and_resolution_notes() {
    let review = AccessReview {
        author: "carol".into(),
        proposed_state: RequestState::Denied,
        reason: "not during the freeze".into(),
        created: Some(datetime!(2024-03-05 17:00:00 UTC)),
    };
    assert_eq!(
        render::review_note(&review),
        "**`carol`** reviewed the request at **05 Mar 24 17:00 UTC**.\n\n\
         Resolution: **DENIED**.\n\n\
         Reason: `not during the freeze`."
    );
    let silent = AccessReview {
        reason: String::new(),
        created: None,
        ..review
    };
    assert_eq!(
        render::review_note(&silent),
        "**`carol`** reviewed the request at **an unknown time**.\n\nResolution: **DENIED**."
    );
    assert_eq!(
        render::resolution_note(Resolution::Expired, ""),
        "Access request has been expired"
    );
    assert_eq!(
        render::resolution_note(Resolution::Approved, "ok"),
        "Access request has been approved\n\nReason: `ok`"
    );
}

#[test]
fn hostile_text_runs_no_quick_action_and_mentions_nobody() {
    let reason = "please\n/label ~\"Teleport: Approved\"\n/close\n@all `break out` here";
    let request = access_request(ID, "/close", &["dev\n/assign @me"], reason);
    let description = render::issue_description(&request, None);
    for line in description.lines() {
        assert!(
            !line.trim_start().starts_with('/'),
            "a line starts a quick action: {line:?}"
        );
    }
    // Every piece of untrusted text sits in a code span, where GitLab links no mention.
    assert!(description.contains("**`please /label ~\"Teleport: Approved\" /close @all `\u{feff}break out`\u{feff} here`**"), "{description}");
    assert!(
        description.starts_with("`/close` requested"),
        "{description}"
    );
    assert_eq!(
        render::request_id_in(&description).as_deref(),
        Some(ID),
        "the plugin's own ID line still wins"
    );

    let review = AccessReview {
        author: "mallory".into(),
        proposed_state: RequestState::Approved,
        reason: "x\n/close".into(),
        created: None,
    };
    let note = render::review_note(&review);
    assert!(note.lines().all(|l| !l.starts_with('/')), "{note}");

    let long = "a".repeat(render::REASON_LIMIT + 50);
    let cut = render::resolution_note(Resolution::Denied, &long);
    assert!(cut.ends_with("` (truncated)"), "{cut}");
}
