//! Slack review buttons end to end: the fake Slack's Socket Mode pushes clicks, the
//! testkit decides as Teleport does who may review what.

use crate::common;

use std::time::Duration;

use common::{WAIT, fake_slack_options, setup};
use teleport_client::wire::types::{AccessRequestV3, RequestState};
use teleport_fakes::{FakeSlack, PostedMessage, block_actions_payload};
use teleport_slack::render::{APPROVE_ACTION_ID, DENY_ACTION_ID, REVIEW_BLOCK_ID};
use teleport_testkit::{Testkit, user_resource};

const APP_TOKEN: &str = "xapp-1-fake-app-token";

/// The plugin may submit for anyone; `bob` may review `dba` requests and is bound to Slack
/// user U0BOB by trait; `carol` is bound to U0CAROL but may review nothing.
async fn world() -> common::Setup {
    let kit = Testkit::builder().start().await.unwrap();
    kit.allow_submit_for("access-plugin", &["*"]);
    kit.add_reviewer("bob", &["dba"]);
    kit.put_user(user_resource(
        "bob",
        &["bob-reviewer"],
        &[("slack_uid", &["U0BOB"])],
    ));
    kit.put_user(user_resource("carol", &[], &[("slack_uid", &["U0CAROL"])]));
    let slack = FakeSlack::start(fake_slack_options()).await;
    slack.set_app_token(Some(APP_TOKEN));
    let s = setup(
        kit,
        slack,
        &format!(
            r#"
[review]
enabled = true
app_token = "{APP_TOKEN}"
slack_user_id_trait = "slack_uid"
"#
        ),
    )
    .await;
    s.slack
        .wait_until(WAIT, || {
            (s.slack.live_socket_connections() > 0).then_some(())
        })
        .await
        .unwrap();
    s
}

/// A pending `dba` request and its message in the dba channel.
async fn request(s: &common::Setup) -> (String, PostedMessage) {
    let request = s
        .kit
        .new_request("alice@example.com", &["dba"])
        .create()
        .unwrap();
    let id = request.metadata.unwrap().name;
    let message = s
        .slack
        .wait_for(WAIT, |state| {
            state
                .root_messages()
                .find(|m| m.channel == "C0DBA")
                .cloned()
        })
        .await
        .unwrap();
    (id, message)
}

fn click(user: &str, message: &PostedMessage, action: &str, id: &str) -> serde_json::Value {
    block_actions_payload(
        user,
        &message.channel,
        &message.ts,
        REVIEW_BLOCK_ID,
        action,
        id,
    )
}

async fn ephemeral_for(s: &common::Setup, user: &str, count: usize) -> Vec<String> {
    s.slack
        .wait_until(WAIT, || {
            let texts: Vec<String> = s
                .slack
                .ephemeral_messages()
                .into_iter()
                .filter(|m| m.user == user)
                .map(|m| m.text)
                .collect();
            (texts.len() >= count).then_some(texts)
        })
        .await
        .unwrap()
}

fn reviews(s: &common::Setup, id: &str) -> Vec<String> {
    let request: AccessRequestV3 = s.kit.get_request(id).unwrap();
    request
        .spec
        .unwrap()
        .reviews
        .into_iter()
        .map(|r| r.author)
        .collect()
}

