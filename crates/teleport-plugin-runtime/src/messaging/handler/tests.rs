//! The messaging handler against the testkit with a bot that fails on demand.

use std::sync::atomic::{AtomicUsize, Ordering};

use teleport_client::AccessReview;
use teleport_testkit::Method;

use super::*;
use crate::messaging::bot::PostWindow;
use crate::messaging::record::MessageCodec;
use crate::record::MAX_TRIES_IN_PLACE;
use crate::record::tests::Env;

const PLUGIN: &str = "slack";

/// Posts to any channel, failing the first `failures` posts.
#[derive(Default)]
struct FlakyBot {
    failures: AtomicUsize,
    /// Posts refused with a 50 ms Retry-After before any succeeds.
    rate_limited: AtomicUsize,
    posted: AtomicUsize,
    /// Whether the bot can look posted messages up (`finds_posted`).
    looks_up: std::sync::atomic::AtomicBool,
    /// Messages the service holds that no record knows of (posted before a crash).
    unrecorded: std::sync::Mutex<Vec<String>>,
    lookups: AtomicUsize,
    /// Posts the service takes whose answer is lost (a timeout after the post landed).
    lost_answers: AtomicUsize,
    /// Lookups that fail transiently before any succeeds.
    lookup_failures: AtomicUsize,
    /// Posts the service answers with a 500 (nothing posted) before any succeeds.
    server_errors: AtomicUsize,
    /// The window of every lookup, in order.
    windows: std::sync::Mutex<Vec<PostWindow>>,
    /// Lookups that never end (the replica dies looking).
    lookups_hanging: AtomicUsize,
    /// Posts that land and never answer (the replica dies posting).
    posts_hanging: AtomicUsize,
    /// Recipient look-ups that fail transiently before any succeeds.
    resolve_failures: AtomicUsize,
}

/// Takes one from `counter` if any is left.
fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

const RETRY_AFTER: Duration = Duration::from_millis(50);

impl MessageCodec for FlakyBot {
    /// `<channel>-<n>`.
    type Message = String;
    const MESSAGES_KEY: &'static str = "messages";

    fn encode(message: &String) -> String {
        message.clone()
    }

    fn decode(text: &str) -> Option<String> {
        Some(text.to_owned())
    }
}

impl crate::health::HealthCheck for FlakyBot {
    fn service_name(&self) -> &'static str {
        "flaky bot"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        Ok(())
    }
}

impl MessagingBot for FlakyBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        if take_one(&self.resolve_failures) {
            return Err(ServiceError::answered("503 Service Unavailable", None));
        }
        Ok(Some(Recipient { id: raw.to_owned() }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        _view: &RequestView,
    ) -> Result<String, ServiceError> {
        let failed = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failed {
            return Err(ServiceError::transient("upstream down"));
        }
        let server_error = self
            .server_errors
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if server_error {
            return Err(ServiceError::answered("500 Internal Server Error", None));
        }
        let limited = self
            .rate_limited
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if limited {
            return Err(ServiceError::answered("ratelimited", Some(RETRY_AFTER)));
        }
        if take_one(&self.posts_hanging) {
            let landed = format!("{}-hung", recipient.id);
            self.unrecorded.lock().unwrap().push(landed);
            std::future::pending::<()>().await;
        }
        let lost = self
            .lost_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lost {
            let landed = format!("{}-lost", recipient.id);
            self.unrecorded.lock().unwrap().push(landed);
            return Err(ServiceError::transient("timed out"));
        }
        let n = self.posted.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{}-{n}", recipient.id))
    }

    fn finds_posted(&self) -> bool {
        self.looks_up.load(Ordering::SeqCst)
    }

    async fn find_posted(
        &self,
        recipient: &Recipient,
        _request_id: &str,
        window: &PostWindow,
    ) -> Result<Option<String>, ServiceError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        assert!(window.after < window.before, "{window:?}");
        self.windows.lock().unwrap().push(*window);
        if take_one(&self.lookups_hanging) {
            std::future::pending::<()>().await;
        }
        let failed = self
            .lookup_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failed {
            return Err(ServiceError::transient("upstream down"));
        }
        let unrecorded = self.unrecorded.lock().unwrap();
        let prefix = format!("{}-", recipient.id);
        Ok(unrecorded.iter().find(|m| m.starts_with(&prefix)).cloned())
    }

    async fn send_review(
        &self,
        _message: &String,
        _view: &RequestView,
        _review: &AccessReview,
    ) -> Result<(), ServiceError> {
        Ok(())
    }

    async fn update_message(
        &self,
        _message: &String,
        _view: &RequestView,
    ) -> Result<(), ServiceError> {
        Ok(())
    }
}

/// The environment's request, as the watch would deliver it.
async fn observed(env: &Env) -> Observation {
    let request = env
        .client
        .get_access_request(&env.request_id)
        .await
        .unwrap();
    Observation::Put(Box::new(request.expect("the request exists")))
}

fn app(bot: &Arc<FlakyBot>, client: &TeleportClient, replica: &str) -> MessagingHandler<FlakyBot> {
    // Far longer than the test may wait, so only a release lets the other in.
    app_with_lease(bot, client, replica, Duration::from_secs(3600))
}

