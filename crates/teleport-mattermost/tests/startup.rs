//! Start-up checks against the fake Mattermost: token, team and channel membership.

mod common;

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
async fn a_channel_without_the_bot_stops_the_start() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        "\"*\" = [\"eng/access-requests\", \"eng/secret-ops\"]",
    );
    let error = env.start_error(&path).await;
    assert!(
        error.contains("not a member of Mattermost channel \"secret-ops\" in team \"eng\""),
        "{error}"
    );
}

#[tokio::test]
async fn a_team_without_the_bot_stops_the_start() {
    let env = Env::start(fake_options().team("team2", "sales", "Sales", false)).await;
    let path = env.write_config(TOKEN, "\"*\" = \"sales/general\"");
    let error = env.start_error(&path).await;
    assert!(
        error.contains("not a member of Mattermost team \"sales\""),
        "{error}"
    );
}

#[tokio::test]
async fn an_unknown_team_or_channel_stops_the_start() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = \"nope/access-requests\"");
    let error = env.start_error(&path).await;
    assert!(error.contains("team \"nope\" not found"), "{error}");

    let path = env.write_config(TOKEN, "\"*\" = \"eng/nope\"");
    let error = env.start_error(&path).await;
    assert!(
        error.contains("channel \"nope\" not found in team \"eng\""),
        "{error}"
    );
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
