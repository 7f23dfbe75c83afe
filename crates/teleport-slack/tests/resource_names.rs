//! Requested resources by friendly name, as Go's Slack plugin shows and stores them:
//! `ListResources` with the plugin's `preview_as_roles` through the testkit over mTLS, the
//! fake Slack receiving the message; a refused lookup falls back to the IDs, a role-only
//! request costs no lookup, an Okta group reads by its Okta name and an Identity Center
//! account by its ID (as Go), and a PROMOTED request reads `*Status*:  PROMOTED` as in Go.

use crate::common;

use std::collections::HashMap;

use common::{WAIT, fake_slack_options, setup};
use teleport_fakes::FakeSlack;
use teleport_fakes::slack::PostedMessage;
use teleport_plugin_testsupport::eventually;
use teleport_testkit::{Method, Testkit};

const CLUSTER: &str = "teleport.example.com";
const PLUGIN: &str = "access-plugin";

async fn kit() -> Testkit {
    let kit = Testkit::builder()
        .cluster_name(CLUSTER)
        .start()
        .await
        .unwrap();
    kit.add_node("8c0e6a52-node-1", "web-1", &[("env", "prod")]);
    kit.add_node("8c0e6a52-node-2", "db-1", &[("env", "prod")]);
    kit
}

/// The root message in `#access-requests` for request `id`.
async fn root_for(slack: &FakeSlack, id: &str) -> PostedMessage {
    slack
        .wait_for(WAIT, |state| {
            state
                .root_messages()
                .find(|m| m.channel == "C0REQ" && m.posted.visible_text().contains(id))
                .cloned()
        })
        .await
        .unwrap()
}

/// The request's plugin data once its message is recorded.
async fn recorded(kit: &Testkit, id: &str) -> HashMap<String, String> {
    eventually("the message recorded", WAIT, || async {
        kit.plugin_data(id, "slack")
            .is_some_and(|d| d.get("messages").is_some_and(|m| !m.is_empty()))
    })
    .await;
    kit.plugin_data(id, "slack").unwrap()
}

