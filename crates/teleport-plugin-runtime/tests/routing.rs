//! Access monitoring rule routing against the testkit: rules replace role_to_recipients
//! when they match, follow the watch while running, broken conditions are skipped, and a
//! cluster or role without rules falls back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use teleport_client::{
    AccessRequest, LabelValues, TeleportClient, WatchEvent, WatchOptions, WatchedKinds,
};
use teleport_plugin_runtime::routing::{RuleCache, RuleStatus};
use teleport_plugin_testsupport::{access_request, client_of, eventually};
use teleport_testkit::{Availability, Method, Testkit, access_monitoring_rule, user_resource};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);
const PLUGIN: &str = "slack";

struct Env {
    kit: Testkit,
    client: TeleportClient,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let kit = Testkit::start().await.unwrap();
    let (dir, client) = client_of(&kit, "access-plugin");
    Env {
        kit,
        client,
        _dir: dir,
    }
}

const CONFIRMED: WatchedKinds = WatchedKinds {
    access_monitoring_rules: true,
};

fn request(user: &str, roles: &[&str]) -> AccessRequest {
    access_request("req-1", user, roles, "why")
}

fn none() -> LabelValues {
    LabelValues::new()
}

#[tokio::test]
async fn matching_rules_route_to_the_union_of_their_recipients() {
    let env = env().await;
    let put = |name: &str, plugin: &str, condition: &str, recipients: &[&str]| {
        env.kit
            .upsert_access_monitoring_rule(access_monitoring_rule(
                name, plugin, condition, recipients,
            ));
    };
    put(
        "dba",
        PLUGIN,
        r#"access_request.spec.roles.contains("dba")"#,
        &["#dba", "dba@example.com"],
    );
    put(
        "alice",
        PLUGIN,
        r#"access_request.spec.user == "alice""#,
        &["#alice", "#dba"],
    );
    put("other-plugin", "mattermost", "true", &["town-square"]);
    let mut other_subject = access_monitoring_rule("other-subject", PLUGIN, "true", &["#x"]);
    other_subject.spec.as_mut().unwrap().subjects = vec!["access_list".into()];
    env.kit.upsert_access_monitoring_rule(other_subject);

    let cache = RuleCache::new(env.client.clone(), PLUGIN);
    assert_eq!(cache.status(), RuleStatus::Unknown);
    cache.on_confirmed(CONFIRMED).await;
    assert_eq!(cache.status(), RuleStatus::Active);
    assert_eq!(cache.rule_names(), ["alice", "dba"]);

    assert_eq!(
        cache.recipients_for(&request("bob", &["dba"]), &none()),
        Some(vec!["#dba".into(), "dba@example.com".into()])
    );
    // Rules in name order, each recipient once.
    assert_eq!(
        cache.recipients_for(&request("alice", &["dba"]), &none()),
        Some(vec![
            "#alice".into(),
            "#dba".into(),
            "dba@example.com".into()
        ])
    );
    // No rule matches: role_to_recipients decides, as today.
    assert_eq!(
        cache.recipients_for(&request("carol", &["dev"]), &none()),
        None
    );
}

#[tokio::test]
async fn a_matching_rule_without_recipients_leaves_role_to_recipients_in_charge() {
    let env = env().await;
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule("empty", PLUGIN, "true", &[]));
    let cache = RuleCache::new(env.client.clone(), PLUGIN);
    cache.on_confirmed(CONFIRMED).await;
    assert_eq!(
        cache.recipients_for(&request("bob", &["dev"]), &none()),
        None
    );
}

#[tokio::test]
async fn broken_conditions_are_skipped_and_the_others_still_route() {
    let env = env().await;
    for (name, condition) in [
        ("a-unparsable", r#"contains_any(access_request.spec.roles"#),
        (
            "b-wrong-type",
            r#"contains_any(access_request.spec.roles, "dev")"#,
        ),
        (
            "c-fails-when-evaluated",
            r#"time.RFC3339("never").before(access_request.spec.creation_time)"#,
        ),
    ] {
        env.kit
            .upsert_access_monitoring_rule(access_monitoring_rule(
                name,
                PLUGIN,
                condition,
                &["#broken"],
            ));
    }
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "d-good",
            PLUGIN,
            r#"contains_any(access_request.spec.roles, set("dev"))"#,
            &["#dev"],
        ));
    let cache = RuleCache::new(env.client.clone(), PLUGIN);
    cache.on_confirmed(CONFIRMED).await;
    assert_eq!(
        cache.recipients_for(&request("bob", &["dev"]), &none()),
        Some(vec!["#dev".into()])
    );
}

#[tokio::test]
async fn conditions_on_traits_read_the_requester_and_others_do_not() {
    let env = env().await;
    env.kit
        .put_user(user_resource("bob", &["dev"], &[("team", &["dba", "sre"])]));
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "team",
            PLUGIN,
            r#"contains_any(user.traits["team"], set("dba"))"#,
            &["#dba-team"],
        ));
    let cache = RuleCache::new(env.client.clone(), PLUGIN);
    cache.on_confirmed(CONFIRMED).await;
    assert_eq!(
        cache.recipients(&request("bob", &["dev"])).await,
        Some(vec!["#dba-team".into()])
    );
    assert_eq!(env.kit.call_count(Method::UsersGetUser), 1);
    // An unknown requester cannot be read: role_to_recipients decides.
    assert_eq!(cache.recipients(&request("nobody", &["dev"])).await, None);

    env.kit.delete_access_monitoring_rule("team");
    cache.on_rule_delete("team");
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "roles",
            PLUGIN,
            r#"access_request.spec.roles.contains("dev")"#,
            &["#dev"],
        ));
    cache.on_confirmed(CONFIRMED).await;
    let before = env.kit.call_count(Method::UsersGetUser);
    assert_eq!(
        cache.recipients(&request("bob", &["dev"])).await,
        Some(vec!["#dev".into()])
    );
    assert_eq!(
        env.kit.call_count(Method::UsersGetUser),
        before,
        "no user read"
    );
}

