//! The Discord message content and review embeds.

use teleport_client::{AccessReview, RequestState};
use teleport_discord::render::{
    EMBEDS_LIMIT, EMBEDS_TOTAL_LIMIT, GREEN, RED, request_content, request_message, review_embed,
    review_embeds, unix_date,
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

fn review(author: &str, state: RequestState, reason: &str) -> AccessReview {
    AccessReview {
        author: author.into(),
        proposed_state: state,
        reason: reason.into(),
        created: Some(datetime!(2026-01-02 15:04:05 UTC)),
    }
}

#[test]
fn pending_content_without_web_ui_shows_tsh_commands() {
    assert_eq!(
        request_content(&view(Status::Pending, None)),
        format!(
            "You have a new Role Request:\n\
             *ID*: {ID}\n\
             *Cluster*: teleport.example.com\n\
             *User*: alice@example.com\n\
             *Role(s)*: editor,auditor\n\
             *Reason*: ```\ndeploy hotfix```\n\
             *Approve*: `tsh request review --approve {ID}`\n\
             *Deny*: `tsh request review --deny {ID}`\n\
             *Status*: ⏳ PENDING"
        )
    );
}

#[test]
fn resolved_content_with_web_ui_shows_the_link_and_reason() {
    let mut resolved = view(
        Status::Resolved(Resolution::Denied),
        Some("https://teleport.example.com"),
    );
    resolved.resolve_reason = "not now".into();
    assert_eq!(
        request_content(&resolved),
        format!(
            "You have a new Role Request:\n\
             *ID*: {ID}\n\
             *Cluster*: teleport.example.com\n\
             *User*: alice@example.com\n\
             *Role(s)*: editor,auditor\n\
             *Reason*: ```\ndeploy hotfix```\n\
             *Link*: https://teleport.example.com/web/requests/{ID}\n\
             *Status*: ❌ DENIED\n\
             *Resolution reason*: ```\nnot now```"
        )
    );
    assert!(
        request_content(&view(Status::Resolved(Resolution::Expired), None))
            .ends_with("*Status*: ⌛ EXPIRED")
    );
    // Go's common MsgStatusText: `"*Status*: %s %s"` with PROMOTED's empty emoji.
    assert!(
        request_content(&view(Status::Resolved(Resolution::Promoted), None))
            .ends_with("*Status*:  PROMOTED")
    );
}

#[test]
fn review_embeds_as_the_go_plugin_draws_them() {
    let approved = review_embed(&review(
        "bob@example.com",
        RequestState::Approved,
        "ok `go`",
    ));
    assert_eq!(
        approved.title,
        "Approved request at Fri Jan  2 15:04:05 UTC 2026"
    );
    assert_eq!(
        approved.description,
        "Reason: ```\nok `\u{feff}go`\u{feff}```"
    );
    assert_eq!(approved.color, GREEN);
    assert_eq!(approved.author.name, "bob@example.com");
    let denied = review_embed(&review("carol@example.com", RequestState::Denied, ""));
    assert_eq!(
        denied.title,
        "Denied request at Fri Jan  2 15:04:05 UTC 2026"
    );
    assert_eq!(denied.description, "");
    assert_eq!(denied.color, RED);

    // On the wire: empty fields left out, as Go's omitempty does.
    let json = serde_json::to_value(&denied).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "title": "Denied request at Fri Jan  2 15:04:05 UTC 2026",
            "color": RED,
            "author": { "name": "carol@example.com" }
        })
    );
    assert_eq!(
        unix_date(datetime!(2026-11-20 09:08:07 +02:00)),
        "Fri Nov 20 07:08:07 UTC 2026"
    );
}

#[test]
fn the_message_carries_every_review_within_discords_limits() {
    let mut pending = view(Status::Pending, None);
    pending.request.reviews = vec![
        review("bob@example.com", RequestState::Approved, ""),
        review("carol@example.com", RequestState::Denied, "no"),
    ];
    let message = request_message(&pending);
    assert_eq!(message.embeds.len(), 2);
    assert_eq!(message.embeds[1].author.name, "carol@example.com");

    // Twelve long reviews: only the latest that fit (10 embeds, 6000 characters) show.
    pending.request.reviews = (0..12)
        .map(|i| {
            review(
                &format!("reviewer{i}"),
                RequestState::Approved,
                &"x".repeat(600),
            )
        })
        .collect();
    let embeds = review_embeds(&pending.request.reviews);
    assert!(embeds.len() <= EMBEDS_LIMIT);
    let total: usize = embeds
        .iter()
        .map(|e| {
            e.title.chars().count() + e.description.chars().count() + e.author.name.chars().count()
        })
        .sum();
    assert!(total <= EMBEDS_TOTAL_LIMIT, "{total}");
    assert_eq!(
        embeds.last().map(|e| e.author.name.as_str()),
        Some("reviewer11")
    );

    // A very long role list still fits Discord's 2000 characters of content.
    let roles: Vec<String> = (0..400).map(|i| format!("role-{i}")).collect();
    pending.request.roles = roles;
    pending.request.request_reason = "y".repeat(3000);
    pending.request.user = "u".repeat(400);
    pending.cluster = "c".repeat(400);
    pending.status = Status::Resolved(Resolution::Denied);
    pending.resolve_reason = "z".repeat(600);
    let content = request_content(&pending);
    assert!(
        content.chars().count() <= 2000,
        "{}",
        content.chars().count()
    );
    assert!(
        content.contains("\n*Status*: ❌ DENIED\n*Resolution reason*: ```\nzzz"),
        "the status is never cut: {content}"
    );
}
