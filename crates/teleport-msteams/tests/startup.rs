//! Start-up checks against the fake Teams: the app in the catalog, the credentials, and
//! with `preload` every configured recipient resolved (the app installed) before requests.

use crate::common;

use common::*;
use teleport_fakes::msteams::{GET_CATALOG, INSTALL_APP, POST_ACTIVITY};

#[tokio::test]
async fn an_app_missing_from_the_catalog_stops_the_start() {
    let env = Env::start(fake_options().without_app()).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let error = env.start_error(&path).await;
    assert!(error.contains("not found"), "{error}");
    assert!(error.contains("app catalog"), "{error}");
    assert!(error.contains("teams_app_id"), "{error}");
    assert_eq!(env.fake.call_count(GET_CATALOG), 1, "not retried");
}

#[tokio::test]
async fn a_wrong_secret_stops_the_start_without_showing_it() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config("wrong-secret-value", false, &format!("\"*\" = \"{CAROL}\""));
    let error = env.start_error(&path).await;
    assert!(error.contains("credentials refused"), "{error}");
    assert!(error.contains("invalid_client"), "{error}");
    assert!(error.contains("app_secret"), "{error}");
    assert!(!error.contains("wrong-secret-value"), "{error}");
}

#[tokio::test]
async fn preload_installs_the_app_for_every_recipient_before_requests() {
    let env = Env::start(fake_options()).await;
    let link = channel_link(CHANNEL, GROUP);
    let path = env.write_config(
        SECRET,
        true,
        &format!("\"*\" = [\"{BOB}\", \"{link}\"]\ndev = \"{CAROL_ID}\""),
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    assert!(
        chat_of(&env.fake, BOB_ID).is_some(),
        "installed for Bob at start-up"
    );
    assert_eq!(env.fake.call_count(INSTALL_APP), 1);
    assert_eq!(env.fake.call_count(POST_ACTIVITY), 0);
    plugin.shutdown().await;
}

#[tokio::test]
async fn preload_stops_the_start_for_an_unknown_person_or_a_team_without_the_app() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, true, "\"*\" = \"nobody@example.com\"");
    let error = env.start_error(&path).await;
    assert!(error.contains("nobody@example.com"), "{error}");
    assert!(error.contains("not found"), "{error}");

    let path = env.write_config(
        SECRET,
        true,
        &format!("\"*\" = \"{}\"", channel_link(BARE_CHANNEL, BARE_GROUP)),
    );
    let error = env.start_error(&path).await;
    assert!(error.contains(BARE_GROUP), "{error}");
    assert!(error.contains("add the app to the team"), "{error}");
}

#[tokio::test]
async fn without_preload_an_unknown_person_is_skipped_and_the_others_served() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        SECRET,
        false,
        &format!("\"*\" = [\"nobody@example.com\", \"{CAROL}\"]"),
    );
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    let data = env.kit.plugin_data(&id, "msteams").expect("data");
    assert_eq!(data["recipients"], CAROL);
    plugin.shutdown().await;
}
