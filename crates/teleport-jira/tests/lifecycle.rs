//! Requests in Teleport → issues in Jira: start-up checks, an issue per request with the
//! request-ID property and plugin data, review comments, resolution from Teleport's side,
//! retries, and a Go plugin's record continued.

use crate::common;

use std::time::Duration;

use common::*;
use teleport_fakes::jira::Flavour;
use teleport_fakes::{FakeJiraOptions, Fault};
use teleport_plugin_testsupport::startup_error;
use teleport_testkit::Verdict;
use teleport_testkit::wire::types::RequestState;

#[tokio::test]
async fn start_up_checks_fail_with_one_clear_error_each() {
    let env = Env::new().await;
    let run =
        |config| teleport_jira::run(tuned(config), tokio_util::sync::CancellationToken::new());

    let mut config = env.config(None, Some(Duration::from_secs(30)));
    config.jira.api_token = teleport_plugin_runtime::config::Secret::new("wrong-token");
    let error = startup_error(WAIT, run(config)).await;
    assert!(
        error.contains("refused the plugin's credentials (HTTP 401)")
            && error.contains("jira.api_token"),
        "{error}"
    );
    assert!(!error.contains("wrong-token"), "{error}");

    let mut config = env.config(None, Some(Duration::from_secs(30)));
    config.jira.project = "NOPE".into();
    let error = startup_error(WAIT, run(config)).await;
    assert!(
        error.contains("project \"NOPE\" (jira.project) does not exist"),
        "{error}"
    );

    let mut config = env.config(None, Some(Duration::from_secs(30)));
    config.jira.issue_type = "Epic".into();
    let error = startup_error(WAIT, run(config)).await;
    assert!(
        error.contains(
            "issue type \"Epic\" (jira.issue_type) does not exist in project TD2; it has: Task"
        ),
        "{error}"
    );

    env.jira.set_permission("TRANSITION_ISSUES", false);
    env.jira.set_permission("ADD_COMMENTS", false);
    let error = startup_error(WAIT, run(env.config(None, Some(Duration::from_secs(30))))).await;
    assert_eq!(
        error,
        "Jira API health check failed: the plugin's Jira user lacks the TRANSITION_ISSUES, ADD_COMMENTS permissions in project TD2"
    );

    let mut config = env.config(None, Some(Duration::from_secs(30)));
    config.jira.url = format!("{}/not-jira", env.jira.base_url());
    let error = startup_error(WAIT, run(config)).await;
    assert!(
        error.contains("does not answer like a Jira site") && error.contains("jira.url"),
        "{error}"
    );
    assert_eq!(env.jira.issues().len(), 0);
}

