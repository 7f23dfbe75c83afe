//! Decisions by webhook, through the library's `run` against the fake GitLab and the
//! in-process Teleport: the hook registered at `<public_addr>/webhook`, a wrong or missing
//! `X-Gitlab-Token` refused with 401 before the body is read, only `Issue Hook` events, the
//! body limit (413), a maintainer's label approving with their latest note, a reporter's
//! ignored, a redelivery and webhook + polling changing Teleport once, the labels and hook
//! set up once across restarts, and basic auth carried by the registered hook URL.

use crate::common;

use std::time::Duration;

use common::*;
use teleport_fakes::gitlab::send_issue_hook;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::inbound::config::BasicAuth;
use teleport_testkit::Method;
use teleport_testkit::wire::types::RequestState;

/// POSTs `body` to `url` as GitLab would, with `token` (or none) and `event`.
async fn post(url: &str, token: Option<&str>, event: &str, body: String) -> u16 {
    let mut request = web_client()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Gitlab-Event", event)
        .body(body);
    if let Some(token) = token {
        request = request.header("X-Gitlab-Token", token);
    }
    request
        .send()
        .await
        .expect("the listener answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_or_missing_tokens_are_refused_before_the_body_and_nothing_is_applied() {
    let env = Env::new().await;
    let (plugin, url) = env.start_mode(Mode::Webhook).await;
    let hooks = env.gitlab.hooks();
    assert_eq!(hooks.len(), 1, "one hook registered");
    assert_eq!(hooks[0].url, url, "at <public_addr>/webhook");
    assert_eq!(hooks[0].token, HOOK_SECRET);

    let (id, iid) = env.request_with_issue("alice").await;
    let change = env.gitlab.add_label_as(iid, MARIA, "Teleport: Approved");
    let body = env
        .gitlab
        .issue_hook_body(iid, MARIA, "update", Some(&change))
        .unwrap()
        .to_string();

    let reads_before = env
        .gitlab
        .call_count("GET /api/v4/projects/{project}/issues/{iid}");
    assert_eq!(post(&url, None, "Issue Hook", body.clone()).await, 401);
    assert_eq!(
        post(&url, Some("guess"), "Issue Hook", body.clone()).await,
        401
    );
    assert_eq!(
        post(&url, Some(&HOOK_SECRET[..5]), "Issue Hook", body.clone()).await,
        401,
        "a prefix of the secret is wrong too"
    );
    // A body far over the limit without the token is refused as unauthorized, not as too
    // large: the token is checked on the headers before the body is read.
    let huge = "x".repeat(BODY_LIMIT * 4);
    assert_eq!(
        post(&url, Some("guess"), "Issue Hook", huge.clone()).await,
        401
    );
    // With the token, the limit applies before any parsing.
    assert_eq!(post(&url, Some(HOOK_SECRET), "Issue Hook", huge).await, 413);
    // Another event kind is acknowledged and ignored; a malformed issue event refused.
    assert_eq!(
        post(&url, Some(HOOK_SECRET), "Note Hook", body.clone()).await,
        200
    );
    assert_eq!(
        post(&url, Some(HOOK_SECRET), "Issue Hook", "{not json".into()).await,
        400
    );
    assert_eq!(
        env.gitlab
            .call_count("GET /api/v4/projects/{project}/issues/{iid}"),
        reads_before,
        "no refused call made the plugin look at the issue"
    );
    settle().await;
    assert_eq!(env.state(&id), RequestState::Pending, "nothing applied");
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 0);

    // The hook as GitLab sends it, with its secret, decides.
    assert_eq!(post(&url, Some(HOOK_SECRET), "Issue Hook", body).await, 200);
    env.wait_state(&id, RequestState::Approved).await;
    assert!(
        env.gitlab
            .call_count("GET /api/v4/projects/{project}/issues/{iid}")
            > reads_before,
        "the accepted delivery was checked against GitLab's API"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_maintainers_label_approves_with_their_latest_note_once_however_often_delivered() {
    let env = Env::new().await;
    let (plugin, _) = env.start_mode(Mode::Webhook).await;
    let (id, iid) = env.request_with_issue("alice").await;

    env.gitlab.add_note_as(iid, MARIA, "looking");
    env.gitlab.add_note_as(iid, RITA, "not me");
    env.gitlab
        .add_note_as(iid, MARIA, "On call this week; approved.");
    let change = env.gitlab.add_label_as(iid, MARIA, "Teleport: Approved");
    assert_eq!(env.deliver(iid, MARIA, &change).await, [200]);
    // The answer came after the decision was applied.
    assert_eq!(env.state(&id), RequestState::Approved);
    let resolutions = env.resolutions_of(&id);
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].delegator, "gitlab:maria");
    assert_eq!(resolutions[0].reason, "On call this week; approved.");
    assert_eq!(resolutions[0].caller.as_deref(), Some(PLUGIN_USER));

    // GitLab retries deliveries it thinks failed; the same decision changes nothing more.
    let (first, second) = tokio::join!(
        env.deliver(iid, MARIA, &change),
        env.deliver(iid, MARIA, &change)
    );
    assert_eq!((first, second), (vec![200], vec![200]));
    assert_eq!(env.deliver(iid, MARIA, &change).await, [200]);

    let done = env
        .wait_issue(&id, "closed by the plugin", |i| i.state == "closed")
        .await;
    assert_eq!(done.labels, ["Teleport: Approved"]);
    env.wait_data(&id, "closed", closed).await;
    settle().await;
    assert_eq!(env.resolutions_of(&id).len(), 1);
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_label_by_someone_below_the_access_level_is_ignored() {
    let env = Env::new().await;
    let (plugin, _) = env.start_mode(Mode::Webhook).await;
    let (id, iid) = env.request_with_issue("alice").await;

    env.gitlab.add_note_as(iid, RITA, "I approve!");
    assert_eq!(
        env.label_and_deliver(iid, RITA, "Teleport: Approved").await,
        [200],
        "acknowledged, so GitLab does not retry"
    );
    let (other, other_iid) = env.request_with_issue("bob").await;
    assert_eq!(
        env.label_and_deliver(other_iid, STRANGER, "Teleport: Denied")
            .await,
        [200]
    );
    settle().await;
    assert_eq!(env.state(&id), RequestState::Pending);
    assert_eq!(env.state(&other), RequestState::Pending);
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 0);
    let issue = env.wait_issue(&id, "the issue", |_| true).await;
    assert_eq!(issue.state, "opened", "the plugin does not close it");

    // A maintainer's denial afterwards counts: the one added last decides.
    assert_eq!(
        env.label_and_deliver(iid, MARIA, "Teleport: Denied").await,
        [200]
    );
    env.wait_state(&id, RequestState::Denied).await;
    assert_eq!(env.resolutions_of(&id)[0].delegator, "gitlab:maria");
    plugin.shutdown().await;
}

