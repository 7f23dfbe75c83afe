//! Access monitoring rules and access lists against the testkit: filtered, paged listings,
//! owners with the older-cluster fallback, plugin data of kind `access_list`, and a watch
//! that carries rules, or quietly does not where the cluster or the role does not allow it.

use crate::support;

use std::time::{Duration, SystemTime};

use support::{Env, next_event};
use teleport_client::{
    ACCESS_LIST_KIND, ClientError, PluginDataMap, RuleFilter, WatchEvent, WatchOptions,
    WatchedKinds,
};
use teleport_testkit::{Availability, Method, access_list, access_monitoring_rule};
use tonic::Code;

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

fn slack_rules() -> RuleFilter {
    RuleFilter {
        subjects: vec!["access_request".into()],
        notification_name: "slack".into(),
    }
}

#[tokio::test]
async fn rules_are_listed_by_subject_and_plugin_across_pages() {
    let env = Env::new().await;
    // More than one page (1000) of rules for Slack, among rules for other plugins.
    for i in 0..1_500 {
        let plugin = if i % 4 == 0 { "mattermost" } else { "slack" };
        let name = format!("rule-{i:04}");
        env.kit
            .upsert_access_monitoring_rule(access_monitoring_rule(
                &name,
                plugin,
                "true",
                &["#ops"],
            ));
    }
    let mut other_subject = access_monitoring_rule("zz-other-subject", "slack", "true", &[]);
    other_subject.spec.as_mut().unwrap().subjects = vec!["something_else".into()];
    env.kit.upsert_access_monitoring_rule(other_subject);

    let client = env.client();
    let rules = client
        .list_access_monitoring_rules(&slack_rules())
        .await
        .unwrap();
    assert_eq!(rules.len(), 1_125);
    assert!(
        rules
            .iter()
            .all(|r| r.notification.as_ref().unwrap().name == "slack")
    );
    assert!(rules.iter().all(|r| r.subjects == ["access_request"]));
    assert_eq!(rules[0].notification.as_ref().unwrap().recipients, ["#ops"]);
    assert_eq!(env.kit.call_count(Method::ListAccessMonitoringRules), 2);
}

#[tokio::test]
async fn an_older_cluster_or_a_role_without_rights_is_a_typed_error() {
    let env = Env::new().await;
    let client = env.client();
    env.kit
        .set_access_monitoring_rules(Availability::Unimplemented);
    assert!(matches!(
        client.list_access_monitoring_rules(&slack_rules()).await,
        Err(ClientError::Unimplemented { .. })
    ));
    env.kit
        .set_access_monitoring_rules(Availability::PermissionDenied);
    assert!(matches!(
        client.list_access_monitoring_rules(&slack_rules()).await,
        Err(ClientError::AccessDenied { .. })
    ));
    env.kit.set_access_lists(Availability::PermissionDenied);
    assert!(matches!(
        client.list_access_lists().await,
        Err(ClientError::AccessDenied { .. })
    ));
}

#[tokio::test]
async fn access_lists_are_paged_and_owners_fall_back_to_the_list_on_older_clusters() {
    let env = Env::new().await;
    let due = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for i in 0..250 {
        let name = format!("list-{i:03}");
        env.kit.upsert_access_list(access_list(
            &name,
            &format!("List {i}"),
            &["carol"],
            due,
            WEEK,
        ));
    }
    env.kit
        .set_access_list_owners("list-007", &["carol", "dave"]);
    let client = env.client();

    let lists = client.list_access_lists().await.unwrap();
    assert_eq!(lists.len(), 250);
    assert_eq!(env.kit.call_count(Method::ListAccessLists), 2, "two pages");
    let list = lists.iter().find(|l| l.name == "list-007").unwrap();
    assert_eq!(list.title, "List 7");
    assert_eq!(list.notification_start, time::Duration::weeks(1));
    assert_eq!(
        list.next_audit_date.map(|d| d.unix_timestamp()),
        Some(1_800_000_000)
    );

    let nested = client.get_access_list_owners(list).await.unwrap();
    let names: Vec<_> = nested.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["carol", "dave"]);

    env.kit
        .reject(Method::GetAccessListOwners, Code::Unimplemented, None);
    let explicit = client.get_access_list_owners(list).await.unwrap();
    let names: Vec<_> = explicit.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["carol"], "the list's own owners, as Go falls back");
}

