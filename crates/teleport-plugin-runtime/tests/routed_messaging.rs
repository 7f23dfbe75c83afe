//! Access monitoring rules routing the messaging handler's broadcast end to end: the plugin
//! running against the testkit, rules added, changed and removed while it runs.

use crate::support;

use std::sync::Arc;

use support::{Harness, RecordingBot, WAIT, eventually};
use teleport_testkit::{Availability, access_monitoring_rule};

/// The recipients the bot posted request `id` to, sorted.
fn posted_to(bot: &RecordingBot, id: &str) -> Vec<String> {
    let mut recipients: Vec<String> = bot
        .requests_sent()
        .into_iter()
        .filter(|(request, _)| request == id)
        .map(|(_, recipient)| recipient)
        .collect();
    recipients.sort();
    recipients
}

async fn request(h: &Harness, roles: &[&str]) -> String {
    let request = h
        .kit
        .create_request("alice@example.com", roles, "why")
        .expect("request");
    request.metadata.expect("metadata").name
}

#[tokio::test]
async fn a_matching_rule_routes_instead_of_role_to_recipients_and_follows_changes() {
    let h = Harness::new().await;
    h.kit.upsert_access_monitoring_rule(access_monitoring_rule(
        "dba",
        support::PLUGIN,
        r#"access_request.spec.roles.contains("dba")"#,
        &["dba-oncall", "dba-leads"],
    ));
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "r1");
    h.kit.wait_for_watchers(1, WAIT).await.expect("watching");

    let routed = request(&h, &["dba"]).await;
    eventually("the rule's recipients", WAIT, || {
        posted_to(&bot, &routed).len() == 2
    })
    .await;
    assert_eq!(
        posted_to(&bot, &routed),
        ["dba-leads", "dba-oncall"],
        "the rule replaces role_to_recipients (which names dba-team for dba)"
    );

    let unrouted = request(&h, &["dev"]).await;
    eventually("role_to_recipients", WAIT, || {
        posted_to(&bot, &unrouted).len() == 2
    })
    .await;
    assert_eq!(posted_to(&bot, &unrouted), ["chan-a", "chan-b"]);

    // A rule added while running takes effect without a restart (as soon as its watch event
    // arrives: requests are created until one is routed by it)...
    h.kit.upsert_access_monitoring_rule(access_monitoring_rule(
        "dev",
        support::PLUGIN,
        r#"contains_any(access_request.spec.roles, set("dev"))"#,
        &["dev-reviewers"],
    ));
    let mut routed_now = None;
    for _ in 0..50 {
        let id = request(&h, &["dev"]).await;
        eventually("posted", WAIT, || !posted_to(&bot, &id).is_empty()).await;
        if posted_to(&bot, &id) == ["dev-reviewers"] {
            routed_now = Some(id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        routed_now.is_some(),
        "the rule added at run time never routed"
    );

    // ... and one removed stops routing.
    h.kit.delete_access_monitoring_rule("dba");
    let mut unrouted_now = false;
    for _ in 0..50 {
        let id = request(&h, &["dba"]).await;
        eventually("posted", WAIT, || !posted_to(&bot, &id).is_empty()).await;
        if posted_to(&bot, &id) == ["dba-team"] {
            unrouted_now = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(unrouted_now, "the deleted rule kept routing");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_broken_condition_is_skipped_and_the_others_still_route() {
    let h = Harness::new().await;
    h.kit.upsert_access_monitoring_rule(access_monitoring_rule(
        "broken",
        support::PLUGIN,
        "access_request.spec.roles.contains(",
        &["never"],
    ));
    h.kit.upsert_access_monitoring_rule(access_monitoring_rule(
        "good",
        support::PLUGIN,
        r#"access_request.spec.roles.contains("dev")"#,
        &["dev-reviewers"],
    ));
    let bot = Arc::new(RecordingBot::default());
    let plugin = h.start_plugin(bot.clone(), "r1");
    h.kit.wait_for_watchers(1, WAIT).await.expect("watching");

    let id = request(&h, &["dev"]).await;
    eventually("posted", WAIT, || !posted_to(&bot, &id).is_empty()).await;
    assert_eq!(posted_to(&bot, &id), ["dev-reviewers"]);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_cluster_or_role_without_rules_still_works_with_role_to_recipients() {
    for availability in [Availability::Unimplemented, Availability::PermissionDenied] {
        let h = Harness::new().await;
        h.kit.set_access_monitoring_rules(availability);
        let bot = Arc::new(RecordingBot::default());
        let plugin = h.start_plugin(bot.clone(), "r1");
        h.kit.wait_for_watchers(1, WAIT).await.expect("watching");

        let id = request(&h, &["dev"]).await;
        eventually("posted", WAIT, || posted_to(&bot, &id).len() == 2).await;
        assert_eq!(posted_to(&bot, &id), ["chan-a", "chan-b"]);
        plugin.shutdown().await;
    }
}
