//! The catch-up listings: requests a page at a time (with the older servers' fallback)
//! and the IDs of a plugin's records, decoded without their data.

use crate::support;

use std::collections::HashSet;

use support::Env;
use teleport_client::{PluginDataMap, RequestFilter};
use teleport_testkit::Method;
use tonic::Code;

#[tokio::test]
async fn requests_come_a_page_at_a_time_or_at_once_from_older_servers() {
    let env = Env::new().await;
    for n in 0..1500 {
        env.kit
            .create_request(&format!("u{n}"), &["dev"], "")
            .unwrap();
    }
    let client = env.client();
    let mut pages = client.access_request_pages(&RequestFilter::default());
    let first = pages.next_page().await.unwrap().unwrap();
    assert_eq!(first.len(), 1000);
    assert_eq!(
        env.kit.call_count(Method::ListAccessRequests),
        1,
        "one page read"
    );
    let second = pages.next_page().await.unwrap().unwrap();
    assert_eq!(second.len(), 500);
    assert!(pages.next_page().await.unwrap().is_none());
    assert!(pages.next_page().await.unwrap().is_none(), "stays done");
    let ids: HashSet<_> = first.iter().chain(&second).map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 1500, "no request twice");

    env.kit
        .reject(Method::ListAccessRequests, Code::Unimplemented, None);
    let client = env.client();
    let mut pages = client.access_request_pages(&RequestFilter::default());
    assert_eq!(pages.next_page().await.unwrap().unwrap().len(), 1500);
    assert!(pages.next_page().await.unwrap().is_none());
    assert_eq!(env.kit.call_count(Method::GetAccessRequestsV2), 1);
}

#[tokio::test]
async fn record_ids_are_those_of_the_plugin() {
    let env = Env::new().await;
    let client = env.client();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            env.kit
                .create_request(&format!("u{n}"), &["dev"], "")
                .unwrap()
                .metadata
                .unwrap()
                .name,
        );
    }
    let record: PluginDataMap = [("user".to_owned(), "u".to_owned())].into_iter().collect();
    for id in &ids[..3] {
        client
            .update_plugin_data("slack", id, record.clone(), PluginDataMap::new())
            .await
            .unwrap();
    }
    client
        .update_plugin_data("email", &ids[4], record, PluginDataMap::new())
        .await
        .unwrap();

    let listed = client.list_plugin_data_ids("slack").await.unwrap();
    let full: HashSet<String> = client
        .list_plugin_data("slack")
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed, ids[..3].iter().cloned().collect::<HashSet<_>>());
    assert_eq!(listed, full, "the same records as the full listing");
    assert!(
        client
            .list_plugin_data_ids("discord")
            .await
            .unwrap()
            .is_empty()
    );
}