#[tokio::test]
async fn webhook_and_polling_seeing_the_same_decision_change_teleport_once() {
    let env = Env::new().await;
    let (plugin, url) = env.start_mode(Mode::Both).await;
    let mut requests = Vec::new();
    for user in ["alice", "bob", "carol"] {
        requests.push(env.request_with_issue(user).await);
    }
    // Each label is delivered twice at once while the poller (every 200 ms) sees it too.
    for (_, iid) in &requests {
        let change = env.gitlab.add_label_as(*iid, OWEN, "Teleport: Approved");
        let body = env
            .gitlab
            .issue_hook_body(*iid, OWEN, "update", Some(&change))
            .unwrap();
        let client = web_client();
        let base = env.gitlab.base_url();
        let (a, b) = tokio::join!(
            send_issue_hook(&client, &base, &url, Some(HOOK_SECRET), &body),
            send_issue_hook(&client, &base, &url, Some(HOOK_SECRET), &body)
        );
        assert_eq!(
            (a.unwrap().as_u16(), b.unwrap().as_u16()),
            (200, 200),
            "both acknowledged"
        );
    }
    for (id, _) in &requests {
        env.wait_state(id, RequestState::Approved).await;
        env.wait_data(id, "closed", closed).await;
    }
    // Several polls later, still one state change per request.
    settle().await;
    for (id, _) in &requests {
        let resolutions = env.resolutions_of(id);
        assert_eq!(resolutions.len(), 1, "{resolutions:?}");
        assert_eq!(resolutions[0].delegator, "gitlab:owen");
    }
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 3);
    plugin.shutdown().await;
}

