//! GetPluginData / UpdatePluginData over gRPC: absence, CAS, deletes, all-plugin entries.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::{WAIT, client, id_of};
use teleport_client::wire::proto::auth_service_client::AuthServiceClient;
use teleport_client::wire::types::{PluginDataFilter, PluginDataUpdateParams, PluginDataV3};
use teleport_testkit::Testkit;
use tonic::Code;
use tonic::transport::Channel;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn update(
    id: &str,
    plugin: &str,
    set: &[(&str, &str)],
    expect: &[(&str, &str)],
) -> PluginDataUpdateParams {
    PluginDataUpdateParams {
        kind: "access_request".into(),
        resource: id.into(),
        plugin: plugin.into(),
        set: map(set),
        expect: map(expect),
    }
}

async fn get(client: &mut AuthServiceClient<Channel>, id: &str, plugin: &str) -> Vec<PluginDataV3> {
    client
        .get_plugin_data(PluginDataFilter {
            kind: "access_request".into(),
            resource: id.into(),
            plugin: plugin.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .plugin_data
}

/// The Slack entry as the testkit's controls give it, ordered like [`map`].
fn stored(kit: &Testkit, id: &str) -> BTreeMap<String, String> {
    kit.plugin_data(id, "slack").unwrap().into_iter().collect()
}

fn entry<'a>(data: &'a PluginDataV3, plugin: &str) -> &'a BTreeMap<String, String> {
    &data.spec.as_ref().unwrap().entries[plugin].data
}

