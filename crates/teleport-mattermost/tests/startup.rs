//! Start-up checks against the fake Mattermost: the token stops the start; unusable teams and
//! channels are skipped, as in the Go plugin.

use crate::common;

use common::*;

#[tokio::test]
async fn a_bad_token_stops_the_start() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config("wrong-token", "\"*\" = \"eng/access-requests\"");
    let error = env.start_error(&path).await;
    assert!(error.contains("token"), "{error}");
    assert!(
        !error.contains("wrong-token"),
        "the token must not be shown: {error}"
    );
    assert_eq!(env.fake.call_count("POST /api/v4/posts"), 0);
}

#[tokio::test]
async fn unusable_recipients_are_skipped_and_the_rest_is_served() {
    // As the Go plugin: a channel without the bot, an unknown team or channel, a malformed
    // recipient are logged and skipped, and the other recipients still get every request.
    let env = Env::start(fake_options().team("team2", "sales", "Sales", false)).await;
    let path = env.write_config(
        TOKEN,
        "\"*\" = [\"eng/secret-ops\", \"sales/general\", \"nope/x\", \"eng/nope\", \"just-a-name\", \"eng/access-requests\"]",
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    let post = env
        .fake
        .wait_for(WAIT, |s| s.roots().next().cloned())
        .await
        .expect("a post");
    assert_eq!(post.channel_id, CHANNEL);
    assert!(post.message.contains(&id), "{}", post.message);
    plugin.shutdown().await;
    assert_eq!(env.fake.call_count("POST /api/v4/posts"), 1);
}

#[tokio::test]
async fn team_and_channel_by_display_name() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = \"Engineering/Access Requests\"");
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;

    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    let post = env
        .fake
        .wait_for(WAIT, |s| s.roots().next().cloned())
        .await
        .expect("a post");
    assert_eq!(post.channel_id, CHANNEL);
    assert!(post.message.contains(&id), "{}", post.message);
    plugin.shutdown().await;
}
