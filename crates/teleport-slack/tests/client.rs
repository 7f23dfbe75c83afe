//! The Slack client against the fake Slack on loopback: success paths and every error class.

use std::time::Duration;

use serde_json::json;
use teleport_fakes::{FakeSlack, FakeSlackOptions, Fault};
use teleport_plugin_runtime::service_error::ServiceError;
use teleport_slack::client::{
    MessageRef, SlackApi, SlackApiConfig, SlackError, SlackToken, UserId,
};

const TOKEN: &str = "xoxb-test-token";

async fn fake() -> FakeSlack {
    FakeSlack::start(
        FakeSlackOptions::default()
            .token(TOKEN)
            .channel("C0001", "access-requests")
            .user("alice@example.com", "U0ALICE"),
    )
    .await
}

fn client(
    fake: &FakeSlack,
    token: &str,
) -> SlackApi<hyper_util::client::legacy::connect::HttpConnector> {
    SlackApi::plain_http(
        SlackApiConfig::new(SlackToken::new(token))
            .with_api_url(fake.base_url())
            .with_timeout(Duration::from_secs(10)),
    )
}

fn blocks(text: &str) -> Vec<serde_json::Value> {
    vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})]
}

#[tokio::test]
async fn auth_test_ok_and_bad_token() {
    let fake = fake().await;
    let identity = client(&fake, TOKEN).auth_test().await.expect("auth.test");
    assert!(!identity.user_id.is_empty());
    assert!(!identity.team.is_empty());

    let err = client(&fake, "xoxb-wrong").auth_test().await.unwrap_err();
    assert!(
        matches!(&err, SlackError::Auth { code } if code == "invalid_auth"),
        "{err:?}"
    );
    assert!(
        matches!(
            ServiceError::from(err.clone()),
            ServiceError::Unauthorized { .. }
        ),
        "a refused token is retried loudly, not given up on"
    );
    assert!(err.to_string().contains("token"), "{err}");
}

#[tokio::test]
async fn post_reply_update_round_trip() {
    let fake = fake().await;
    let api = client(&fake, TOKEN);

    let root = api
        .post_message("#access-requests", &blocks("pending"), "fallback")
        .await
        .expect("post");
    assert_eq!(
        root.channel, "C0001",
        "the channel ID comes back, not the name"
    );

    let reply = api
        .post_thread_reply(&root, "reviewed")
        .await
        .expect("reply");
    assert_ne!(reply.ts, root.ts);
    api.update_message(&root, &blocks("approved"), "fallback 2")
        .await
        .expect("update");

    let stored = fake.message(&root.channel, &root.ts).expect("root stored");
    assert!(stored.is_root());
    assert_eq!(stored.posted.block_texts(), ["pending"]);
    assert_eq!(stored.posted.text.as_deref(), Some("fallback"));
    assert_eq!(stored.edits.len(), 1);
    assert_eq!(stored.current().block_texts(), ["approved"]);
    assert_eq!(stored.current().text.as_deref(), Some("fallback 2"));

    let replies = fake.thread_replies(&root.channel, &root.ts);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].ts, reply.ts);
    assert_eq!(replies[0].posted.text.as_deref(), Some("reviewed"));
    assert_eq!(replies[0].posted.blocks, None);
}

#[tokio::test]
async fn lookup_by_email() {
    let fake = fake().await;
    let api = client(&fake, TOKEN);
    assert_eq!(
        api.lookup_user_by_email("alice@example.com").await.unwrap(),
        Some(UserId("U0ALICE".to_owned()))
    );
    assert_eq!(
        api.lookup_user_by_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );

    // A looked-up user ID works as a DM channel.
    let dm = api
        .post_message("U0ALICE", &blocks("hi"), "")
        .await
        .unwrap();
    assert_eq!(dm.channel, "U0ALICE");
}

#[tokio::test]
async fn rate_limit_surfaces_with_retry_after_and_no_hidden_retry() {
    let fake = fake().await;
    fake.control().fail_next_for(
        "chat.postMessage",
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let api = client(&fake, TOKEN);

    let err = api
        .post_message("C0001", &blocks("x"), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, SlackError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(ServiceError::from(err.clone()).is_retryable());
    assert_eq!(
        fake.call_count("chat.postMessage"),
        1,
        "the client must not retry by itself"
    );
    assert!(fake.messages().is_empty());

    // The next call goes through.
    api.post_message("C0001", &blocks("x"), "x").await.unwrap();
}

#[tokio::test]
async fn server_errors_and_outages_are_transient() {
    let fake = fake().await;
    let api = client(&fake, TOKEN);

    fake.control()
        .fail_next(1, Fault::ServerError { status: 500 });
    let err = api.auth_test().await.unwrap_err();
    assert!(matches!(err, SlackError::Transient { .. }), "{err:?}");
    assert!(ServiceError::from(err.clone()).is_retryable());

    fake.down().await;
    let err = api.auth_test().await.unwrap_err();
    assert!(matches!(err, SlackError::Transient { .. }), "{err:?}");

    fake.up().await.unwrap();
    api.auth_test().await.expect("works again after up");
}

#[tokio::test]
async fn slow_answers_time_out_as_transient() {
    let fake = fake().await;
    fake.control().set_latency(Duration::from_secs(5));
    let api = SlackApi::plain_http(
        SlackApiConfig::new(SlackToken::new(TOKEN))
            .with_api_url(fake.base_url())
            .with_timeout(Duration::from_millis(100)),
    );
    let err = api.auth_test().await.unwrap_err();
    assert!(
        matches!(&err, SlackError::Transient { reason } if reason.contains("no answer")),
        "{err:?}"
    );
}

#[tokio::test]
async fn permanent_api_errors_carry_slacks_code() {
    let fake = fake().await;
    let api = client(&fake, TOKEN);

    let err = api
        .post_message("#no-such-channel", &blocks("x"), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SlackError::Api { code } if code == "channel_not_found"),
        "{err:?}"
    );
    assert!(!ServiceError::from(err.clone()).is_retryable());

    let missing = MessageRef {
        channel: "C0001".to_owned(),
        ts: "1.000001".to_owned(),
    };
    let err = api
        .update_message(&missing, &blocks("x"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("message_not_found"));
}
