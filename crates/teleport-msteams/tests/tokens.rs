//! OAuth client-credentials tokens: one per scope, cached across calls, and renewed before
//! they expire (the fake refuses an expired token and counts such calls).

use crate::common;

use std::time::Duration;

use common::*;
use teleport_fakes::msteams::{BOT_SCOPE, GRAPH_SCOPE, TOKEN};

#[tokio::test]
async fn tokens_are_cached_across_a_whole_request() {
    let env = Env::start(fake_options()).await;
    let path = env.write_config(SECRET, true, &format!("\"*\" = [\"{BOB}\", \"{CAROL}\"]"));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 2).await;
    env.kit.approve(&id, "").expect("approve");
    env.wait_for_synced(&id, "APPROVED").await;

    // Many Graph and Bot Framework calls, one token each.
    assert_eq!(env.fake.with_state(|s| s.tokens_for(GRAPH_SCOPE)), 1);
    assert_eq!(env.fake.with_state(|s| s.tokens_for(BOT_SCOPE)), 1);
    assert_eq!(env.fake.call_count(TOKEN), 2);
    plugin.shutdown().await;
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire() {
    // Two-second tokens: renewed after a second and a half.
    let env = Env::start(fake_options().token_lifetime(Duration::from_secs(2))).await;
    let path = env.write_config(SECRET, false, &format!("\"*\" = \"{CAROL}\""));
    let plugin = env.spawn(&path);
    env.wait_for_watcher().await;
    let request = env
        .kit
        .create_request("alice@example.com", &["editor"], "deploy")
        .expect("request");
    let id = request_id(&request);
    env.wait_for_messages_saved(&id, 1).await;
    assert_eq!(env.fake.with_state(|s| s.tokens_for(BOT_SCOPE)), 1);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    env.kit.approve(&id, "").expect("approve");
    env.wait_for_synced(&id, "APPROVED").await;
    assert_eq!(
        env.fake.with_state(|s| s.tokens_for(BOT_SCOPE)),
        2,
        "a new token for the update"
    );
    assert_eq!(
        env.fake.with_state(|s| s.expired_token_uses),
        0,
        "no call with an expired token"
    );
    let card = env.fake.with_state(|s| s.activities[0].clone());
    assert_eq!(card.updates.len(), 1);
    plugin.shutdown().await;
}
