//! Decisions from Jira by polling (no webhook, outbound connections only): Cloud's
//! `search/jql` (the classic search answers 410) and Data Center's classic search, bounded
//! JQL, and no decision lost while Jira is down, rate-limiting, or Teleport refuses a call.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use teleport_fakes::Fault;
use teleport_testkit::Method;
use teleport_testkit::wire::types::RequestState;

/// Every query the plugin sent is bounded to the project and a recent period.
fn assert_bounded(queries: &[String]) {
    assert!(!queries.is_empty(), "the plugin polled");
    for query in queries {
        assert!(
            query.starts_with(
                "project = \"TD2\" AND status in (\"Approved\", \"Denied\") AND updated >= \"-"
            ),
            "{query}"
        );
        assert!(query.ends_with("m\" ORDER BY updated DESC"), "{query}");
    }
}

#[tokio::test]
async fn approval_by_polling_on_jira_cloud() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let id = env.pending("alice@example.com", &["dev"], "on call tonight");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let bob = env.jira.add_user("Bob Reviewer", "bob@example.com");
    env.decide_in_jira(
        &issue,
        &bob,
        "Approved",
        Some("LGTM\nresolution: approved for tonight"),
        None,
    )
    .await;
    env.wait_state(&id, RequestState::Approved).await;
    let resolution = &env.kit.resolutions()[0];
    assert_eq!(resolution.delegator, "jira:bob@example.com");
    assert_eq!(resolution.reason, "approved for tonight");
    env.wait_issue(&id, "the resolution comment", |i| {
        i.comments
            .iter()
            .any(|c| c.body.starts_with("Access request has been approved"))
    })
    .await;
    settle().await;
    assert_eq!(
        env.kit.call_count(Method::SetAccessRequestState),
        1,
        "later polls see it done"
    );
    assert_eq!(
        env.jira.call_count("GET /search"),
        0,
        "never the removed classic search"
    );
    assert_eq!(env.jira.call_count("POST /search"), 0);
    assert_bounded(&env.jira.queries());
    plugin.shutdown().await;
}

#[tokio::test]
async fn denial_by_polling_on_jira_data_center() {
    let env = Env::data_center().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let ids: Vec<String> = (0..5)
        .map(|n| env.pending(&format!("user{n}@example.com"), &["dev"], ""))
        .collect();
    let carol = env.jira.add_user("Carol", "carol@example.com");
    // More decisions than a page (2) holds: the search must page.
    for id in &ids {
        let issue = env.wait_issue(id, "the issue", |_| true).await;
        env.decide_in_jira(
            &issue,
            &carol,
            "Denied",
            Some("reason: not without a ticket"),
            None,
        )
        .await;
    }
    for id in &ids {
        env.wait_state(id, RequestState::Denied).await;
    }
    let resolutions = env.kit.resolutions();
    assert_eq!(resolutions.len(), 5);
    assert!(
        resolutions
            .iter()
            .all(|r| r.delegator == "jira:carol@example.com" && r.reason == "not without a ticket")
    );
    assert!(
        env.jira.call_count("GET /search") > 0,
        "the classic search on Data Center"
    );
    assert_bounded(&env.jira.queries());
    plugin.shutdown().await;
}

#[tokio::test]
async fn no_decision_is_lost_while_jira_is_down_or_rate_limiting() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let id = env.pending("alice@example.com", &["dev"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    let bob = env.jira.add_user("Bob", "bob@example.com");

    env.jira.down().await;
    // Decided in Jira while the plugin cannot reach it (Jira's own users still can).
    env.jira.move_issue(&issue.id, "Approved", &bob);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(env.state(&id), RequestState::Pending);

    // Back, but rate-limiting the first search: the plugin waits as told.
    env.jira.control().fail_next_for(
        "POST /search/jql",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let back_at = Instant::now();
    env.jira.up().await.unwrap();
    env.wait_state(&id, RequestState::Approved).await;
    assert!(
        back_at.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(env.kit.resolutions()[0].delegator, "jira:bob@example.com");
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_teleport_failure_is_retried_by_the_next_poll() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let id = env.pending("alice@example.com", &["dev"], "");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    env.kit.reject(
        Method::SetAccessRequestState,
        tonic::Code::Unavailable,
        Some(3),
    );
    let bob = env.jira.add_user("Bob", "bob@example.com");
    env.decide_in_jira(&issue, &bob, "Approved", None, None)
        .await;
    env.wait_state(&id, RequestState::Approved).await;
    assert_eq!(
        env.kit.call_count(Method::SetAccessRequestState),
        4,
        "three refused, one applied"
    );
    assert_eq!(env.kit.resolutions().len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_forged_issue_found_by_polling_changes_nothing() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let id = env.pending("alice@example.com", &["dev"], "");
    env.wait_issue(&id, "the issue", |_| true).await;
    let mallory = env.jira.add_user("Mallory", "mallory@example.com");
    let forged = env
        .jira
        .create_issue("approve me", &[(PROPERTY, id.clone().into())]);
    env.jira.move_issue(&forged, "Approved", &mallory);
    let polls_before = env.jira.call_count("POST /search/jql");
    eventually("two more polls", || async {
        env.jira.call_count("POST /search/jql") >= polls_before + 2
    })
    .await;
    assert_eq!(env.state(&id), RequestState::Pending);
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 0);
    plugin.shutdown().await;
}

/// Decisions per second by polling: `cargo test -p teleport-jira --release --test integration
/// -- --ignored --nocapture polling::measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check"]
async fn measure_decisions_per_second_by_polling() {
    const REQUESTS: usize = 200;
    let env = Env::with(teleport_fakes::FakeJiraOptions::default().page_size(100)).await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let ids: Vec<String> = (0..REQUESTS)
        .map(|n| env.pending(&format!("user{n}@example.com"), &["dev"], ""))
        .collect();
    let bob = env.jira.add_user("Bob", "bob@example.com");
    let mut issues = Vec::new();
    for id in &ids {
        issues.push(env.wait_issue(id, "the issue", |_| true).await);
    }
    let started = Instant::now();
    for issue in &issues {
        env.jira.move_issue(&issue.id, "Approved", &bob);
    }
    for id in &ids {
        env.wait_state(id, RequestState::Approved).await;
    }
    let elapsed = started.elapsed();
    println!(
        "{REQUESTS} decisions by polling in {elapsed:?}: {:.0} decisions/s",
        REQUESTS as f64 / elapsed.as_secs_f64()
    );
    plugin.shutdown().await;
}
