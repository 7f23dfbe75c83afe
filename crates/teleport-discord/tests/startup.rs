//! Start-up checks against the fake Discord: the token, and every configured channel.

use crate::common;

use common::*;
use teleport_fakes::discord::POST_MESSAGE;

#[tokio::test]
async fn a_bad_token_stops_the_start() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config("wrong-token", &format!("\"*\" = \"{CHANNEL}\""));
    let error = env.start_error(&path).await;
    assert!(error.contains("token"), "{error}");
    assert!(
        !error.contains("wrong-token"),
        "the token must not be shown: {error}"
    );
    assert_eq!(env.fake.call_count(POST_MESSAGE), 0);
}

#[tokio::test]
async fn a_channel_the_bot_cannot_see_stops_the_start() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(
        TOKEN,
        &format!("\"*\" = \"{CHANNEL}\"\n\"ops\" = \"{HIDDEN_CHANNEL}\""),
    );
    let error = env.start_error(&path).await;
    assert!(
        error.contains(&format!(
            "Discord channel {HIDDEN_CHANNEL} (role_to_recipients for \"ops\") cannot be used"
        )),
        "{error}"
    );
    assert!(error.contains("Missing Access"), "{error}");
}

#[tokio::test]
async fn an_unknown_channel_stops_the_start() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(TOKEN, "\"*\" = \"1299999999999999999\"");
    let error = env.start_error(&path).await;
    assert!(error.contains("Unknown Channel"), "{error}");
}
