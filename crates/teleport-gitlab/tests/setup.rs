//! Start-up against the fake GitLab: the four labels with Go's colours, existing labels
//! that reduce to the same name reused, the webhook registered with its secret and only
//! issue events, restarts and replicas starting together leaving exactly one hook, polling
//! mode touching no hook, and clear failures for a bad token, an unknown project and a
//! token whose user may not manage hooks.

use crate::common;

use std::time::Duration;

use common::{Env, HOOK_SECRET, PROJECT_ID, TOKEN};
use teleport_fakes::gitlab::access;
use teleport_fakes::{FakeGitlabOptions, Fault};
use teleport_gitlab::config::{GitlabConfig, ProjectRef};
use teleport_gitlab::setup::LabelNames;
use teleport_gitlab::{Started, start_gitlab};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::retry::{RetryPolicy, retry};
use tokio_util::sync::CancellationToken;

const PUBLIC_ADDR: &str = "plugin.example.com:8044";
const HOOK_URL: &str = "http://plugin.example.com:8044/webhook";

fn webhook_config(env: &Env) -> GitlabConfig {
    let mut config = env.gitlab_config();
    config.webhook = Some(Env::webhook(PUBLIC_ADDR));
    config
}

/// Start-up as the runtime runs it: retried while GitLab fails transiently, for 5 s.
async fn start(env: &Env, config: &GitlabConfig) -> anyhow::Result<Started> {
    let api = env.api();
    Ok(retry(
        &budget(),
        &CancellationToken::new(),
        "GitLab start-up",
        |_| start_gitlab(&api, config),
    )
    .await?)
}

fn budget() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(500),
        max_elapsed: Some(Duration::from_secs(5)),
        ..RetryPolicy::default()
    }
}

fn label_colors(env: &Env) -> Vec<(String, String)> {
    env.gitlab
        .labels()
        .into_iter()
        .map(|l| (l.name, l.color))
        .collect()
}

#[tokio::test]
async fn labels_and_the_hook_are_created_once_across_restarts() {
    let env = Env::new().await;
    let config = webhook_config(&env);
    let first = start(&env, &config).await.unwrap();
    assert_eq!(first.project.id, PROJECT_ID, "the path became the ID");
    assert_eq!(first.bot.username, "teleport-bot");
    assert_eq!(first.labels, LabelNames::default());
    let pair = |n: &str, c: &str| (n.to_owned(), c.to_owned());
    assert_eq!(
        label_colors(&env),
        [
            pair("Teleport: Pending", "#FFECDB"),
            pair("Teleport: Approved", "#428BCA"),
            pair("Teleport: Denied", "#D9534F"),
            pair("Teleport: Expired", "#7F8C8D"),
        ]
    );
    let hooks = env.gitlab.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, HOOK_URL);
    assert_eq!(hooks[0].token, HOOK_SECRET);
    assert!(hooks[0].issues_events && !hooks[0].push_events);
    assert_eq!(first.hook_id, Some(hooks[0].id));

    // A restart with a rotated secret: nothing new, the hook rewritten.
    let mut rotated = config.clone();
    if let Some(webhook) = rotated.webhook.as_mut() {
        webhook.secret = Secret::new("rotated-secret");
    }
    let second = start(&env, &rotated).await.unwrap();
    assert_eq!(second.labels, first.labels);
    assert_eq!(second.hook_id, first.hook_id);
    assert_eq!(env.gitlab.labels().len(), 4, "no label created twice");
    let hooks = env.gitlab.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].token, "rotated-secret");
    assert_eq!(hooks[0].updates, 1);
    assert_eq!(
        env.gitlab
            .call_count("POST /api/v4/projects/{project}/labels"),
        4
    );
    assert_eq!(
        env.gitlab
            .call_count("POST /api/v4/projects/{project}/hooks"),
        1
    );
}