/// Feeds a rule-carrying watch into `cache`, as the messaging watcher does.
fn follow(client: &TeleportClient, cache: Arc<RuleCache>) -> tokio::task::JoinHandle<()> {
    let mut stream = client.watch_access_requests(WatchOptions {
        access_monitoring_rules: true,
        ..WatchOptions::default()
    });
    tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            let is_rule_event = cache.handle(&event).await;
            assert_eq!(
                is_rule_event,
                !matches!(
                    event,
                    WatchEvent::Init
                        | WatchEvent::Put(_)
                        | WatchEvent::Delete(_)
                        | WatchEvent::Reconnecting { .. }
                )
            );
        }
    })
}

#[tokio::test]
async fn rules_added_changed_and_removed_while_running_take_effect() {
    let env = env().await;
    let cache = Arc::new(RuleCache::new(env.client.clone(), PLUGIN));
    let task = follow(&env.client, cache.clone());
    eventually("rules active", WAIT, || async {
        cache.status() == RuleStatus::Active
    })
    .await;
    let dba = || request("bob", &["dba"]);
    assert_eq!(cache.recipients_for(&dba(), &none()), None);

    let condition = r#"access_request.spec.roles.contains("dba")"#;
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule("dba", PLUGIN, condition, &["#dba"]));
    eventually("the new rule routes", WAIT, || async {
        cache.recipients_for(&dba(), &none()) == Some(vec!["#dba".into()])
    })
    .await;

    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "dba",
            PLUGIN,
            condition,
            &["#dba-oncall"],
        ));
    eventually("the changed rule routes", WAIT, || async {
        cache.recipients_for(&dba(), &none()) == Some(vec!["#dba-oncall".into()])
    })
    .await;

    // Moved to another plugin: no longer ours.
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule("dba", "email", condition, &["x"]));
    eventually("the moved rule is dropped", WAIT, || async {
        cache.rule_names().is_empty()
    })
    .await;

    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule("dba", PLUGIN, condition, &["#dba"]));
    eventually("back", WAIT, || async { !cache.rule_names().is_empty() }).await;
    assert!(env.kit.delete_access_monitoring_rule("dba"));
    eventually("the deleted rule is gone", WAIT, || async {
        cache.recipients_for(&dba(), &none()).is_none()
    })
    .await;

    // A rule created while the watch is down is loaded on reconnect.
    env.kit.stop().await;
    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule("late", PLUGIN, "true", &["#late"]));
    env.kit.restart().await.unwrap();
    eventually("the rule made while disconnected routes", WAIT, || async {
        cache.recipients_for(&dba(), &none()) == Some(vec!["#late".into()])
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn without_rules_in_the_cluster_or_the_role_requests_still_route_by_role() {
    for availability in [Availability::Unimplemented, Availability::PermissionDenied] {
        let env = env().await;
        env.kit.set_access_monitoring_rules(availability);
        env.kit
            .upsert_access_monitoring_rule(access_monitoring_rule("any", PLUGIN, "true", &["#x"]));
        let cache = Arc::new(RuleCache::new(env.client.clone(), PLUGIN));
        let task = follow(&env.client, cache.clone());
        eventually("fallback", WAIT, || async {
            cache.status() == RuleStatus::Unavailable
        })
        .await;
        assert_eq!(
            cache.recipients_for(&request("bob", &["dev"]), &none()),
            None
        );
        assert_eq!(env.kit.call_count(Method::ListAccessMonitoringRules), 0);
        task.abort();
    }

    // The watch carries rules but listing them is refused: same fallback.
    let env = env().await;
    env.kit.reject(
        Method::ListAccessMonitoringRules,
        Code::PermissionDenied,
        None,
    );
    let cache = RuleCache::new(env.client.clone(), PLUGIN);
    cache.on_confirmed(CONFIRMED).await;
    assert_eq!(cache.status(), RuleStatus::Unavailable);
}

/// Log lines written while the returned guard lives (this thread only: the test runtime is
/// single-threaded, so its tasks are included).
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || SharedWriter(sink.clone()))
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_fallback_is_announced_once_however_often_the_watch_reconnects() {
    let env = env().await;
    env.kit
        .set_access_monitoring_rules(Availability::PermissionDenied);
    let (logs, _guard) = capture_logs();
    let cache = RuleCache::new(env.client.clone(), PLUGIN);
    for _ in 0..3 {
        cache.on_confirmed(WatchedKinds::default()).await;
    }
    cache.on_confirmed(CONFIRMED).await; // listing refused too
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("access monitoring rules are not available")
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("role_to_recipients"));
    assert_eq!(cache.status(), RuleStatus::Unavailable);
}