#[tokio::test]
async fn absent_data_is_an_empty_list_and_bad_kinds_are_refused() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let request = kit.create_request("alice", &["editor"], "").unwrap();
    assert!(get(&mut bot, &id_of(&request), "slack").await.is_empty());
    assert!(get(&mut bot, "no-such-request", "slack").await.is_empty());

    let status = bot
        .get_plugin_data(PluginDataFilter {
            kind: "node".into(),
            resource: "x".into(),
            plugin: "slack".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut bad = update(&id_of(&request), "slack", &[("k", "v")], &[]);
    bad.kind = "role".into();
    assert_eq!(
        bot.update_plugin_data(bad).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    let status = bot
        .update_plugin_data(update("no-such-request", "slack", &[("k", "v")], &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn create_if_absent_then_compare_and_swap() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    let empty_record = [("user", ""), ("messages", "")];

    // No entry yet: every expected value must be "".
    let status = bot
        .update_plugin_data(update(
            &id,
            "slack",
            &[("user", "alice")],
            &[("user", "bob")],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    bot.update_plugin_data(update(
        &id,
        "slack",
        &[("user", "alice"), ("messages", "C1/1")],
        &empty_record,
    ))
    .await
    .unwrap();
    // A second create-if-absent loses.
    let status = bot
        .update_plugin_data(update(&id, "slack", &[("user", "mallory")], &empty_record))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // CAS with the current values wins, with stale ones loses.
    let current = [("user", "alice"), ("messages", "C1/1")];
    bot.update_plugin_data(update(&id, "slack", &[("messages", "C1/1,C2/2")], &current))
        .await
        .unwrap();
    let status = bot
        .update_plugin_data(update(&id, "slack", &[("messages", "C9/9")], &current))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // An empty Expect checks nothing.
    bot.update_plugin_data(update(&id, "slack", &[("resolution", "APPROVED")], &[]))
        .await
        .unwrap();
    assert_eq!(
        stored(&kit, &id),
        map(&[
            ("user", "alice"),
            ("messages", "C1/1,C2/2"),
            ("resolution", "APPROVED")
        ])
    );
}

#[tokio::test]
async fn empty_values_delete_keys_and_an_emptied_entry_disappears() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    bot.update_plugin_data(update(&id, "slack", &[("a", "1"), ("b", "2")], &[]))
        .await
        .unwrap();
    bot.update_plugin_data(update(&id, "slack", &[("a", "")], &[]))
        .await
        .unwrap();
    assert_eq!(stored(&kit, &id), map(&[("b", "2")]));
    bot.update_plugin_data(update(&id, "slack", &[("b", "")], &[]))
        .await
        .unwrap();
    assert!(kit.plugin_data(&id, "slack").is_none());
    assert!(
        get(&mut bot, &id, "slack").await.is_empty(),
        "filter by plugin needs its entry"
    );
}

#[tokio::test]
async fn the_object_holds_every_plugins_entry() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let request = kit
        .new_request("alice", &["editor"])
        .access_expires(SystemTime::now() + Duration::from_secs(3600))
        .create()
        .unwrap();
    let id = id_of(&request);
    bot.update_plugin_data(update(&id, "slack", &[("messages", "C1/1")], &[]))
        .await
        .unwrap();
    kit.put_plugin_data("access_request", &id, "jira", &[("issue_id", "J-1")])
        .unwrap();

    let found = get(&mut bot, &id, "slack").await;
    assert_eq!(found.len(), 1);
    let data = &found[0];
    assert_eq!(
        (
            data.kind.as_str(),
            data.sub_kind.as_str(),
            data.version.as_str()
        ),
        ("plugin_data", "access_request", "v3")
    );
    assert_eq!(entry(data, "slack"), &map(&[("messages", "C1/1")]));
    assert_eq!(entry(data, "jira"), &map(&[("issue_id", "J-1")]));
    assert!(get(&mut bot, &id, "pagerduty").await.is_empty());
    assert_eq!(get(&mut bot, &id, "").await.len(), 1);

    // Plugin data outlives the request's access expiry by an hour.
    let metadata = data.metadata.as_ref().unwrap();
    assert_eq!(metadata.name, id);
    let request_expiry = request.spec.unwrap().expires.unwrap().seconds;
    assert_eq!(metadata.expires.unwrap().seconds, request_expiry + 3600);
}

#[tokio::test]
async fn access_list_data_needs_no_resource_and_expires_in_two_weeks() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let mut params = update(
        "payroll-admins",
        "slack",
        &[("user_notifications", "{}")],
        &[],
    );
    params.kind = "access_list".into();
    bot.update_plugin_data(params).await.unwrap();
    let found = bot
        .get_plugin_data(PluginDataFilter {
            kind: "access_list".into(),
            resource: "payroll-admins".into(),
            plugin: "slack".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .plugin_data;
    let expires = found[0].metadata.as_ref().unwrap().expires.unwrap().seconds;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (expires - now - 14 * 24 * 3600).abs() < 60,
        "{expires} vs {now}"
    );
}

#[tokio::test]
async fn tests_can_wait_for_a_key_written_by_a_client() {
    let kit = common::kit().await;
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    let mut bot = client(&kit, "access-plugin").await;
    let writer_id = id.clone();
    let writer = tokio::spawn(async move {
        bot.update_plugin_data(update(&writer_id, "slack", &[("user", "alice")], &[]))
            .await
            .unwrap();
        bot.update_plugin_data(update(&writer_id, "slack", &[("messages", "C1/1")], &[]))
            .await
            .unwrap();
    });
    let data = kit
        .wait_for_plugin_data(&id, "slack", "messages", WAIT)
        .await
        .unwrap();
    assert_eq!(data["messages"], "C1/1");
    writer.await.unwrap();
    let missing = kit
        .wait_for_plugin_data(&id, "slack", "never", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(missing, teleport_testkit::Error::Timeout(..)));
}

/// Plugins record `resolution=EXPIRED` after the DELETE event, when the request is gone.
#[tokio::test]
async fn existing_data_stays_writable_after_the_request_expires() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    bot.update_plugin_data(update(&id, "slack", &[("user", "alice")], &[]))
        .await
        .unwrap();
    kit.expire(&id).unwrap();
    bot.update_plugin_data(update(
        &id,
        "slack",
        &[("resolution", "EXPIRED")],
        &[("resolution", "")],
    ))
    .await
    .unwrap();
    assert_eq!(
        kit.plugin_data(&id, "slack").unwrap()["resolution"],
        "EXPIRED"
    );
    let status = bot
        .update_plugin_data(update(&id, "email", &[("x", "y")], &[]))
        .await;
    assert!(
        status.is_ok(),
        "the object exists, so another plugin's entry may be added"
    );
    let gone = bot
        .update_plugin_data(update("never-existed", "slack", &[("x", "y")], &[]))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}
