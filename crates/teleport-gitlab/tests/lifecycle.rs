//! The issue lifecycle against the in-process Teleport and the fake GitLab: one issue per
//! request with the pending label, a note per review, and on resolution a note, the
//! outcome's label instead of the pending one and the issue closed; GitLab down or rate
//! limiting, two replicas, an issue opened before a crash but never recorded, and a Go
//! plugin's record continued — each without a second issue or a repeated note.

use crate::common;

use std::time::Duration;

use common::{Env, PROJECT_ID, closed, id_of, released};
use teleport_fakes::Fault;
use teleport_gitlab::render;
use teleport_plugin_testsupport::access_request;
use teleport_testkit::Verdict;

const CREATE_ISSUE: &str = "POST /api/v4/projects/{project}/issues";

#[tokio::test]
async fn issue_notes_and_closing_on_approval() {
    let env = Env::new().await;
    let plugin = env.started().await;

    // Two approvals are needed, so the first review leaves the request pending.
    let id = id_of(
        env.kit
            .new_request("alice@example.com", &["dev", "ops"])
            .reason("fix the outage")
            .threshold("two", 2, 1)
            .create()
            .unwrap(),
    );
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    assert_eq!(issue.title, "Access request from alice@example.com");
    assert_eq!(issue.labels, ["Teleport: Pending"]);
    assert_eq!(issue.state, "opened");
    assert!(
        issue.description.starts_with(
            "`alice@example.com` requested permissions for roles **`dev`**, **`ops`** on Teleport at **"
        ),
        "{}",
        issue.description
    );
    assert!(
        issue
            .description
            .contains("\n\nReason: **`fix the outage`**.\n\n"),
        "{}",
        issue.description
    );
    assert!(
        issue
            .description
            .ends_with(&format!("Request ID is `{id}`."))
    );

    let data = env
        .wait_data(&id, "the issue recorded", |d| {
            d.get("issue_iid").is_some_and(|v| !v.is_empty()) && released(d)
        })
        .await;
    assert_eq!(data["project_id"], PROJECT_ID.to_string());
    assert_eq!(data["issue_iid"], issue.iid.to_string());
    assert_eq!(data["issue_id"], issue.id.to_string());
    assert_eq!(data["user"], "alice@example.com");
    assert_eq!(data["roles"], "dev,ops");
    assert_eq!(data["request_reason"], "fix the outage");
    assert!(
        data.get("reviews_count").is_none_or(String::is_empty),
        "Go writes \"\" for no reviews: {data:?}"
    );
    assert!(data["created"].parse::<i64>().unwrap() > 1_600_000_000);

    env.kit
        .review(&id, "bob", Verdict::Approve, "looks fine")
        .unwrap();
    let with_note = env
        .wait_issue(&id, "the review note", |i| i.user_notes().count() == 1)
        .await;
    let note = &with_note.user_notes().next().unwrap().body;
    assert!(
        note.starts_with("**`bob`** reviewed the request at **"),
        "{note}"
    );
    assert!(
        note.ends_with("**.\n\nResolution: **APPROVED**.\n\nReason: `looks fine`."),
        "{note}"
    );
    assert_eq!(with_note.state, "opened");

    env.kit
        .review(&id, "carol", Verdict::Approve, "finally okay")
        .unwrap();
    let done = env
        .wait_issue(&id, "the issue closed", |i| i.state == "closed")
        .await;
    let notes: Vec<&str> = done.user_notes().map(|n| n.body.as_str()).collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[1].starts_with("**`carol`** reviewed"), "{notes:?}");
    assert_eq!(
        notes[2],
        "Access request has been approved\n\nReason: `finally okay`"
    );
    assert_eq!(done.labels, ["Teleport: Approved"]);
    assert_eq!(done.closed_by, Some(env.gitlab.bot_id()));

    let data = env.wait_data(&id, "the record closed", closed).await;
    assert_eq!(data["resolution"], "approved");
    assert_eq!(data["resolve_reason"], "finally okay");
    assert_eq!(data["reviews_count"], "2");
    assert_eq!(env.issues_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn denial_and_expiry_close_with_their_labels() {
    let env = Env::new().await;
    let plugin = env.started().await;
    let denied = env.request("alice", &["dev"]);
    let expired = env.request("bob", &["dev"]);
    env.wait_issue(&denied, "issue", |_| true).await;
    env.wait_issue(&expired, "issue", |_| true).await;
    env.wait_data(&denied, "recorded", |d| {
        d.contains_key("issue_iid") && released(d)
    })
    .await;
    env.wait_data(&expired, "recorded", |d| {
        d.contains_key("issue_iid") && released(d)
    })
    .await;

    env.kit.deny(&denied, "not now").unwrap();
    env.kit.expire(&expired).unwrap();

    let issue = env
        .wait_issue(&denied, "denied and closed", |i| i.state == "closed")
        .await;
    let notes: Vec<&str> = issue.user_notes().map(|n| n.body.as_str()).collect();
    assert_eq!(
        notes,
        ["Access request has been denied\n\nReason: `not now`"]
    );
    assert_eq!(issue.labels, ["Teleport: Denied"]);
    let issue = env
        .wait_issue(&expired, "expired and closed", |i| i.state == "closed")
        .await;
    let notes: Vec<&str> = issue.user_notes().map(|n| n.body.as_str()).collect();
    assert_eq!(notes, ["Access request has been expired"]);
    assert_eq!(issue.labels, ["Teleport: Expired"]);
    assert_eq!(
        env.wait_data(&denied, "closed", closed).await["resolution"],
        "denied"
    );
    assert_eq!(
        env.wait_data(&expired, "closed", closed).await["resolution"],
        "expired"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn gitlab_down_or_rate_limiting_delays_but_loses_nothing() {
    let env = Env::new().await;
    let plugin = env.started().await;

    env.gitlab.control().fail_next_for(
        CREATE_ISSUE,
        2,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let limited = env.request("alice", &["dev"]);
    env.wait_issue(&limited, "the issue after the 429s", |_| true)
        .await;
    assert_eq!(env.gitlab.call_count(CREATE_ISSUE), 3);

    env.gitlab.down().await;
    let while_down = env.request("bob", &["dev"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.gitlab.up().await.unwrap();
    env.wait_issue(&while_down, "the issue once GitLab is back", |_| true)
        .await;
    for id in [&limited, &while_down] {
        env.wait_data(id, "recorded", |d| {
            d.contains_key("issue_iid") && released(d)
        })
        .await;
        assert_eq!(env.issues_for(id).len(), 1);
    }
    plugin.shutdown().await;
}

#[tokio::test]
async fn two_replicas_open_one_issue_and_post_each_note_once() {
    let env = Env::new().await;
    let first = env.start_config(env.config(env.gitlab_config()), Duration::from_secs(30));
    let second = env.start_config(env.config(env.gitlab_config()), Duration::from_secs(30));
    env.kit.wait_for_watchers(2, common::WAIT).await.unwrap();

    let ids: Vec<String> = (0..6)
        .map(|n| env.request(&format!("user{n}"), &["dev"]))
        .collect();
    for id in &ids {
        env.wait_data(id, "recorded", |d| {
            d.contains_key("issue_iid") && released(d)
        })
        .await;
        env.kit.review(id, "bob", Verdict::Deny, "no").unwrap();
    }
    for id in &ids {
        let issue = env.wait_issue(id, "closed", |i| i.state == "closed").await;
        assert_eq!(issue.user_notes().count(), 2, "review + resolution once");
        assert_eq!(env.issues_for(id).len(), 1);
        env.wait_data(id, "closed", closed).await;
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn an_issue_opened_before_a_crash_is_found_not_repeated() {
    let env = Env::new().await;
    // A request the plugin had claimed and opened an issue for, but crashed before
    // recording it: the record names no issue, the issue exists.
    let id = env.request("alice", &["dev"]);
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "gitlab",
            &[("user", "alice"), ("roles", "dev")],
        )
        .unwrap();
    let request = access_request(&id, "alice", &["dev"], "fix the outage");
    let iid = env.gitlab.open_issue_as(
        env.gitlab.bot_id(),
        &render::issue_title(&request),
        &render::issue_description(&request, None),
    );

    let plugin = env.started().await;
    let data = env
        .wait_data(&id, "the earlier issue recorded", |d| {
            d.get("issue_iid").is_some_and(|v| !v.is_empty()) && released(d)
        })
        .await;
    assert_eq!(data["issue_iid"], iid.to_string());
    assert_eq!(env.gitlab.call_count(CREATE_ISSUE), 0);
    assert_eq!(env.issues_for(&id).len(), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_go_plugins_record_is_continued() {
    let env = Env::new().await;
    let id = env.request("alice", &["dev"]);
    let request = access_request(&id, "alice", &["dev"], "fix the outage");
    let iid = env.gitlab.open_issue_as(
        env.gitlab.bot_id(),
        &render::issue_title(&request),
        &render::issue_description(&request, None),
    );
    env.gitlab
        .add_label_as(iid, env.gitlab.bot_id(), "Teleport: Pending");
    let issue_id = env
        .gitlab
        .with_state(|s| s.issue(iid).map(|i| i.id))
        .unwrap();
    let project = PROJECT_ID.to_string();
    let iid_text = iid.to_string();
    let issue_id_text = issue_id.to_string();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "gitlab",
            &[
                ("project_id", project.as_str()),
                ("issue_iid", iid_text.as_str()),
                ("issue_id", issue_id_text.as_str()),
                ("user", "alice"),
                ("roles", "dev"),
                ("created", "1700000000"),
                ("request_reason", "fix the outage"),
                ("reviews_count", ""),
                ("resolution", ""),
                ("resolve_reason", ""),
            ],
        )
        .unwrap();

    let plugin = env.started().await;
    env.kit.review(&id, "bob", Verdict::Approve, "ok").unwrap();
    env.kit.approve(&id, "go ahead").unwrap();
    let issue = env
        .wait_issue(&id, "closed by us", |i| i.state == "closed")
        .await;
    assert_eq!(issue.iid, iid);
    assert_eq!(issue.labels, ["Teleport: Approved"]);
    assert_eq!(issue.user_notes().count(), 2);
    assert_eq!(env.gitlab.call_count(CREATE_ISSUE), 0);
    let data = env.wait_data(&id, "closed", closed).await;
    assert_eq!(data["reviews_count"], "1");
    plugin.shutdown().await;
}

#[tokio::test]
async fn the_closed_issue_states_one_outcome() {
    let env = Env::new().await;
    let plugin = env.started().await;
    let id = env.request("alice", &["dev"]);
    env.wait_data(&id, "recorded", |d| {
        d.contains_key("issue_iid") && released(d)
    })
    .await;
    let iid = env.issues_for(&id)[0].iid;
    // A reporter's denial label does not count; the request is approved in Teleport.
    env.gitlab
        .add_label_as(iid, common::RITA, "Teleport: Denied");
    env.gitlab.add_label_as(iid, common::RITA, "needs-triage");
    env.kit.approve(&id, "approved in Teleport").unwrap();
    let issue = env.wait_issue(&id, "closed", |i| i.state == "closed").await;
    assert_eq!(issue.labels, ["needs-triage", "Teleport: Approved"]);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_revoked_token_is_retried_until_it_works_again() {
    let env = Env::new().await;
    let plugin = env.started().await;
    env.gitlab.set_token("glpat-rotated-elsewhere");
    let id = env.request("alice", &["dev"]);
    // Refused once; later tries first look for an issue the refused call might have opened.
    env.gitlab
        .wait_for(common::WAIT, |_| {
            let looked = env
                .gitlab
                .call_count("GET /api/v4/projects/{project}/issues");
            (env.gitlab.call_count(CREATE_ISSUE) == 1 && looked >= 2).then_some(())
        })
        .await
        .expect("the refused request is tried again");
    assert!(env.issues_for(&id).is_empty());
    env.gitlab.set_token(common::TOKEN);
    env.wait_issue(&id, "the issue once the token works", |_| true)
        .await;
    env.wait_data(&id, "recorded", |d| {
        d.contains_key("issue_iid") && released(d)
    })
    .await;
    assert_eq!(env.issues_for(&id).len(), 1);
    plugin.shutdown().await;
}
