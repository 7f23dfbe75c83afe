//! `ListResources` against the testkit: requested nodes found by name with the plugin's
//! `preview_as_roles`, every page followed, and the answers a plugin without the right gets.

use crate::support;

use support::{Env, USER};
use teleport_client::{ClientError, ListedResource};
use teleport_testkit::Method;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn requested_nodes_are_found_by_name_through_preview_as_roles() {
    let env = Env::new().await;
    env.kit.add_node("5f0c-n1", "web-1", &[("env", "prod")]);
    env.kit.add_node("5f0c-n2", "web-2", &[("env", "prod")]);
    env.kit.add_node("5f0c-n3", "db-1", &[("env", "dev")]);
    env.kit.add_node("5f0c-n4", "other", &[("env", "prod")]);
    // The plugin may see prod nodes only through its review_requests.preview_as_roles.
    env.kit.allow_resource_lookup(USER, &[("env", "prod")]);
    let client = env.client();

    let found = client
        .resources_named(
            "node",
            &names(&["5f0c-n1", "5f0c-n2", "5f0c-n3", "missing"]),
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        [
            ListedResource {
                kind: "node".into(),
                name: "5f0c-n1".into(),
                friendly_name: Some("web-1".into()),
            },
            ListedResource {
                kind: "node".into(),
                name: "5f0c-n2".into(),
                friendly_name: Some("web-2".into()),
            },
        ],
        "the dev node is not visible to the preview role, the unknown one does not exist"
    );
    assert_eq!(env.kit.call_count(Method::ListResources), 1);
}

#[tokio::test]
async fn every_page_is_followed() {
    let env = Env::new().await;
    for i in 0..5 {
        env.kit.add_node(
            &format!("node-{i}"),
            &format!("host-{i}"),
            &[("env", "prod")],
        );
    }
    env.kit.allow_resource_lookup(USER, &[("*", "*")]);
    env.kit.cap_resource_pages(Some(2));
    let wanted = names(&["node-0", "node-1", "node-2", "node-3", "node-4"]);
    let found = env.client().resources_named("node", &wanted).await.unwrap();
    let hosts: Vec<_> = found
        .iter()
        .filter_map(|r| r.friendly_name.clone())
        .collect();
    assert_eq!(hosts, ["host-0", "host-1", "host-2", "host-3", "host-4"]);
    assert_eq!(env.kit.call_count(Method::ListResources), 3);
}

#[tokio::test]
async fn a_plugin_without_the_right_is_denied_and_no_names_ask_nothing() {
    let env = Env::new().await;
    env.kit.add_node("n1", "web-1", &[]);
    let client = env.client();
    let denied = client.resources_named("node", &names(&["n1"])).await;
    assert!(
        matches!(denied, Err(ClientError::AccessDenied { .. })),
        "{denied:?}"
    );
    assert!(
        client
            .resources_named("node", &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(env.kit.call_count(Method::ListResources), 1);
}
