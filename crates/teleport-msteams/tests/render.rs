//! The adaptive card: Go's layout (title, status, facts, the web UI button or the tsh
//! commands, the reviews section).

use teleport_client::{AccessRequest, AccessReview, RequestState};
use teleport_msteams::render::request_card;
use teleport_plugin_runtime::messaging::{RequestView, Status};
use teleport_plugin_runtime::record::Resolution;
use time::macros::datetime;

fn view(status: Status, web_base: Option<&str>) -> RequestView {
    RequestView {
        request: AccessRequest {
            id: "3f1a2b4c-0000-4000-8000-000000000001".into(),
            user: "alice@example.com".into(),
            roles: vec!["editor".into(), "auditor".into()],
            request_reason: "deploy".into(),
            state: RequestState::Pending,
            ..AccessRequest::default()
        },
        cluster: "teleport.example.com".into(),
        web_base: web_base.map(str::to_owned),
        status,
        resolve_reason: String::new(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
    }
}

fn facts(card: &serde_json::Value) -> Vec<(String, String)> {
    card["body"][2]["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .map(|f| {
            (
                f["title"].as_str().unwrap_or_default().to_owned(),
                f["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_pending_card_without_web_ui_has_the_tsh_commands() {
    let card = request_card(&view(Status::Pending, None));
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.2");
    assert_eq!(
        card["body"][0]["text"],
        "Access Request 3f1a2b4c-0000-4000-8000-000000000001"
    );
    let status = &card["body"][1]["columns"];
    assert_eq!(status[0]["items"][0]["text"], "⏳");
    assert_eq!(status[1]["items"][0]["text"], "PENDING");
    assert_eq!(status[1]["items"][0]["color"], "Accent");
    let facts = facts(&card);
    let titles: Vec<&str> = facts.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        ["Cluster", "User", "Role(s)", "Reason", "Approve", "Deny"]
    );
    assert_eq!(facts[2].1, "editor, auditor");
    assert_eq!(
        facts[4].1,
        "tsh request review --approve 3f1a2b4c-0000-4000-8000-000000000001"
    );
    assert_eq!(card["actions"].as_array().map(Vec::len), Some(0));
}

#[test]
fn with_a_web_ui_there_is_an_open_button_instead() {
    let card = request_card(&view(Status::Pending, Some("https://teleport.example.com")));
    assert!(facts(&card).iter().all(|(t, _)| t != "Approve"));
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][0]["title"], "Open");
    assert_eq!(
        card["actions"][0]["url"],
        "https://teleport.example.com/web/requests/3f1a2b4c-0000-4000-8000-000000000001"
    );
}

#[test]
fn a_resolved_card_shows_the_outcome_and_each_review() {
    let mut view = view(Status::Resolved(Resolution::Denied), None);
    view.resolve_reason = "not today".into();
    view.request.reviews = vec![AccessReview {
        author: "bob@example.com".into(),
        proposed_state: RequestState::Denied,
        reason: "risky".into(),
        created: Some(datetime!(2026-01-02 15:04:05 UTC)),
    }];
    let card = request_card(&view);
    let status = &card["body"][1]["columns"];
    assert_eq!(status[0]["items"][0]["text"], "❌");
    assert_eq!(status[1]["items"][0]["text"], "DENIED");
    assert_eq!(status[1]["items"][0]["color"], "Attention");
    let facts = facts(&card);
    assert!(facts.contains(&("Resolution reason".into(), "not today".into())));
    assert!(facts.iter().all(|(t, _)| t != "Approve"));
    assert_eq!(card["body"][3]["text"], "Reviews");
    let review: Vec<(&str, &str)> = card["body"][4]["facts"]
        .as_array()
        .expect("review facts")
        .iter()
        .map(|f| {
            (
                f["title"].as_str().unwrap_or(""),
                f["value"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        review,
        [
            ("Status", "❌"),
            ("Author", "bob@example.com"),
            ("Created at", "02 Jan 26 15:04 UTC"),
            ("Reason", "risky"),
        ]
    );
}

#[test]
fn promoted_has_no_emoji_and_long_reasons_are_cut() {
    let mut view = view(Status::Resolved(Resolution::Promoted), None);
    view.request.request_reason = "x".repeat(5000);
    let card = request_card(&view);
    assert_eq!(card["body"][1]["columns"][0]["items"][0]["text"], "");
    assert_eq!(
        card["body"][1]["columns"][1]["items"][0]["text"],
        "PROMOTED"
    );
    let reason = facts(&card)
        .into_iter()
        .find(|(t, _)| t == "Reason")
        .map(|(_, v)| v)
        .expect("reason");
    assert!(reason.ends_with(" (truncated)"));
    assert!(reason.chars().count() < 1100);
}