#[tokio::test]
async fn labels_and_the_hook_are_set_up_once_across_restarts() {
    let env = Env::new().await;
    // A label someone made by hand that reduces to the plugin's is reused, not doubled.
    env.gitlab.add_label("teleport : approved", "#00FF00");
    let port = teleport_plugin_testsupport::free_port();
    for round in 0..3 {
        let listed = env.gitlab.call_count(HOOKS);
        let plugin = env.start_config(
            env.mode_config(Mode::Webhook, port),
            Duration::from_secs(30),
        );
        // Done with the hook once it has updated (or created) it after listing.
        eventually("the hook set up", || async {
            env.gitlab.call_count(HOOKS) > listed
                && env
                    .gitlab
                    .call_count("PUT /api/v4/projects/{project}/hooks/{hook}")
                    + env
                        .gitlab
                        .call_count("POST /api/v4/projects/{project}/hooks")
                    > round
        })
        .await;
        let hooks = env.gitlab.hooks();
        assert_eq!(hooks.len(), 1, "round {round}: {hooks:?}");
        assert_eq!(hooks[0].url, format!("http://127.0.0.1:{port}/webhook"));
        let names: Vec<String> = env.gitlab.labels().into_iter().map(|l| l.name).collect();
        assert_eq!(
            names,
            [
                "teleport : approved",
                "Teleport: Pending",
                "Teleport: Denied",
                "Teleport: Expired"
            ],
            "round {round}"
        );
        if round == 2 {
            // The reused label decides like the plugin's own.
            let (id, iid) = env.request_with_issue("alice").await;
            let statuses = env
                .label_and_deliver(iid, MARIA, "teleport : approved")
                .await;
            assert_eq!(statuses, [200]);
            env.wait_state(&id, RequestState::Approved).await;
        }
        plugin.shutdown().await;
    }
}

const HOOKS: &str = "GET /api/v4/projects/{project}/hooks";

#[tokio::test]
async fn with_basic_auth_the_registered_hook_carries_the_credentials_gitlab_sends() {
    let env = Env::new().await;
    let port = teleport_plugin_testsupport::free_port();
    let mut config = env.mode_config(Mode::Webhook, port);
    // What `[http.basic_auth]` validates into: the listener checks it, and the hook URL
    // registered in GitLab carries it (GitLab sends a hook URL's credentials as basic auth).
    if let Some(http) = config.http.as_mut() {
        http.basic_auth = Some(BasicAuth {
            user: "gitlab".into(),
            password: Secret::new("hook-p@ss"),
        });
    }
    config.gitlab.webhook = Some(Env::webhook(&format!(
        "http://gitlab:hook-p%40ss@127.0.0.1:{port}"
    )));
    let plugin = env.start_config(config, Duration::from_secs(30));
    env.kit.wait_for_watchers(1, WAIT).await.unwrap();
    let hooks = env.gitlab.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].url,
        format!("http://gitlab:hook-p%40ss@127.0.0.1:{port}/webhook")
    );

    let (id, iid) = env.request_with_issue("alice").await;
    let change = env.gitlab.add_label_as(iid, MARIA, "Teleport: Approved");
    let body = env
        .gitlab
        .issue_hook_body(iid, MARIA, "update", Some(&change))
        .unwrap();
    let bare = format!("http://127.0.0.1:{port}/webhook");
    let without_auth = send_issue_hook(
        &web_client(),
        &env.gitlab.base_url(),
        &bare,
        Some(HOOK_SECRET),
        &body,
    )
    .await
    .unwrap();
    assert_eq!(without_auth.as_u16(), 401, "the secret alone is not enough");
    assert_eq!(env.state(&id), RequestState::Pending);
    assert_eq!(env.deliver(iid, MARIA, &change).await, [200]);
    assert_eq!(env.state(&id), RequestState::Approved);
    plugin.shutdown().await;
}
