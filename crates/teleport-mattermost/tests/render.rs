//! The Mattermost post, review comment and requester notice texts.

use teleport_client::{AccessReview, RequestState};
use teleport_mattermost::render::{
    markdown_escape, request_post, requester_notice, review_comment,
};
use teleport_plugin_runtime::messaging::{RequestView, Status};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;
use time::macros::datetime;

const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

fn view(status: Status, web_base: Option<&str>) -> RequestView {
    RequestView {
        request: access_request(
            ID,
            "alice@example.com",
            &["editor", "auditor"],
            "deploy hotfix",
        ),
        cluster: "teleport.example.com".into(),
        web_base: web_base.map(str::to_owned),
        status,
        resolve_reason: String::new(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
    }
}

#[test]
fn pending_post_without_web_ui_shows_tsh_commands() {
    assert_eq!(
        request_post(&view(Status::Pending, None)),
        format!(
            "*You have new pending request to review!*\n\
             **User**: alice@example.com\n\
             **Roles**: editor, auditor\n\
             **Request ID**: {ID}\n\
             **Reason**: ```\ndeploy hotfix```\n\
             **Status**: ⏳ PENDING\n\
             **Approve**: `tsh request review --approve {ID}`\n\
             **Deny**: `tsh request review --deny {ID}`"
        )
    );
}

#[test]
fn resolved_post_with_web_ui_shows_the_link_and_reason() {
    let mut resolved = view(
        Status::Resolved(Resolution::Denied),
        Some("https://teleport.example.com"),
    );
    resolved.resolve_reason = "not now".into();
    let link = format!("https://teleport.example.com/web/requests/{ID}");
    assert_eq!(
        request_post(&resolved),
        format!(
            "**User**: alice@example.com\n\
             **Roles**: editor, auditor\n\
             **Request ID**: {ID}\n\
             **Reason**: ```\ndeploy hotfix```\n\
             **Status**: ❌ DENIED\n\
             **Resolution reason**: ```\nnot now```\n\
             **Link**: [{link}]({link})"
        )
    );
    assert!(
        request_post(&view(Status::Resolved(Resolution::Expired), None)).contains("⌛ EXPIRED")
    );
    assert!(
        request_post(&view(Status::Resolved(Resolution::Promoted), None))
            .ends_with("**Status**:  PROMOTED"),
        "Go's template writes the empty emoji and a space: two spaces"
    );
    let notice = requester_notice(&resolved);
    assert!(notice.starts_with(&format!(
        "Request with ID `{ID}` has been updated: **DENIED**"
    )));
    assert!(notice.contains("**Resolution reason**: ```\nnot now```"));
}

#[test]
fn review_comment_wording() {
    let review = AccessReview {
        author: "bob@example.com".into(),
        proposed_state: RequestState::Approved,
        reason: "ok `go`".into(),
        created: Some(datetime!(2026-01-02 15:04:05 UTC)),
    };
    assert_eq!(
        review_comment(&review),
        "bob@example.com reviewed the request at 02 Jan 26 15:04 UTC.\n\
         Resolution: ✅ APPROVED.\n\
         Reason: ```\nok `\u{feff}go`\u{feff}```."
    );
    let denied = AccessReview {
        proposed_state: RequestState::Denied,
        reason: String::new(),
        ..review
    };
    assert_eq!(
        review_comment(&denied),
        "bob@example.com reviewed the request at 02 Jan 26 15:04 UTC.\nResolution: ❌ DENIED."
    );
}

#[test]
fn markdown_escape_matches_the_go_limit_rule() {
    let long = format!("because of {}", "A".repeat(4000));
    assert_eq!(
        markdown_escape(&long, 500),
        format!("```\nbecause of {}``` (truncated)", "A".repeat(489))
    );
    assert_eq!(markdown_escape("   ", 500), "(empty)");
}