#[tokio::test]
async fn labels_that_reduce_to_the_same_name_are_reused() {
    let env = Env::new().await;
    env.gitlab.add_label("teleport : pending", "#000000");
    env.gitlab.add_label("TELEPORT: APPROVED", "#111111");
    env.gitlab.add_label("bug", "#222222");
    let started = start(&env, &env.gitlab_config()).await.unwrap();
    assert_eq!(started.labels.pending, "teleport : pending");
    assert_eq!(started.labels.approved, "TELEPORT: APPROVED");
    assert_eq!(started.labels.denied, "Teleport: Denied");
    assert_eq!(started.labels.expired, "Teleport: Expired");
    let names: Vec<String> = env.gitlab.labels().into_iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        [
            "teleport : pending",
            "TELEPORT: APPROVED",
            "bug",
            "Teleport: Denied",
            "Teleport: Expired"
        ]
    );
    assert_eq!(
        env.gitlab
            .call_count("GET /api/v4/projects/{project}/hooks"),
        0,
        "polling mode leaves hooks alone"
    );
    assert_eq!(started.hook_id, None);
}

#[tokio::test]
async fn an_existing_hook_is_kept_and_a_duplicate_removed() {
    let env = Env::new().await;
    let old = env.gitlab.add_hook(HOOK_URL, "old-secret");
    env.gitlab.add_hook(HOOK_URL, "old-secret");
    let other = env.gitlab.add_hook("https://ci.example.com/hook", "ci");
    let started = start(&env, &webhook_config(&env)).await.unwrap();
    assert_eq!(started.hook_id, Some(old));
    let hooks = env.gitlab.hooks();
    let ids: Vec<u64> = hooks.iter().map(|h| h.id).collect();
    assert_eq!(ids, [old, other], "the duplicate is gone, others untouched");
    assert_eq!(hooks[0].token, HOOK_SECRET);
    assert_eq!(hooks[1].token, "ci");
}

#[tokio::test]
async fn replicas_starting_together_leave_one_hook() {
    for _ in 0..5 {
        let env = Env::new().await;
        let config = webhook_config(&env);
        let (a, b, c) = tokio::join!(
            start(&env, &config),
            start(&env, &config),
            start(&env, &config)
        );
        let ids = [a.unwrap().hook_id, b.unwrap().hook_id, c.unwrap().hook_id];
        let hooks = env.gitlab.hooks();
        assert_eq!(hooks.len(), 1, "{hooks:?}");
        assert!(ids.iter().all(|id| *id == Some(hooks[0].id)), "{ids:?}");
        assert_eq!(env.gitlab.labels().len(), 4);
    }
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_budget() {
    let env = Env::new().await;
    env.gitlab.control().fail_next_for(
        "GET /api/v4/projects/{project}",
        2,
        Fault::ServerError { status: 503 },
    );
    env.gitlab.control().fail_next_for(
        "GET /api/v4/projects/{project}/labels",
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let started = start(&env, &env.gitlab_config()).await.unwrap();
    assert_eq!(started.labels, LabelNames::default());
    // Start-up is retried as a whole: two 503s, then the 429 on the labels after the third
    // project lookup, then a fourth that goes through.
    assert_eq!(env.gitlab.call_count("GET /api/v4/projects/{project}"), 4);
}

#[tokio::test]
async fn bad_token_unknown_project_and_missing_role_fail_clearly() {
    let env = Env::new().await;
    let mut wrong = env.gitlab_config();
    wrong.token = Secret::new("glpat-wrong-value");
    let api = teleport_gitlab::client::GitlabApi::new(
        teleport_plugin_runtime::http::http_client(&Default::default()).unwrap(),
        &env.gitlab.base_url(),
        &wrong.token,
    )
    .unwrap();
    let error = retry(
        &budget(),
        &CancellationToken::new(),
        "GitLab start-up",
        |_| start_gitlab(&api, &wrong),
    )
    .await
    .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("credentials refused"), "{text}");
    assert!(text.contains("check gitlab.token"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(
        !text.contains("glpat-wrong-value") && !text.contains(TOKEN),
        "{text}"
    );

    let mut unknown = env.gitlab_config();
    unknown.project = ProjectRef::Id(999);
    let text = format!("{:#}", start(&env, &unknown).await.unwrap_err());
    assert!(text.contains("project 999 not found"), "{text}");

    let developer =
        Env::with_gitlab(FakeGitlabOptions::default().bot_access(access::DEVELOPER)).await;
    let text = format!(
        "{:#}",
        start(&developer, &webhook_config(&developer))
            .await
            .unwrap_err()
    );
    assert!(text.contains("cannot set up the GitLab webhook"), "{text}");
    assert!(text.contains("Maintainer role"), "{text}");
    assert!(developer.gitlab.hooks().is_empty());
}