#[tokio::test]
async fn access_list_plugin_data_is_compare_and_swap() {
    let env = Env::new().await;
    let client = env.client();
    let data = |v: &str| PluginDataMap::from([("user_notifications".into(), v.into())]);
    assert_eq!(
        client
            .get_plugin_data_of(ACCESS_LIST_KIND, "slack", "payroll")
            .await
            .unwrap(),
        None
    );
    client
        .update_plugin_data_of(ACCESS_LIST_KIND, "slack", "payroll", data("{}"), data(""))
        .await
        .unwrap();
    let stale = client
        .update_plugin_data_of(
            ACCESS_LIST_KIND,
            "slack",
            "payroll",
            data("{\"a\":1}"),
            data(""),
        )
        .await;
    assert!(matches!(stale, Err(ClientError::CompareFailed { .. })));
    assert_eq!(
        client
            .get_plugin_data_of(ACCESS_LIST_KIND, "slack", "payroll")
            .await
            .unwrap(),
        Some(data("{}"))
    );
}

fn with_rules() -> WatchOptions {
    WatchOptions {
        access_monitoring_rules: true,
        ..WatchOptions::default()
    }
}

#[tokio::test]
async fn the_watch_carries_rule_changes_next_to_requests() {
    let env = Env::new().await;
    let mut stream = env.client().watch_access_requests(with_rules());
    let confirmed = WatchedKinds {
        access_monitoring_rules: true,
    };
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent::Confirmed(confirmed)
    );
    assert_eq!(next_event(&mut stream).await, WatchEvent::Init);

    env.kit
        .upsert_access_monitoring_rule(access_monitoring_rule(
            "dba",
            "slack",
            r#"access_request.spec.roles.contains("dba")"#,
            &["#dba"],
        ));
    let WatchEvent::RulePut(rule) = next_event(&mut stream).await else {
        panic!("expected a rule PUT");
    };
    assert_eq!(rule.name, "dba");
    assert_eq!(rule.notification.unwrap().recipients, ["#dba"]);

    env.kit.create_request("alice", &["dba"], "why").unwrap();
    assert!(matches!(next_event(&mut stream).await, WatchEvent::Put(_)));

    assert!(env.kit.delete_access_monitoring_rule("dba"));
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent::RuleDelete("dba".into())
    );

    // Every reconnect confirms the kinds again before its INIT.
    env.kit.drop_watchers();
    assert!(matches!(
        next_event(&mut stream).await,
        WatchEvent::Reconnecting { .. }
    ));
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent::Confirmed(confirmed)
    );
    assert_eq!(next_event(&mut stream).await, WatchEvent::Init);
}

#[tokio::test]
async fn without_rules_the_request_watch_still_works() {
    for availability in [Availability::Unimplemented, Availability::PermissionDenied] {
        let env = Env::new().await;
        env.kit.set_access_monitoring_rules(availability);
        let mut stream = env.client().watch_access_requests(with_rules());
        assert_eq!(
            next_event(&mut stream).await,
            WatchEvent::Confirmed(WatchedKinds::default()),
            "{availability:?}"
        );
        assert_eq!(next_event(&mut stream).await, WatchEvent::Init);
        env.kit
            .upsert_access_monitoring_rule(access_monitoring_rule("r", "slack", "true", &[]));
        env.kit.create_request("alice", &["dev"], "why").unwrap();
        assert!(
            matches!(next_event(&mut stream).await, WatchEvent::Put(_)),
            "only the request arrives ({availability:?})"
        );
    }
}