#[tokio::test]
async fn a_new_request_gets_one_issue_with_the_property_and_plugin_data() {
    let env = Env::new().await;
    let mut config = env.config(None, Some(Duration::from_secs(30)));
    config.jira.issue_type = "Access Request".into();
    let plugin = env.start(config).await;
    let id = env.pending("alice@example.com", &["dev", "ops"], "fix the outage");
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    assert_eq!(issue.summary, "alice@example.com requested dev, ops");
    assert_eq!(issue.issue_type, "Access Request", "issue_type is honoured");
    assert_eq!(issue.status, "Pending");
    assert!(
        issue
            .description
            .starts_with("User *alice@example.com* requested an access on *"),
        "{}",
        issue.description
    );
    assert!(
        issue.description.contains("\n* dev\n\n* ops\n"),
        "{}",
        issue.description
    );
    assert!(
        issue.description.contains("Reason: *fix the outage*"),
        "{}",
        issue.description
    );
    assert!(
        issue.description.contains(&format!("Request ID: *{id}*")),
        "{}",
        issue.description
    );

    let data = env
        .wait_data(&id, "the issue in plugin data", |d| {
            d.get("issue_id").is_some_and(|v| !v.is_empty())
        })
        .await;
    assert_eq!(data["issue_id"], issue.id);
    assert_eq!(data["issue_key"], issue.key);
    assert_eq!(data["user"], "alice@example.com");
    assert_eq!(data["roles"], "dev,ops");
    assert_eq!(data["request_reason"], "fix the outage");
    assert!(
        data.get("claim").is_none_or(String::is_empty),
        "released: {data:?}"
    );
    settle().await;
    assert_eq!(env.issues_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn reviews_become_comments_and_teleports_decision_moves_the_issue() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let id = common_request(&env);
    env.wait_issue(&id, "the issue", |_| true).await;
    env.kit
        .review(&id, "bob", Verdict::Approve, "fine by me")
        .unwrap();
    let issue = env
        .wait_issue(&id, "the review comment", |i| i.comments.len() == 1)
        .await;
    let comment = &issue.comments[0];
    assert_eq!(comment.author.email, USERNAME);
    assert!(
        comment.body.starts_with("*bob* reviewed the request at *"),
        "{}",
        comment.body
    );
    assert!(
        comment
            .body
            .contains("Resolution: *APPROVED*.\nReason: fine by me."),
        "{}",
        comment.body
    );

    env.kit
        .review(&id, "carol", Verdict::Approve, "ok")
        .unwrap();
    let issue = env
        .wait_issue(&id, "moved to Approved", |i| i.status == "Approved")
        .await;
    let bodies: Vec<&str> = issue.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    assert!(bodies[1].starts_with("*carol* reviewed"), "{bodies:#?}");
    assert_eq!(bodies[2], "Access request has been approved\nReason: ok");
    let change = issue.changelog.last().unwrap();
    assert_eq!(
        (change.to.as_str(), change.author.email.as_str()),
        ("Approved", USERNAME)
    );
    let data = env
        .wait_data(&id, "done", |d| {
            d.get("close_progress").is_some_and(|p| p == "done")
        })
        .await;
    assert_eq!(data["resolution"], "approved", "Go's lower-case tag");
    assert_eq!(data["reviews_count"], "2");
    settle().await;
    assert_eq!(
        env.jira.issue(&issue.id).unwrap().comments.len(),
        3,
        "nothing twice"
    );
    plugin.shutdown().await;
}

fn common_request(env: &Env) -> String {
    teleport_plugin_testsupport::request_id(
        &env.kit
            .new_request("alice@example.com", &["dev"])
            .threshold("two", 2, 2)
            .reason("deploy")
            .create()
            .unwrap(),
    )
}

#[tokio::test]
async fn denial_and_expiry_from_teleport() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let denied = env.pending("alice@example.com", &["dev"], "");
    let expired = env.pending("bob@example.com", &["ops"], "");
    env.wait_issue(&denied, "issue 1", |_| true).await;
    env.wait_issue(&expired, "issue 2", |_| true).await;
    env.kit.deny(&denied, "not today").unwrap();
    env.kit.expire(&expired).unwrap();
    let issue = env
        .wait_issue(&denied, "denied", |i| i.status == "Denied")
        .await;
    assert_eq!(
        issue.comments.last().unwrap().body,
        "Access request has been denied\nReason: not today"
    );
    let issue = env
        .wait_issue(&expired, "expired", |i| i.status == "Expired")
        .await;
    assert_eq!(
        issue.comments.last().unwrap().body,
        "Access request has been expired\n"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn jira_failures_are_retried_without_duplicates() {
    let env = Env::new().await;
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    env.jira.control().fail_next_for(
        "POST /issue",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    env.jira
        .control()
        .fail_next_for("POST /issue", 1, Fault::ServerError { status: 502 });
    let id = env.pending("alice@example.com", &["dev"], "");
    env.wait_issue(&id, "the issue after a 429 and a 502", |_| true)
        .await;
    assert_eq!(env.jira.call_count("POST /issue"), 3);

    env.jira.down().await;
    env.kit.approve(&id, "go").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.jira.up().await.unwrap();
    let issue = env
        .wait_issue(&id, "approved after Jira came back", |i| {
            i.status == "Approved"
        })
        .await;
    assert_eq!(issue.comments.len(), 1, "{:#?}", issue.comments);
    assert_eq!(env.issues_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_issue_opened_before_a_crash_is_found_not_repeated() {
    let env = Env::new().await;
    // A request the plugin had claimed and opened an issue for, but crashed before
    // recording it: the record names no issue, the issue (with the request's ID property
    // and the ID in its description) exists among other issues of the project, one of
    // which quotes the ID too but belongs to another request.
    let id = env.pending("alice@example.com", &["dev"], "fix the outage");
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "jira",
            &[("user", "alice@example.com"), ("roles", "dev")],
        )
        .unwrap();
    env.jira.create_issue(
        "another request",
        &[(PROPERTY, serde_json::json!("some-other-request"))],
    );
    env.jira.create_described_issue(
        "a request quoting another",
        &format!("Same as Request ID: *{id}*"),
        &[(PROPERTY, serde_json::json!("some-other-request"))],
    );
    let earlier = env.jira.create_described_issue(
        "alice@example.com requested dev",
        &format!("User *alice@example.com* requested ...\n\nRequest ID: *{id}*\n"),
        &[(PROPERTY, serde_json::json!(id))],
    );

    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let data = env
        .wait_data(&id, "the earlier issue recorded", |d| {
            d.get("issue_id").is_some_and(|v| !v.is_empty())
                && d.get("claim").is_none_or(String::is_empty)
        })
        .await;
    assert_eq!(data["issue_id"], earlier);
    assert_eq!(
        env.jira.call_count("POST /issue"),
        0,
        "no second issue opened"
    );
    assert_eq!(env.issues_for(&id).len(), 1);
    let look_ups: Vec<String> = env
        .jira
        .queries()
        .into_iter()
        .filter(|q| q.contains(" ~ "))
        .collect();
    assert!(
        !look_ups.is_empty() && look_ups.iter().all(|q| q.contains(&id)),
        "the look-up searches for the request's ID: {look_ups:?}"
    );

    // The found issue is the one the request's resolution lands on.
    env.kit.approve(&id, "go").unwrap();
    let issue = env
        .wait_issue(&id, "the earlier issue approved", |i| {
            i.status == "Approved"
        })
        .await;
    assert_eq!(issue.id, earlier);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_workflow_without_the_transition_still_gets_the_comment() {
    let env = Env::new().await;
    env.jira.remove_transition_to("Denied");
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    let id = env.pending("alice@example.com", &["dev"], "");
    env.wait_issue(&id, "the issue", |_| true).await;
    env.kit.deny(&id, "no").unwrap();
    env.wait_data(&id, "done", |d| {
        d.get("close_progress").is_some_and(|p| p == "done")
    })
    .await;
    let issue = env.issues_for(&id).remove(0);
    assert_eq!(issue.status, "Pending");
    assert_eq!(
        issue.comments.last().unwrap().body,
        "Access request has been denied\nReason: no"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugins_record_is_continued() {
    let env = Env::with(FakeJiraOptions::default().flavour(Flavour::DataCenter)).await;
    // The Go plugin opened the issue and commented the first review, then was replaced.
    let id = common_request(&env);
    env.kit.review(&id, "bob", Verdict::Approve, "one").unwrap();
    let issue_id = env.jira.create_issue(
        "alice@example.com requested dev",
        &[(PROPERTY, id.clone().into())],
    );
    let key = env.jira.issue(&issue_id).unwrap().key;
    env.jira.comment(
        &issue_id,
        &env.jira.bot(),
        "*bob* reviewed the request (by Go)",
    );
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "jira",
            &[
                ("issue_id", issue_id.as_str()),
                ("issue_key", key.as_str()),
                ("user", "alice@example.com"),
                ("roles", "dev"),
                ("created", "1700000000"),
                ("request_reason", "deploy"),
                ("reviews_count", "1"),
                ("resolution", ""),
                ("resolve_reason", ""),
            ],
        )
        .unwrap();
    let plugin = env
        .start(env.config(None, Some(Duration::from_secs(30))))
        .await;
    env.kit
        .review(&id, "carol", Verdict::Approve, "two")
        .unwrap();
    let issue = env
        .wait_issue(&id, "approved", |i| i.status == "Approved")
        .await;
    let bodies: Vec<&str> = issue.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies.len(),
        3,
        "only the review Go had not posted, then the resolution: {bodies:#?}"
    );
    assert!(bodies[1].starts_with("*carol* reviewed"), "{bodies:#?}");
    assert_eq!(bodies[2], "Access request has been approved\nReason: two");
    assert_eq!(env.issues_for(&id).len(), 1, "no second issue");
    let data = env
        .wait_data(&id, "done", |d| {
            d.get("close_progress").is_some_and(|p| p == "done")
        })
        .await;
    assert_eq!(data["issue_id"], issue_id);
    assert_eq!(data["created"], "1700000000", "Go's keys are kept");
    assert_eq!(env.state(&id), RequestState::Approved);
    plugin.shutdown().await;
}

#[tokio::test]
async fn two_replicas_open_one_issue_per_request_and_resolve_it_once() {
    let env = Env::new().await;
    let first = env.spawn(env.config(None, Some(Duration::from_secs(30))));
    let second = env.spawn(env.config(None, Some(Duration::from_secs(30))));
    env.kit
        .wait_for_watchers(2, WAIT)
        .await
        .expect("both replicas watch");
    let ids: Vec<String> = (0..10)
        .map(|n| env.pending(&format!("user{n}@example.com"), &["dev"], ""))
        .collect();
    for id in &ids {
        env.wait_issue(id, "the issue", |_| true).await;
    }
    for id in &ids {
        env.kit.approve(id, "ok").unwrap();
    }
    for id in &ids {
        env.wait_issue(id, "approved", |i| i.status == "Approved")
            .await;
    }
    settle().await;
    for id in &ids {
        let issues = env.issues_for(id);
        assert_eq!(issues.len(), 1, "one issue for {id}");
        let resolutions = issues[0]
            .comments
            .iter()
            .filter(|c| c.body.starts_with("Access request has been approved"))
            .count();
        assert_eq!(resolutions, 1, "one resolution comment for {id}");
        assert_eq!(issues[0].changelog.len(), 1, "one transition for {id}");
    }
    first.shutdown().await;
    second.shutdown().await;
}
