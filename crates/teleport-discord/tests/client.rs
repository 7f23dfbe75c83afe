//! The Discord client against the fake Discord: Discord's 429 read to the millisecond, and
//! every failure sorted for the runtime.

use std::time::Duration;

use teleport_discord::client::{DiscordApi, DiscordError, MessageBody};
use teleport_fakes::discord::{FakeDiscord, FakeDiscordOptions, POST_MESSAGE};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};
use teleport_plugin_runtime::service_error::ServiceError;

const CHANNEL: &str = "1200000000000000001";

async fn setup() -> (FakeDiscord, DiscordApi) {
    let fake = FakeDiscord::start(FakeDiscordOptions::default().token("t0ken").channel(
        CHANNEL,
        "access-requests",
        true,
    ))
    .await;
    let http = http_client(&HttpClientOptions::default()).expect("http client");
    let api = DiscordApi::new(http, &fake.base_url(), Secret::new("t0ken")).expect("api");
    (fake, api)
}

fn body() -> MessageBody {
    MessageBody {
        content: "hello".into(),
        embeds: Vec::new(),
    }
}

#[tokio::test]
async fn a_429_waits_as_long_as_discord_says_to_the_millisecond() {
    let (fake, api) = setup().await;
    fake.rate_limit_next_precise(POST_MESSAGE, 1, Duration::from_millis(250));
    let error = api
        .create_message(CHANNEL, &body())
        .await
        .expect_err("rate limited");
    assert!(
        matches!(error, DiscordError::RateLimited { global: false, .. }),
        "{error:?}"
    );
    let service = ServiceError::from(error);
    assert_eq!(service.retry_after(), Some(Duration::from_millis(250)));
    assert!(service.is_retryable());

    let message = api.create_message(CHANNEL, &body()).await.expect("posted");
    assert_eq!(message.channel_id, CHANNEL);
    assert_eq!(fake.with_state(|s| s.messages.len()), 1);
}

#[tokio::test]
async fn failures_are_sorted_for_the_runtime() {
    let (fake, api) = setup().await;
    let missing = api
        .create_message("1299999999999999999", &body())
        .await
        .expect_err("unknown channel");
    assert!(
        matches!(missing, DiscordError::NotFound { code: 10003, .. }),
        "{missing:?}"
    );
    let edit = api
        .edit_message(CHANNEL, "1", &body())
        .await
        .expect_err("unknown message");
    assert!(
        matches!(edit, DiscordError::NotFound { code: 10008, .. }),
        "{edit:?}"
    );

    fake.set_token("rotated");
    let refused = api.me().await.expect_err("old token");
    assert!(matches!(
        ServiceError::from(refused),
        ServiceError::Unauthorized { .. }
    ));
}
