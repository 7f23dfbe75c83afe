//! Decisions by polling (no `[http]`, no webhook secret, outbound connections only),
//! through the library's `run` against the fake GitLab and the in-process Teleport: a
//! maintainer's label approves with their latest note and the issue is closed, a
//! reporter's label is ignored however often it is seen, later polls change nothing, and a
//! decision made while GitLab is down or answering 429 is applied once it is back.

use crate::common;

use common::*;
use teleport_fakes::Fault;
use teleport_testkit::Method;
use teleport_testkit::wire::types::RequestState;

const LIST: &str = "GET /api/v4/projects/{project}/issues";

/// Waits until the poller has listed the project's issues `polls` more times.
async fn polls(env: &Env, polls: u64) {
    let start = env.gitlab.call_count(LIST);
    eventually(&format!("{polls} more polls"), || async {
        env.gitlab.call_count(LIST) >= start + polls
    })
    .await;
}

#[tokio::test]
async fn polling_alone_applies_a_maintainers_label_and_ignores_a_reporters() {
    let env = Env::new().await;
    let (plugin, _) = env.start_mode(Mode::Polling).await;
    assert!(env.gitlab.hooks().is_empty(), "no hook without a webhook");

    let (by_reporter, reporter_iid) = env.request_with_issue("alice").await;
    let (id, iid) = env.request_with_issue("bob").await;
    env.gitlab.add_note_as(reporter_iid, RITA, "fine by me");
    env.gitlab
        .add_label_as(reporter_iid, RITA, "Teleport: Approved");
    env.gitlab.add_note_as(iid, MARIA, "too broad");
    env.gitlab
        .add_note_as(iid, MARIA, "Denied: ask for the read-only role.");
    env.gitlab.add_label_as(iid, MARIA, "Teleport: Denied");

    env.wait_state(&id, RequestState::Denied).await;
    let resolutions = env.resolutions_of(&id);
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].delegator, "gitlab:maria");
    assert_eq!(resolutions[0].reason, "Denied: ask for the read-only role.");
    let done = env
        .wait_issue(&id, "closed by the plugin", |i| i.state == "closed")
        .await;
    assert_eq!(done.labels, ["Teleport: Denied"]);
    env.wait_data(&id, "closed", closed).await;

    // Many polls later: the reporter's label decided nothing, the denial happened once.
    polls(&env, 5).await;
    assert_eq!(env.state(&by_reporter), RequestState::Pending);
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 1);
    let still_open = env.wait_issue(&by_reporter, "the issue", |_| true).await;
    assert_eq!(still_open.state, "opened");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_decision_made_while_gitlab_is_down_or_rate_limiting_is_applied_once_back() {
    let env = Env::new().await;
    let (plugin, _) = env.start_mode(Mode::Polling).await;
    let (first, first_iid) = env.request_with_issue("alice").await;
    let (second, second_iid) = env.request_with_issue("bob").await;

    // Down: every poll fails; the label is added meanwhile (GitLab's own UI still works).
    env.gitlab.down().await;
    env.gitlab
        .add_note_as(first_iid, MARIA, "during the outage");
    env.gitlab
        .add_label_as(first_iid, MARIA, "Teleport: Approved");
    settle().await;
    assert_eq!(env.state(&first), RequestState::Pending);
    env.gitlab.up().await.expect("the fake comes back");
    env.wait_state(&first, RequestState::Approved).await;
    assert_eq!(env.resolutions_of(&first)[0].reason, "during the outage");

    // 429 with Retry-After: on the listing, then on reading the issue's label events.
    let limited = Fault::RateLimited {
        retry_after_secs: 1,
    };
    env.gitlab.control().fail_next_for(LIST, 2, limited.clone());
    env.gitlab.control().fail_next_for(
        "GET /api/v4/projects/{project}/issues/{iid}/resource_label_events",
        2,
        limited,
    );
    env.gitlab
        .add_label_as(second_iid, OWEN, "Teleport: Approved");
    env.wait_state(&second, RequestState::Approved).await;
    assert_eq!(env.resolutions_of(&second)[0].delegator, "gitlab:owen");

    polls(&env, 3).await;
    assert_eq!(
        env.kit.call_count(Method::SetAccessRequestState),
        2,
        "each decision applied once"
    );
    plugin.shutdown().await;
}
