//! Finding a post nobody recorded: a replica that died between Mattermost accepting a
//! request's post and recording it leaves a lapsed lease; the replica taking over finds the
//! post by the request ID in its `props` (`GET channels/{id}/posts?since=`) instead of
//! posting again. A new request costs no lookup.

use crate::common;

use common::*;
use teleport_mattermost::client::{MattermostApi, REQUEST_ID_PROP};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_testsupport::lapsed_lease;

const LOOKUP: &str = "GET /api/v4/channels/{channel}/posts";

/// Root posts in `CHANNEL` made for request `id`.
fn posts_of(env: &Env, id: &str) -> Vec<String> {
    env.fake.with_state(|s| {
        s.roots()
            .filter(|p| p.channel_id == CHANNEL)
            .filter(|p| p.props.get(REQUEST_ID_PROP).and_then(|v| v.as_str()) == Some(id))
            .map(|p| p.id.clone())
            .collect()
    })
}

#[tokio::test]
async fn a_post_mattermost_accepted_but_nobody_recorded_is_found_not_posted_again() {
    crashed_post_is_found_under(0).await;
}

#[tokio::test]
async fn a_post_under_a_backlog_of_newer_posts_is_still_found() {
    // More than 25 pages of 200 (what a look-up read before the full chaos run on a loaded
    // machine doubled 8): the listing starts at the newest post.
    crashed_post_is_found_under(5_200).await;
}

/// A replica posted the request's post, `newer` other posts followed, and it died before
/// recording it; the replica taking over finds it instead of posting again.
async fn crashed_post_is_found_under(newer: usize) {
    let env = Env::start(fake_options()).await;
    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);

    // The replica that died: it posted to the channel and was killed before writing that
    // down; its lease lapsed a moment ago.
    let api = MattermostApi::new(
        http_client(&HttpClientOptions::default()).unwrap(),
        &env.fake.base_url(),
        Secret::new(TOKEN),
    )
    .unwrap();
    let crashed = api
        .create_request_post(CHANNEL, "the crashed replica's post", &id)
        .await
        .unwrap();
    for n in 0..newer {
        api.create_post(CHANNEL, None, &format!("something else {n}"))
            .await
            .unwrap();
    }
    let lapsed = lapsed_lease();
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            "mattermost",
            &[
                ("user", "alice@example.com"),
                ("roles", "editor"),
                ("claim", &lapsed),
            ],
        )
        .unwrap();

    let path = env.write_config(TOKEN, "\"*\" = [\"eng/access-requests\"]");
    let plugin = env.spawn(&path);
    teleport_plugin_testsupport::eventually("the channel recorded", WAIT, || async {
        env.kit
            .plugin_data(&id, "mattermost")
            .is_some_and(|d| d.get("sent_to").is_some_and(|t| !t.is_empty()))
    })
    .await;
    let data = env.kit.plugin_data(&id, "mattermost").unwrap();
    assert_eq!(data["messages"], format!("{CHANNEL}/{}", crashed.id));
    assert_eq!(posts_of(&env, &id), vec![crashed.id.clone()]);
    assert!(env.fake.call_count(LOOKUP) >= 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_new_request_is_posted_with_its_id_and_looks_nothing_up() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = [\"eng/access-requests\"]");
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .new_request("alice@example.com", &["editor"])
        .create()
        .expect("request");
    let id = request_id(&request);
    teleport_plugin_testsupport::eventually("the post recorded", WAIT, || async {
        env.kit
            .plugin_data(&id, "mattermost")
            .is_some_and(|d| d.get("messages").is_some_and(|m| !m.is_empty()))
    })
    .await;
    assert_eq!(posts_of(&env, &id).len(), 1);
    assert_eq!(env.fake.call_count(LOOKUP), 0);
    plugin.shutdown().await;
}
