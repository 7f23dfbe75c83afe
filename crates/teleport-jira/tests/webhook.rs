//! Decisions from Jira by webhook: approval and denial with delegator and reason; refused
//! callers, oversized, malformed and forged bodies change nothing; a decision delivered
//! twice, or seen by webhook and polling, is applied once.

use crate::common;

use std::time::Duration;

use common::*;
use teleport_fakes::jira::{Delivery, WebhookTarget};
use teleport_testkit::Method;
use teleport_testkit::wire::types::RequestState;

/// Nothing was decided for `id`: still pending, no SetAccessRequestState at all.
fn unchanged(env: &Env, id: &str) {
    assert_eq!(env.state(id), RequestState::Pending);
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 0);
}

#[tokio::test]
async fn approval_in_jira_by_webhook_with_delegator_and_reason() {
    let env = Env::new().await;
    let (plugin, target) = env.start_webhook(env.https(None, false), None).await;
    let id = env.pending("alice@example.com", &["dev"], "deploy");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let bob = env.jira.add_user("Bob Reviewer", "bob@example.com");
    env.jira
        .comment(&issue.id, &bob, "Reason: seen it all before");
    // Someone else's later comment is not bob's reason.
    let eve = env.jira.add_user("Eve", "eve@example.com");
    let delivery = env
        .decide_in_jira(&issue, &bob, "Approved", None, Some(&target))
        .await;
    env.jira.comment(&issue.id, &eve, "reason: eve says so");
    assert_eq!(delivery, Some(Delivery::Status(200)));
    assert_eq!(
        env.state(&id),
        RequestState::Approved,
        "applied before the answer"
    );
    let resolutions = env.kit.resolutions();
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].delegator, "jira:bob@example.com");
    assert_eq!(resolutions[0].reason, "seen it all before");
    assert_eq!(resolutions[0].caller.as_deref(), Some(PLUGIN_USER));

    // Teleport's side then resolves the issue: a comment, and no transition (it is there).
    let issue = env
        .wait_issue(&id, "the resolution comment", |i| {
            i.comments
                .iter()
                .any(|c| c.body.starts_with("Access request has been approved"))
        })
        .await;
    assert_eq!(issue.status, "Approved");
    assert_eq!(
        issue.changelog.len(),
        1,
        "no transition by the plugin: {:#?}",
        issue.changelog
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn denial_in_jira_data_center_with_a_multi_line_reason() {
    let env = Env::data_center().await;
    let (plugin, target) = env.start_webhook(env.https(None, false), None).await;
    let id = env.pending("alice@example.com", &["dba"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let carol = env.jira.add_user("Carol Admin", "carol@example.com");
    let delivery = env
        .decide_in_jira(
            &issue,
            &carol,
            "Denied",
            Some("Reason:\n\nfoo\nbar\nbaz"),
            Some(&target),
        )
        .await;
    assert_eq!(delivery, Some(Delivery::Status(200)));
    assert_eq!(env.state(&id), RequestState::Denied);
    let resolution = &env.kit.resolutions()[0];
    assert_eq!(resolution.delegator, "jira:carol@example.com");
    assert_eq!(resolution.reason, "foo\nbar\nbaz");
    plugin.shutdown().await;
}

#[tokio::test]
async fn refused_callers_change_nothing() {
    let env = Env::new().await;
    let (plugin, target) = env
        .start_webhook(env.https(Some(("jira", "hook-secret")), true), None)
        .await;
    let good = WebhookTarget {
        basic_auth: Some(("jira".into(), "hook-secret".into())),
        client_identity: Some(env.pki.client.clone()),
        ..target
    };
    let id = env.pending("alice@example.com", &["dev"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let bob = env.jira.add_user("Bob", "bob@example.com");
    env.jira.move_issue(&issue.id, "Approved", &bob);

    let no_auth = WebhookTarget {
        basic_auth: None,
        ..good.clone()
    };
    assert_eq!(
        env.jira.send_webhook(&no_auth, &issue.id, &bob).await,
        Delivery::Status(401)
    );
    let wrong = WebhookTarget {
        basic_auth: Some(("jira".into(), "guess".into())),
        ..good.clone()
    };
    assert_eq!(
        env.jira.send_webhook(&wrong, &issue.id, &bob).await,
        Delivery::Status(401)
    );
    let no_cert = WebhookTarget {
        client_identity: None,
        ..good.clone()
    };
    assert!(matches!(
        env.jira.send_webhook(&no_cert, &issue.id, &bob).await,
        Delivery::Failed(_)
    ));
    let stranger = WebhookTarget {
        client_identity: Some(env.pki.stranger.clone()),
        ..good.clone()
    };
    assert!(matches!(
        env.jira.send_webhook(&stranger, &issue.id, &bob).await,
        Delivery::Failed(_)
    ));
    settle().await;
    unchanged(&env, &id);
    assert_eq!(
        env.jira.call_count("GET /issue/{id}"),
        0,
        "Jira was never asked"
    );

    assert_eq!(
        env.jira.send_webhook(&good, &issue.id, &bob).await,
        Delivery::Status(200)
    );
    assert_eq!(env.state(&id), RequestState::Approved);
    plugin.shutdown().await;
}

#[tokio::test]
async fn oversized_malformed_and_forged_bodies_change_nothing() {
    let env = Env::new().await;
    let (plugin, target) = env.start_webhook(env.https(None, false), None).await;
    let id = env.pending("alice@example.com", &["dev"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let mallory = env.jira.add_user("Mallory", "mallory@example.com");

    // Oversized: over Jira's 25 MiB, refused before it is read, let alone parsed.
    let mut huge = env
        .jira
        .webhook_body(&issue.id, &mallory)
        .to_string()
        .into_bytes();
    huge.resize(25 * 1024 * 1024 + 1, b' ');
    assert_eq!(
        env.jira.send_raw(&target, huge).await,
        Delivery::Status(413)
    );

    assert_eq!(
        env.jira.send_raw(&target, b"{not json".to_vec()).await,
        Delivery::Status(400)
    );
    let no_issue =
        br#"{"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic"}"#;
    assert_eq!(
        env.jira.send_raw(&target, no_issue.to_vec()).await,
        Delivery::Status(400)
    );
    let bad_id = br#"{"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic","issue":{"id":"../../myself"}}"#;
    assert_eq!(
        env.jira.send_raw(&target, bad_id.to_vec()).await,
        Delivery::Status(400)
    );
    let unknown = br#"{"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic","issue":{"id":"99999"}}"#;
    assert_eq!(
        env.jira.send_raw(&target, unknown.to_vec()).await,
        Delivery::Status(404)
    );
    let other_event = br#"{"webhookEvent":"jira:issue_created","issue":{"id":"1"}}"#;
    assert_eq!(
        env.jira.send_raw(&target, other_event.to_vec()).await,
        Delivery::Status(200)
    );

    // Forged: an issue made by hand naming the real request, moved to Approved.
    let forged = env
        .jira
        .create_issue("please approve me", &[(PROPERTY, id.clone().into())]);
    env.jira.move_issue(&forged, "Approved", &mallory);
    assert_eq!(
        env.jira.send_webhook(&target, &forged, &mallory).await,
        Delivery::Status(422)
    );
    // A payload claiming "Approved" for the real issue, still Pending in Jira.
    let mut lie = env.jira.webhook_body(&issue.id, &mallory);
    lie["issue"]["fields"]["status"]["name"] = "Approved".into();
    assert_eq!(
        env.jira
            .send_raw(&target, lie.to_string().into_bytes())
            .await,
        Delivery::Status(200)
    );
    settle().await;
    unchanged(&env, &id);
    assert_eq!(env.jira.issue(&issue.id).unwrap().status, "Pending");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_decision_delivered_twice_or_also_polled_is_applied_once() {
    let env = Env::new().await;
    // Both ways at once: the webhook and polling every 200 ms.
    let (plugin, target) = env
        .start_webhook(env.https(None, false), Some(Duration::from_secs(30)))
        .await;
    let first = env.pending("alice@example.com", &["dev"], "");
    let second = env.pending("bob@example.com", &["ops"], "");
    let bob = env.jira.add_user("Bob", "bob@example.com");
    for id in [&first, &second] {
        let issue = env.wait_issue(id, "the issue", |_| true).await;
        env.jira.move_issue(&issue.id, "Approved", &bob);
        let (a, b, c) = tokio::join!(
            env.jira.send_webhook(&target, &issue.id, &bob),
            env.jira.send_webhook(&target, &issue.id, &bob),
            env.jira.send_webhook(&target, &issue.id, &bob),
        );
        for delivery in [a, b, c] {
            assert!(
                matches!(delivery, Delivery::Status(200 | 503)),
                "{delivery:?}"
            );
        }
    }
    env.wait_state(&first, RequestState::Approved).await;
    env.wait_state(&second, RequestState::Approved).await;
    settle().await;
    // Redelivered long after.
    let issue = env.issues_for(&first).remove(0);
    assert_eq!(
        env.jira.send_webhook(&target, &issue.id, &bob).await,
        Delivery::Status(200)
    );
    settle().await;
    assert_eq!(
        env.kit.call_count(Method::SetAccessRequestState),
        2,
        "one per request"
    );
    assert_eq!(env.kit.resolutions().len(), 2);
    assert!(
        env.jira.call_count("POST /search/jql") > 0,
        "polling ran too"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn jira_or_teleport_down_answers_503_and_nothing_is_half_done() {
    let env = Env::new().await;
    let (plugin, target) = env.start_webhook(env.https(None, false), None).await;
    let id = env.pending("alice@example.com", &["dev"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let bob = env.jira.add_user("Bob", "bob@example.com");
    env.jira.move_issue(&issue.id, "Approved", &bob);

    env.jira.control().rate_limit_next(1, 7);
    let delivery = env.jira.send_webhook(&target, &issue.id, &bob).await;
    assert_eq!(delivery, Delivery::Status(503));
    env.kit.reject(
        Method::SetAccessRequestState,
        tonic_code_unavailable(),
        Some(1),
    );
    assert_eq!(
        env.jira.send_webhook(&target, &issue.id, &bob).await,
        Delivery::Status(503)
    );
    assert_eq!(env.state(&id), RequestState::Pending);
    assert_eq!(
        env.data(&id)
            .get("decision")
            .map(String::as_str)
            .unwrap_or(""),
        "",
        "no lease left behind"
    );

    // Jira sends it again: applied.
    assert_eq!(
        env.jira.send_webhook(&target, &issue.id, &bob).await,
        Delivery::Status(200)
    );
    assert_eq!(env.state(&id), RequestState::Approved);
    plugin.shutdown().await;
}

fn tonic_code_unavailable() -> tonic::Code {
    tonic::Code::Unavailable
}

#[tokio::test]
async fn plain_http_behind_a_tls_terminating_proxy() {
    let env = Env::new().await;
    let http = teleport_plugin_runtime::inbound::HttpConfig::plain("127.0.0.1:0");
    let (plugin, target) = env.start_webhook(http, None).await;
    let id = env.pending("alice@example.com", &["dev"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let bob = env.jira.add_user("Bob", "bob@example.com");
    let delivery = env
        .decide_in_jira(&issue, &bob, "Denied", None, Some(&target))
        .await;
    assert_eq!(delivery, Some(Delivery::Status(200)));
    assert_eq!(env.state(&id), RequestState::Denied);
    let status = teleport_plugin_testsupport::http_get(
        target
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap(),
        "/status",
    )
    .await
    .unwrap();
    assert_eq!(status.0, "HTTP/1.1 200 OK");
    tokio::time::sleep(Duration::from_millis(10)).await;
    plugin.shutdown().await;
}