fn buttons(message: &PostedMessage) -> Vec<String> {
    let blocks = message.current().blocks.clone().unwrap_or_default();
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["block_id"] == REVIEW_BLOCK_ID)
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            format!(
                "{}={}",
                e["action_id"].as_str().unwrap_or(""),
                e["value"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_mapped_reviewer_approves_once_and_is_told() {
    let s = world().await;
    let (id, message) = request(&s).await;
    assert_eq!(
        buttons(&message),
        [
            format!("{APPROVE_ACTION_ID}={id}"),
            format!("{DENY_ACTION_ID}={id}")
        ],
        "a pending request carries Approve/Deny with its id"
    );

    let envelope = s
        .slack
        .push_interaction(click("U0BOB", &message, APPROVE_ACTION_ID, &id))
        .unwrap();
    let approved = s
        .kit
        .wait_for_request(&id, WAIT, |r| {
            r.spec.as_ref().unwrap().state == RequestState::Approved as i32
        })
        .await
        .unwrap();
    let spec = approved.spec.unwrap();
    assert_eq!(spec.reviews.len(), 1);
    assert_eq!(
        spec.reviews[0].author, "bob",
        "the review is the person's, not the plugin's"
    );
    assert!(
        s.slack.socket_acks().contains(&envelope),
        "the envelope is acknowledged"
    );

    let told = ephemeral_for(&s, "U0BOB", 1).await;
    assert!(
        told[0].contains("approval") && told[0].contains(&id),
        "{told:?}"
    );
    // The message is updated by the usual path, and loses its buttons once resolved.
    let updated = s
        .slack
        .wait_for(WAIT, |state| {
            state
                .message(&message.channel, &message.ts)
                .filter(|m| m.current().visible_text().contains("APPROVED"))
                .cloned()
        })
        .await
        .unwrap();
    assert!(
        buttons(&updated).is_empty(),
        "no buttons on a resolved request"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn an_unmapped_slack_user_changes_nothing() {
    let s = world().await;
    let (id, message) = request(&s).await;
    // U0LEAD exists in Slack but no Teleport user carries its id (and e-mail matching is off).
    s.slack
        .push_interaction(click("U0LEAD", &message, APPROVE_ACTION_ID, &id))
        .unwrap();
    let told = ephemeral_for(&s, "U0LEAD", 1).await;
    assert_eq!(told, ["Insufficient permissions to review request"]);
    assert!(reviews(&s, &id).is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn a_mapped_user_without_review_rights_is_refused() {
    let s = world().await;
    let (id, message) = request(&s).await;
    // The plugin may submit for anyone, yet carol's own roles decide, and she has none.
    s.slack
        .push_interaction(click("U0CAROL", &message, DENY_ACTION_ID, &id))
        .unwrap();
    let told = ephemeral_for(&s, "U0CAROL", 1).await;
    assert_eq!(told, ["Insufficient permissions to review request"]);
    assert!(reviews(&s, &id).is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn a_redelivered_envelope_reviews_once() {
    let s = world().await;
    let (id, message) = request(&s).await;
    let payload = click("U0BOB", &message, DENY_ACTION_ID, &id);
    assert!(s.slack.push_interaction_with_id("env-dup", payload.clone()));
    assert!(s.slack.push_interaction_with_id("env-dup", payload));
    s.slack
        .wait_until(WAIT, || {
            (s.slack
                .socket_acks()
                .iter()
                .filter(|a| *a == "env-dup")
                .count()
                == 2)
                .then_some(())
        })
        .await
        .unwrap();
    let told = ephemeral_for(&s, "U0BOB", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reviews(&s, &id), ["bob"]);
    assert_eq!(s.slack.ephemeral_messages().len(), 1, "{told:?}");
    s.shutdown().await;
}

#[tokio::test]
async fn socket_drop_and_disconnect_reconnect_and_still_work() {
    let s = world().await;
    let (id, message) = request(&s).await;
    let opened = s.slack.socket_connections_opened();
    s.slack.drop_socket_connections();
    s.slack
        .wait_until(WAIT, || {
            (s.slack.socket_connections_opened() > opened && s.slack.live_socket_connections() > 0)
                .then_some(())
        })
        .await
        .unwrap();
    let opened = s.slack.socket_connections_opened();
    assert!(s.slack.socket_disconnect("refresh_requested"));
    s.slack
        .wait_until(WAIT, || {
            (s.slack.socket_connections_opened() > opened && s.slack.live_socket_connections() > 0)
                .then_some(())
        })
        .await
        .unwrap();

    s.slack
        .push_interaction(click("U0BOB", &message, APPROVE_ACTION_ID, &id))
        .unwrap();
    s.kit
        .wait_for_request(&id, WAIT, |r| {
            r.spec.as_ref().unwrap().state == RequestState::Approved as i32
        })
        .await
        .unwrap();
    s.shutdown().await;
}
