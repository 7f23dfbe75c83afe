//! Looking a request's message up before posting it again: after a takeover of a lapsed
//! lease, or a post whose outcome is unknown; and what a new request costs (nothing).

use std::time::SystemTime;

use super::*;

#[tokio::test]
async fn a_new_request_looks_nothing_up() {
    let env = Env::new().await;
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);

    assert_eq!(
        app(&bot, &env.client, "me").handle(&observed).await,
        Outcome::Done
    );
    assert_eq!(bot.posted.load(Ordering::SeqCst), 2);
    assert_eq!(
        bot.lookups.load(Ordering::SeqCst),
        0,
        "no lookup on the normal path"
    );
}

/// A replica that claimed the request, posted to `chan-a` and died before writing it down:
/// its lease is left behind, lapsed, and the service holds the unrecorded message.
async fn crash_after_a_post(env: &Env, bot: &FlakyBot) {
    let dead = LeasedRecords::<StateCodec<FlakyBot>>::new(
        env.client.clone(),
        PLUGIN,
        "dead",
        Duration::from_millis(20),
    );
    let Observation::Put(request) = observed(env).await else {
        unreachable!("a put")
    };
    let mut state = MessageState::new(&request.user, &request.roles, &request.request_reason);
    state.go = GoRequestData::of(&request);
    let claim = dead.create(&env.request_id, state).await.unwrap();
    drop(claim.expect("created"));
    bot.unrecorded.lock().unwrap().push("chan-a-crashed".into());
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn a_takeover_records_the_message_posted_before_the_crash_instead_of_posting_again() {
    let env = Env::new().await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    crash_after_a_post(&env, &bot).await;

    let observed = observed(&env).await;
    assert_eq!(
        app(&bot, &env.client, "second").handle(&observed).await,
        Outcome::Done
    );
    assert_eq!(
        bot.lookups.load(Ordering::SeqCst),
        2,
        "each unsent recipient"
    );
    assert_eq!(
        bot.posted.load(Ordering::SeqCst),
        1,
        "only chan-b is posted to"
    );
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-crashed,chan-b-0");
    assert_eq!(data["sent_to"], "chan-a,chan-b");
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");

    // Released: seen again, nothing is looked up or posted.
    assert_eq!(
        app(&bot, &env.client, "third").handle(&observed).await,
        Outcome::Done
    );
    assert_eq!(bot.lookups.load(Ordering::SeqCst), 2);
    assert_eq!(bot.posted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_bot_that_cannot_look_up_posts_on_takeover_as_before() {
    let env = Env::new().await;
    let bot = Arc::new(FlakyBot::default());
    crash_after_a_post(&env, &bot).await;

    let observed = observed(&env).await;
    assert_eq!(
        app(&bot, &env.client, "second").handle(&observed).await,
        Outcome::Done
    );
    assert_eq!(bot.lookups.load(Ordering::SeqCst), 0);
    assert_eq!(bot.posted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_post_whose_answer_is_lost_is_looked_up_by_the_next_try_not_posted_again() {
    let env = Env::new().await;
    let (kit, client, id) = (&env.kit, &env.client, &env.request_id);
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    bot.lost_answers.store(1, Ordering::SeqCst);

    // The first replica's post to chan-a lands, but its answer is lost: the step ends and
    // the lease is released, with the unknown outcome written down.
    let first = app(&bot, client, "first");
    assert_eq!(first.handle(&observed).await, Outcome::Retry(None));
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");
    assert!(
        data.get("post_unsure_since").is_some_and(|v| !v.is_empty()),
        "{data:?}"
    );
    assert_eq!(bot.lookups.load(Ordering::SeqCst), 0);

    // The next try (another replica, after the dispatcher's retry) finds the message.
    let second = app(&bot, client, "second");
    assert_eq!(second.handle(&observed).await, Outcome::Done);
    assert_eq!(
        bot.posted.load(Ordering::SeqCst),
        1,
        "only chan-b is posted to"
    );
    assert_eq!(
        bot.lookups.load(Ordering::SeqCst),
        2,
        "each unsent recipient"
    );
    let data = kit.plugin_data(id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-lost,chan-b-0");
    assert_eq!(data["sent_to"], "chan-a,chan-b");
    assert!(
        data.get("post_unsure_since").is_none_or(String::is_empty),
        "cleared once the broadcast is done: {data:?}"
    );
}

/// The unsure mark's `post_unsure_until`, as stored.
fn stored_until(env: &Env) -> Option<String> {
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    data.get("post_unsure_until")
        .filter(|v| !v.is_empty())
        .cloned()
}

#[tokio::test]
async fn a_post_the_service_answered_is_looked_for_up_to_its_answer_only() {
    let env = Env::new().await;
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    bot.server_errors.store(1, Ordering::SeqCst);

    let only = app(&bot, &env.client, "only");
    assert_eq!(only.handle(&observed).await, Outcome::Retry(None));
    assert!(stored_until(&env).is_some(), "the answer's time is kept");
    let answered_by = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(50)).await;

    assert_eq!(only.handle(&observed).await, Outcome::Done);
    let windows = bot.windows.lock().unwrap().clone();
    assert_eq!(windows.len(), 2, "each unsent recipient: {windows:?}");
    for window in windows {
        assert!(
            window.before <= answered_by + reconcile::CLOCK_SKEW,
            "ends at the answer, not at the look-up: {window:?}"
        );
    }
    assert_eq!(bot.posted.load(Ordering::SeqCst), 2);
    assert_eq!(stored_until(&env), None, "cleared with the broadcast");
}

#[tokio::test]
async fn a_post_that_got_no_answer_is_looked_for_up_to_the_look_up() {
    let env = Env::new().await;
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    bot.lost_answers.store(1, Ordering::SeqCst);

    let only = app(&bot, &env.client, "only");
    assert_eq!(only.handle(&observed).await, Outcome::Retry(None));
    assert_eq!(stored_until(&env), None, "it may still land: no end");
    let failed_by = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(50)).await;

    assert_eq!(only.handle(&observed).await, Outcome::Done);
    let windows = bot.windows.lock().unwrap().clone();
    assert!(!windows.is_empty());
    for window in windows {
        assert!(
            window.before > failed_by + reconcile::CLOCK_SKEW,
            "reaches to the look-up: {window:?}"
        );
    }
}

#[tokio::test]
async fn a_post_whose_answer_is_lost_is_looked_up_on_the_same_replica_too() {
    let env = Env::new().await;
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    bot.lost_answers.store(1, Ordering::SeqCst);

    let only = app(&bot, &env.client, "only");
    assert_eq!(only.handle(&observed).await, Outcome::Retry(None));
    assert_eq!(only.handle(&observed).await, Outcome::Done);
    assert_eq!(bot.posted.load(Ordering::SeqCst), 1);
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-lost,chan-b-0");
}

/// A takeover whose step fails once at `fails` (before or in its look-up): the step ends and
/// the lease is released, but the evidence of the crash stays in the record, so the next try
/// looks and records the crashed post instead of posting it again.
async fn a_failed_takeover_still_looks_on_the_next_try(fails: fn(&FlakyBot) -> &AtomicUsize) {
    let env = Env::new().await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    fails(&bot).store(1, Ordering::SeqCst);
    crash_after_a_post(&env, &bot).await;

    let observed = observed(&env).await;
    let second = app(&bot, &env.client, "second");
    assert_eq!(second.handle(&observed).await, Outcome::Retry(None));
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    assert!(data.get("claim").is_none_or(String::is_empty), "{data:?}");
    assert!(!stored_mark(&env).0.is_empty(), "{data:?}");

    assert_eq!(second.handle(&observed).await, Outcome::Done);
    assert_eq!(
        bot.posted.load(Ordering::SeqCst),
        1,
        "only chan-b is posted to"
    );
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-crashed,chan-b-0");
}

#[tokio::test]
async fn a_takeover_whose_lookup_fails_still_looks_on_the_next_try() {
    a_failed_takeover_still_looks_on_the_next_try(|bot| &bot.lookup_failures).await;
}

#[tokio::test]
async fn a_takeover_whose_recipients_cannot_be_resolved_keeps_the_evidence() {
    // Fails before its look-up: the evidence was written first.
    a_failed_takeover_still_looks_on_the_next_try(|bot| &bot.resolve_failures).await;
}

/// The stored unsure mark, as (since, until) strings ("" when unset).
fn stored_mark(env: &Env) -> (String, String) {
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    let get = |key: &str| data.get(key).cloned().unwrap_or_default();
    (get("post_unsure_since"), get("post_unsure_until"))
}

/// Runs `handler` until `wait` passes, then drops it mid-step, as a SIGKILL would: its lease
/// is left behind and nothing more is written.
async fn killed_after(
    handler: &MessagingHandler<FlakyBot>,
    observed: &Observation,
    wait: Duration,
) {
    let step = tokio::time::timeout(wait, handler.handle(observed)).await;
    assert!(step.is_err(), "the step was still running: {step:?}");
}

#[tokio::test]
async fn a_replica_that_dies_looking_does_not_widen_the_next_search_by_its_own_lease() {
    let env = Env::new().await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    bot.lookups_hanging.store(1, Ordering::SeqCst);
    crash_after_a_post(&env, &bot).await;
    let first_lease_over = SystemTime::now();
    let observed = observed(&env).await;

    // The second replica takes the lapsed lease over, writes the evidence down before
    // looking, and dies looking, leaving its own (short) lease behind.
    let second = app_with_lease(&bot, &env.client, "second", Duration::from_millis(300));
    killed_after(&second, &observed, Duration::from_millis(100)).await;
    assert!(
        !stored_mark(&env).0.is_empty(),
        "the evidence is in the record before the look-up"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The third searches the first holder's span only.
    let third = app(&bot, &env.client, "third");
    assert_eq!(third.handle(&observed).await, Outcome::Done);
    let windows = bot.windows.lock().unwrap().clone();
    let third_windows = &windows[1..];
    assert!(!third_windows.is_empty());
    for window in third_windows {
        assert!(
            window.before <= first_lease_over + reconcile::CLOCK_SKEW,
            "not the second replica's lease: {window:?}"
        );
    }
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-crashed,chan-b-0");
}

#[tokio::test]
async fn a_post_after_an_unsure_one_is_announced_in_the_record_before_it_is_sent() {
    let env = Env::new().await;
    let observed = observed(&env).await;
    let bot = Arc::new(FlakyBot::default());
    bot.looks_up.store(true, Ordering::SeqCst);
    bot.server_errors.store(1, Ordering::SeqCst);

    // A 500: the mark spans the post up to the answer.
    let first = app(&bot, &env.client, "first");
    assert_eq!(first.handle(&observed).await, Outcome::Retry(None));
    let (since, until) = stored_mark(&env);
    assert!(
        !since.is_empty() && !until.is_empty(),
        "{since:?} {until:?}"
    );

    // The next post lands and its replica dies before the answer: the record shows the
    // post announced (the mark open), so the replica taking over looks for it.
    bot.posts_hanging.store(1, Ordering::SeqCst);
    let second = app_with_lease(&bot, &env.client, "second", Duration::from_millis(300));
    killed_after(&second, &observed, Duration::from_millis(200)).await;
    let (announced_since, announced_until) = stored_mark(&env);
    assert_eq!(announced_since, since, "the span only grows");
    assert_eq!(announced_until, "", "announced: open until its answer");
    tokio::time::sleep(Duration::from_millis(400)).await;

    let third = app(&bot, &env.client, "third");
    assert_eq!(third.handle(&observed).await, Outcome::Done);
    let data = env.kit.plugin_data(&env.request_id, PLUGIN).unwrap();
    assert_eq!(data["messages"], "chan-a-hung,chan-b-0");
    assert_eq!(stored_mark(&env), (String::new(), String::new()));
}