#[tokio::test]
async fn requested_nodes_are_shown_and_stored_by_hostname() {
    let kit = kit().await;
    kit.allow_resource_lookup(PLUGIN, &[("env", "prod")]);
    let s = setup(kit, FakeSlack::start(fake_slack_options()).await, "").await;

    let request = s
        .kit
        .new_request("alice@example.com", &["node-access"])
        .resource("node", "8c0e6a52-node-1")
        .resource("node", "8c0e6a52-node-2")
        .resource("db", "postgres")
        .create()
        .unwrap();
    let id = request.metadata.unwrap().name;
    let root = root_for(&s.slack, &id).await;
    let fields = &root.posted.block_texts()[1];
    // Sorted and escaped inline as Go: the database (not a looked-up kind) keeps its ID.
    assert!(
        fields.contains(&format!(
            "*Resource(s)*: `/{CLUSTER}/db/postgres,node/db-1,node/web-1`\n"
        )),
        "{fields}"
    );
    // Stored in the request's order, in Go's JSON.
    let data = recorded(&s.kit, &id).await;
    assert_eq!(
        data["resources"],
        format!(r#"["node/web-1","node/db-1","/{CLUSTER}/db/postgres"]"#)
    );
    assert_eq!(
        s.kit.call_count(Method::ListResources),
        1,
        "one call for the one looked-up kind, though the requester gets the message too"
    );

    // A second request for a known node is answered from the cache.
    let again = s
        .kit
        .new_request("bob@example.com", &["node-access"])
        .resource("node", "8c0e6a52-node-1")
        .create()
        .unwrap();
    let again_id = again.metadata.unwrap().name;
    let root_again = root_for(&s.slack, &again_id).await;
    assert!(
        root_again.posted.block_texts()[1].contains("*Resource(s)*: `node/web-1`\n"),
        "{:?}",
        root_again.posted.block_texts()
    );
    assert_eq!(s.kit.call_count(Method::ListResources), 1);

    // Go's status line for a promoted request, two spaces where the emoji would be.
    s.kit.promote(&id, "prod-admins").unwrap();
    let status = s
        .slack
        .wait_for(WAIT, |state| {
            let text = state
                .message(&root.channel, &root.ts)?
                .current()
                .block_texts()[2]
                .clone();
            text.contains("PROMOTED").then_some(text)
        })
        .await
        .unwrap();
    assert_eq!(status, "*Status*:  PROMOTED");
    s.shutdown().await;
}

#[tokio::test]
async fn a_refused_lookup_falls_back_to_the_ids() {
    // No `node: list` right and no preview_as_roles: Teleport answers AccessDenied.
    let s = setup(
        kit().await,
        FakeSlack::start(fake_slack_options()).await,
        "",
    )
    .await;
    let request = s
        .kit
        .new_request("alice@example.com", &["node-access"])
        .resource("node", "8c0e6a52-node-1")
        .create()
        .unwrap();
    let id = request.metadata.unwrap().name;
    let root = root_for(&s.slack, &id).await;
    assert!(
        root.posted.block_texts()[1].contains(&format!(
            "*Resource(s)*: `/{CLUSTER}/node/8c0e6a52-node-1`\n"
        )),
        "{:?}",
        root.posted.block_texts()
    );
    let data = recorded(&s.kit, &id).await;
    assert_eq!(
        data["resources"],
        format!(r#"["/{CLUSTER}/node/8c0e6a52-node-1"]"#)
    );
    assert_eq!(
        s.kit.call_count(Method::ListResources),
        1,
        "asked once, not retried"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_role_only_request_makes_no_lookup() {
    let kit = kit().await;
    kit.allow_resource_lookup(PLUGIN, &[("*", "*")]);
    let s = setup(kit, FakeSlack::start(fake_slack_options()).await, "").await;
    let request = s
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .unwrap();
    let id = request.metadata.unwrap().name;
    let root = root_for(&s.slack, &id).await;
    assert!(!root.posted.visible_text().contains("Resource(s)"));
    let data = recorded(&s.kit, &id).await;
    assert_eq!(data.get("resources").map(String::as_str).unwrap_or(""), "");
    assert_eq!(s.kit.call_count(Method::ListResources), 0);
    s.shutdown().await;
}

#[tokio::test]
async fn okta_groups_are_named_and_identity_center_accounts_keep_their_ids() {
    let kit = kit().await;
    kit.allow_resource_lookup(PLUGIN, &[("*", "*")]);
    kit.add_user_group(
        "00g1engineering",
        &[
            ("teleport.dev/origin", "okta"),
            ("teleport.internal/okta-group-name", "Engineering"),
        ],
    );
    // A group not imported from Okta has no friendly name (Go's `types.FriendlyName`).
    kit.add_user_group("local-group", &[]);
    let s = setup(kit, FakeSlack::start(fake_slack_options()).await, "").await;

    let request = s
        .kit
        .new_request("alice@example.com", &["okta-access"])
        .resource("user_group", "00g1engineering")
        .resource("user_group", "local-group")
        .resource("identity_center_account", "123456789012")
        .create()
        .unwrap();
    let id = request.metadata.unwrap().name;
    let root = root_for(&s.slack, &id).await;
    let fields = &root.posted.block_texts()[1];
    assert!(
        fields.contains(&format!(
            "*Resource(s)*: `/{CLUSTER}/identity_center_account/123456789012,/{CLUSTER}/user_group/local-group,user_group/Engineering`\n"
        )),
        "{fields}"
    );
    let data = recorded(&s.kit, &id).await;
    assert_eq!(
        data["resources"],
        format!(
            r#"["user_group/Engineering","/{CLUSTER}/user_group/local-group","/{CLUSTER}/identity_center_account/123456789012"]"#
        )
    );
    assert_eq!(
        s.kit.call_count(Method::ListResources),
        1,
        "one call for the user groups; none for the Identity Center account"
    );
    s.shutdown().await;
}