fn app_with_lease(
    bot: &Arc<FlakyBot>,
    client: &TeleportClient,
    replica: &str,
    lease: Duration,
) -> MessagingHandler<FlakyBot> {
    let mut role_to_recipients = RoleToRecipients::new();
    role_to_recipients.insert("*", vec!["chan-a".into(), "chan-b".into()]);
    let options = MessagingOptions {
        plugin_name: PLUGIN.into(),
        cluster: "example.com".into(),
        web_base: None,
        role_to_recipients,
        notify_requester: false,
        requester_sees_request: false,
        rules: None,
        replica_id: replica.into(),
        lease,
    };
    MessagingHandler::new(bot.clone(), client.clone(), options, Metrics::new())
}

#[tokio::test]
async fn a_new_request_costs_two_teleport_writes_and_no_read() {
    let env = Env::new().await;
    let (kit, client, id) = (&env.kit, &env.client, &env.request_id);
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    let (reads, writes) = (
        kit.call_count(Method::GetPluginData),
        kit.call_count(Method::UpdatePluginData),
    );

    assert_eq!(
        app(&bot, client, "me").handle(&observed).await,
        Outcome::Done
    );
    assert_eq!(bot.posted.load(Ordering::SeqCst), 2);
    assert_eq!(
        kit.call_count(Method::GetPluginData),
        reads,
        "created blind"
    );
    // Claim-and-create, then two posts and the release: the first post's outcome is
    // written before the second post, the second's with the release.
    assert_eq!(kit.call_count(Method::UpdatePluginData), writes + 3);
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert_eq!(data["recipients"], "chan-a,chan-b");
    assert_eq!(data["messages"], "chan-a-0,chan-b-1");
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");

    // Seen again while it still looks new: the blind create fails (the record is
    // left alone), one read shows nothing is left to do.
    assert_eq!(
        app(&bot, client, "me").handle(&observed).await,
        Outcome::Done
    );
    assert_eq!(bot.posted.load(Ordering::SeqCst), 2);
    assert_eq!(kit.call_count(Method::UpdatePluginData), writes + 4);
    assert_eq!(kit.call_count(Method::GetPluginData), reads + 1);
    assert_eq!(kit.plugin_data(id, PLUGIN).unwrap(), data);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_in_place_holding_the_request() {
    let env = Env::new().await;
    let (kit, client, id) = (&env.kit, &env.client, &env.request_id);
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.rate_limited.store(2, Ordering::SeqCst);
    let writes = kit.call_count(Method::UpdatePluginData);

    let started = std::time::Instant::now();
    assert_eq!(
        app(&bot, client, "me").handle(&observed).await,
        Outcome::Done
    );
    assert!(
        started.elapsed() >= 2 * RETRY_AFTER,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(bot.posted.load(Ordering::SeqCst), 2);
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-0,chan-b-1");
    // No release and re-claim per refusal: the same three writes as without them.
    assert_eq!(kit.call_count(Method::UpdatePluginData), writes + 3);
}

#[tokio::test]
async fn endless_short_refusals_give_the_request_back_after_a_few_tries() {
    let env = Env::new().await;
    let (kit, client, id) = (&env.kit, &env.client, &env.request_id);
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.rate_limited.store(usize::MAX, Ordering::SeqCst);

    let outcome = app(&bot, client, "me").handle(&observed).await;
    assert_eq!(outcome, Outcome::Retry(Some(RETRY_AFTER)));
    assert_eq!(
        usize::MAX - bot.rate_limited.load(Ordering::SeqCst),
        MAX_TRIES_IN_PLACE,
        "tried in place this often, then gave up"
    );
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert!(
        data.get("claim").is_none_or(String::is_empty),
        "released: {data:?}"
    );
    assert!(
        data.get("post_unsure_since").is_none_or(String::is_empty),
        "a refusal with Retry-After posted nothing: {data:?}"
    );
}

#[tokio::test]
async fn a_long_retry_after_pauses_every_request_without_touching_teleport() {
    let env = Env::new().await;
    let (kit, client) = (&env.kit, &env.client);
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    let app = app(&bot, client, "me");
    app.effects.pause_for(Duration::from_secs(60));
    let calls = kit.call_count(Method::UpdatePluginData) + kit.call_count(Method::GetPluginData);

    let Outcome::Retry(Some(after)) = app.handle(&observed).await else {
        panic!("not paused");
    };
    assert!(after > Duration::from_secs(59), "{after:?}");
    assert_eq!(bot.posted.load(Ordering::SeqCst), 0);
    assert_eq!(
        kit.call_count(Method::UpdatePluginData) + kit.call_count(Method::GetPluginData),
        calls
    );
}

#[tokio::test]
async fn a_failed_send_releases_the_lease_for_another_replica() {
    let env = Env::new().await;
    let (kit, client, id) = (&env.kit, &env.client, &env.request_id);
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.failures.store(1, Ordering::SeqCst);

    let first = app(&bot, client, "first");
    assert_eq!(first.handle(&observed).await, Outcome::Retry(None));
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");
    assert_eq!(data["recipients"], "chan-a,chan-b");
    assert!(data.get("sent_to").is_none_or(String::is_empty), "{data:?}");

    let second = app(&bot, client, "second");
    assert_eq!(second.handle(&observed).await, Outcome::Done);
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert_eq!(data["sent_to"], "chan-a,chan-b");
    assert_eq!(data["messages"], "chan-a-0,chan-b-1");
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");
}

mod lookup;
