//! Reconcile on takeover: a replica that died between Slack accepting a request's message
//! and recording it leaves a lapsed lease; the replica taking over finds the message by
//! its metadata (`conversations.history`) in each unrecorded recipient's channel — a
//! channel named in the config, a user's DM — instead of posting it again. A new request
//! costs no lookup.

use crate::common;

use std::time::Duration;

use common::{WAIT, fake_slack_options, setup};
use teleport_fakes::FakeSlack;
use teleport_fakes::control::Fault;
use teleport_plugin_testsupport::{eventually, lapsed_lease};
use teleport_slack::client::{
    REQUEST_EVENT_TYPE, REQUEST_ID_KEY, SlackApi, SlackApiConfig, SlackToken,
};
use teleport_testkit::Testkit;

/// Root messages in `channel` whose metadata names request `id`.
fn messages_of(slack: &FakeSlack, channel: &str, id: &str) -> Vec<String> {
    slack
        .root_messages()
        .into_iter()
        .filter(|m| m.channel == channel)
        .filter(|m| {
            m.metadata.as_ref().is_some_and(|meta| {
                meta["event_type"] == REQUEST_EVENT_TYPE
                    && meta["event_payload"][REQUEST_ID_KEY] == id
            })
        })
        .map(|m| m.ts)
        .collect()
}

#[tokio::test]
async fn a_post_slack_accepted_but_nobody_recorded_is_found_not_posted_again() {
    let kit = Testkit::start().await.unwrap();
    let slack = FakeSlack::start(fake_slack_options()).await;
    // `dba` goes to `#dba-team` (a name: found through conversations.list) and to the lead
    // (a user: their DM through conversations.open).
    let request = kit.create_request("carol", &["dba"], "backup").unwrap();
    let id = request.metadata.unwrap().name;

    // The replica that died: it claimed the request, posted to #dba-team, and was killed
    // before writing that down; its lease lapsed a moment ago.
    let api = SlackApi::plain_http(
        SlackApiConfig::new(SlackToken::new(slack.token())).with_api_url(slack.base_url()),
    );
    let crashed = api
        .post_request_message("dba-team", &[], "the crashed replica's post", &id)
        .await
        .unwrap();
    let lapsed = lapsed_lease();
    kit.put_plugin_data(
        "access_request",
        &id,
        "slack",
        &[("user", "carol"), ("roles", "dba"), ("claim", &lapsed)],
    )
    .unwrap();
    // Lookups meet Slack's rate limit first: they wait like sends.
    slack.control().fail_next_for(
        "conversations.history",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );

    let s = setup(kit, slack, "").await;
    eventually("both recipients recorded", WAIT, || async {
        s.kit
            .plugin_data(&id, "slack")
            .is_some_and(|d| d.get("sent_to").is_some_and(|t| t.split(',').count() == 2))
    })
    .await;
    let data = s.kit.plugin_data(&id, "slack").unwrap();
    assert!(
        data["messages"].contains(&format!("C0DBA/{}", crashed.ts)),
        "the crashed replica's message is recorded: {data:?}"
    );
    assert_eq!(
        messages_of(&s.slack, "C0DBA", &id),
        vec![crashed.ts.clone()]
    );
    assert_eq!(
        messages_of(&s.slack, "U0LEAD", &id).len(),
        1,
        "the lead's DM is posted once"
    );
    assert!(
        s.slack.call_count("conversations.history") >= 3,
        "one 429, then each recipient"
    );
    assert_eq!(s.slack.call_count("conversations.open"), 1);

    // The found message is then kept current like any other.
    s.kit.approve(&id, "ok").unwrap();
    s.slack
        .wait_for(WAIT, |state| {
            state
                .message("C0DBA", &crashed.ts)
                .filter(|m| m.current().visible_text().contains("APPROVED"))
                .map(drop)
        })
        .await
        .unwrap();
    s.shutdown().await;
}

#[tokio::test]
async fn a_new_request_is_posted_with_its_metadata_and_looks_nothing_up() {
    let kit = Testkit::start().await.unwrap();
    let s = setup(kit, FakeSlack::start(fake_slack_options()).await, "").await;

    let request = s
        .kit
        .create_request("carol", &["editor"], "deploy")
        .unwrap();
    let id = request.metadata.unwrap().name;
    eventually("the message recorded", WAIT, || async {
        s.kit
            .plugin_data(&id, "slack")
            .is_some_and(|d| d.get("messages").is_some_and(|m| !m.is_empty()))
    })
    .await;
    assert_eq!(messages_of(&s.slack, "C0REQ", &id).len(), 1);
    for method in [
        "conversations.history",
        "conversations.open",
        "conversations.list",
    ] {
        assert_eq!(s.slack.call_count(method), 0, "{method}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(messages_of(&s.slack, "C0REQ", &id).len(), 1);
    s.shutdown().await;
}
