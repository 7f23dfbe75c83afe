//! Rendered Slack messages: the Go plugin's wording, escaping rules and Slack's size limits.

use teleport_slack::render;

use render::*;
use time::macros::datetime;

const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

fn pending() -> RequestView {
    RequestView {
        id: ID.to_owned(),
        cluster: "teleport.example.com".to_owned(),
        user: "alice@example.com".to_owned(),
        roles: vec!["editor".to_owned(), "auditor".to_owned()],
        reason: "deploy hotfix".to_owned(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
        link_base: None,
        status: Status::Pending,
        resolve_reason: String::new(),
    }
}

fn blocks_json(message: &RenderedMessage) -> String {
    serde_json::to_string_pretty(&message.blocks).unwrap()
}

#[test]
fn markdown_escape_matches_the_go_examples() {
    let cases = [
        ("     ", 1000, "(empty)"),
        ("abc", 1000, "```\nabc```"),
        (
            "`foo` `bar`",
            1000,
            "```\n`\u{feff}foo`\u{feff} `\u{feff}bar`\u{feff}```",
        ),
        ("  123456789012345  ", 10, "```\n1234567890``` (truncated)"),
        // A backtick costs two units: 4 + 2 = 6 reaches the limit.
        ("abcd`efgh", 6, "```\nabcd`\u{feff}``` (truncated)"),
    ];
    for (input, limit, expected) in cases {
        assert_eq!(markdown_escape(input, limit), expected, "input {input:?}");
    }
    assert_eq!(markdown_escape_inline("a`b", 400), "`a`\u{feff}b`");
}

#[test]
fn long_reason_is_cut_at_500_like_the_go_plugin() {
    let mut request = pending();
    request.reason = format!("because of {}", "A".repeat(4000));
    let fields = request_fields(&request);
    let expected = format!(
        "*Reason*: ```\nbecause of {}``` (truncated)\n",
        "A".repeat(489)
    );
    assert!(fields.contains(&expected), "{fields}");
}

#[test]
fn pending_request_shows_tsh_commands() {
    let message = request_message(&pending());
    insta::assert_snapshot!("pending_blocks", blocks_json(&message));
    assert_eq!(
        message.text,
        format!(
            "You have a new Role Request from alice@example.com for editor,auditor (PENDING): {ID}"
        )
    );
    assert_eq!(
        request_fields(&pending()),
        format!(
            "*ID*: {ID}\n*Cluster*: teleport.example.com\n*User*: alice@example.com\n\
             *Role(s)*: `auditor,editor`\n*Reason*: ```\ndeploy hotfix```\n\
             *Approve*: `tsh request review --approve {ID}`\n\
             *Deny*: `tsh request review --deny {ID}`\n"
        )
    );
}

#[test]
fn roles_with_known_logins_get_one_line_each_as_in_go() {
    let mut request = pending();
    request.logins_by_role = [
        (
            "editor".to_owned(),
            vec!["ubuntu".to_owned(), "root".to_owned()],
        ),
        ("auditor".to_owned(), Vec::new()),
    ]
    .into_iter()
    .collect();
    let fields = request_fields(&request);
    assert!(
        fields.contains(
            "*Role*: `auditor` *Login(s)*: `-`\n*Role*: `editor` *Login(s)*: `root, ubuntu`\n"
        ),
        "{fields}"
    );
    assert!(!fields.contains("*Role(s)*"), "{fields}");
}

#[test]
fn approved_request_with_reason_and_link() {
    let mut request = pending();
    request.link_base = Some("https://proxy.example.com".to_owned());
    request.resources = vec!["node/db-1".to_owned(), "node/db-2".to_owned()];
    request.status = Status::Approved;
    request.resolve_reason = "okay".to_owned();
    let message = request_message(&request);
    insta::assert_snapshot!("approved_blocks", blocks_json(&message));
    assert_eq!(
        status_text(Status::Approved, "okay"),
        "*Status*: ✅ APPROVED\n*Resolution reason*: ```\nokay```"
    );
}

#[test]
fn resolved_without_link_drops_the_tsh_commands() {
    let mut request = pending();
    request.status = Status::Expired;
    request.user = String::new();
    request.reason = String::new();
    let message = request_message(&request);
    insta::assert_snapshot!("expired_blocks", blocks_json(&message));
    assert!(!request_fields(&request).contains("tsh"));
}

#[test]
fn denial_reason_is_cut_like_the_go_test() {
    let reason = format!("not okay {}", "A".repeat(4000));
    assert_eq!(
        status_text(Status::Denied, &reason),
        format!(
            "*Status*: ❌ DENIED\n*Resolution reason*: ```\nnot okay {}``` (truncated)",
            "A".repeat(491)
        )
    );
    // Go's `"*Status*: %s %s"` with PROMOTED's empty emoji: two spaces, byte for byte.
    assert_eq!(status_text(Status::Promoted, ""), "*Status*:  PROMOTED");
}

#[test]
fn review_reply_text() {
    let review = ReviewView {
        author: "bob@example.com".to_owned(),
        proposed_state: Status::Approved,
        reason: "looks `fine`".to_owned(),
        created: datetime!(2024-03-05 14:07:00 +01:00),
    };
    insta::assert_snapshot!("review_reply", review_reply(&review));
    assert_eq!(
        review_reply(&review),
        "bob@example.com reviewed the request at 05 Mar 24 13:07 UTC.\n\
         Resolution: ✅ APPROVED.\n\
         Reason: ```\nlooks `\u{feff}fine`\u{feff}```."
    );
    let no_reason = ReviewView {
        proposed_state: Status::Denied,
        reason: String::new(),
        ..review
    };
    assert_eq!(
        review_reply(&no_reason),
        "bob@example.com reviewed the request at 05 Mar 24 13:07 UTC.\nResolution: ❌ DENIED.\n"
    );
}

#[test]
fn requester_update_dm() {
    let plain = requester_update(ID, Status::Approved, "");
    assert_eq!(
        plain.text,
        format!("Request with ID \"{ID}\" has been updated: *APPROVED*")
    );
    assert_eq!(plain.blocks.len(), 1);
    assert_eq!(plain.blocks[0]["text"]["text"], plain.text.as_str());
    let with_reason = requester_update(ID, Status::Denied, "no");
    assert_eq!(
        with_reason.text,
        format!(
            "Request with ID \"{ID}\" has been updated: *DENIED*\n*Resolution reason*: ```\nno```"
        )
    );
}

#[test]
fn oversized_inputs_stay_inside_slack_limits() {
    let huge = "x".repeat(10_000);
    let request = RequestView {
        id: huge.clone(),
        cluster: huge.clone(),
        user: huge.clone(),
        roles: vec![huge.clone(); 3],
        reason: "`".repeat(10_000),
        resources: vec![huge.clone(); 3],
        logins_by_role: Default::default(),
        link_base: Some(huge.clone()),
        status: Status::Denied,
        resolve_reason: huge.clone(),
    };
    let message = request_message(&request);
    for block in &message.blocks {
        let text = block["text"]["text"]
            .as_str()
            .or_else(|| block["elements"][0]["text"].as_str())
            .unwrap();
        assert!(text.chars().count() <= SECTION_TEXT_LIMIT, "{}", text.len());
    }
    assert!(message.text.chars().count() <= MESSAGE_TEXT_LIMIT);
    let reply = review_reply(&ReviewView {
        author: huge.clone(),
        proposed_state: Status::Approved,
        reason: huge,
        created: datetime!(2024-01-01 00:00 UTC),
    });
    assert!(reply.chars().count() <= MESSAGE_TEXT_LIMIT);
}
