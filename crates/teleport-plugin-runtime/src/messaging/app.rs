//! The messaging state machine: broadcast once, relay each review once,
//! resolve once — across restarts and replicas — and retry what failed.
//!
//! Every step starts from the plugin data in Teleport. Work on a request is
//! done only under a lease (`claim`) taken by compare-and-swap (see
//! [`crate::record`]), and progress is written after every send, so a second
//! replica waits instead of sending twice, and a replica that dies mid-way
//! leaves a lease that lapses and a record that says exactly what is left to do.

use std::sync::Arc;
use std::time::Duration;

use teleport_client::{AccessRequest, ClientError, RequestState, TeleportClient};

use crate::config::RoleToRecipients;
use crate::dispatch::{Observation, Outcome, RequestHandler};
use crate::messaging::bot::{MessagingBot, Recipient, RequestView, SendError, Status};
use crate::messaging::pause::{MAX_WAIT_IN_PLACE, SendPause};
use crate::metrics::Metrics;
use crate::record::{Claim, LeasedRecords, SaveError};
use crate::state::{MessageState, Resolution, StateCodec};

/// Settings of the messaging state machine.
#[derive(Clone, Debug)]
pub struct MessagingOptions {
    /// The plugin-data namespace (`slack`, `mattermost`, `email`, ...).
    pub plugin_name: String,
    /// The cluster name shown in messages.
    pub cluster: String,
    /// Web UI base (`https://proxy`) when the cluster has advanced workflows.
    pub web_base: Option<String>,
    /// Who gets which requests.
    pub role_to_recipients: RoleToRecipients,
    /// Tell the requester the decision.
    pub notify_requester: bool,
    /// This replica's identity in leases.
    pub replica_id: String,
    /// How long a lease lasts without progress; a dead replica's work is taken
    /// over after this.
    pub lease: Duration,
}

/// The [`RequestHandler`] of every messaging plugin.
pub struct MessagingApp<B> {
    bot: Arc<B>,
    records: LeasedRecords<StateCodec<B>>,
    options: MessagingOptions,
    metrics: Metrics,
    /// Set by a refusal with `Retry-After`: every send waits it out.
    pause: SendPause,
}

/// Refusals with a short `Retry-After` waited out in place, per send, before the request
/// is given back to the dispatcher.
const MAX_TRIES_IN_PLACE: usize = 5;

type State<B> = MessageState<<B as crate::state::MessageCodec>::Message>;

/// The lease on one request's record, held while working on it.
type RecordClaim<'a, B> = Claim<'a, StateCodec<B>>;

enum StepError {
    /// Teleport failed; retry later.
    Teleport(ClientError),
    /// Someone else changed the record while we held the lease.
    LostLease,
}

impl From<ClientError> for StepError {
    fn from(error: ClientError) -> Self {
        Self::Teleport(error)
    }
}

impl From<SaveError> for StepError {
    fn from(error: SaveError) -> Self {
        match error {
            SaveError::LostLease => Self::LostLease,
            SaveError::Teleport(error) => Self::Teleport(error),
        }
    }
}

impl<B: MessagingBot> RequestHandler for MessagingApp<B> {
    async fn handle(&self, observed: &Observation) -> Outcome {
        // A long pause asked for by the service: no need to claim anything before it ends.
        if let Some(left) = self.pause.remaining().filter(|l| *l > MAX_WAIT_IN_PLACE) {
            return Outcome::Retry(Some(left));
        }
        match self.step(observed).await {
            Ok(outcome) => outcome,
            Err(StepError::Teleport(ClientError::NotFound { .. })) => Outcome::Done,
            Err(StepError::Teleport(error)) => {
                tracing::warn!(%error, "Teleport call failed; will retry");
                Outcome::Retry(None)
            }
            Err(StepError::LostLease) => {
                tracing::warn!(
                    "the request's record changed while this replica held its lease; starting over"
                );
                Outcome::Retry(None)
            }
        }
    }
}

impl<B: MessagingBot> MessagingApp<B> {
    /// A state machine sending through `bot`.
    pub fn new(
        bot: Arc<B>,
        client: TeleportClient,
        options: MessagingOptions,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(
            client,
            options.plugin_name.clone(),
            options.replica_id.clone(),
            options.lease,
        );
        Self {
            bot,
            records,
            options,
            metrics,
            pause: SendPause::default(),
        }
    }

    /// One side effect through `send`: waits out a pause the service asked for, makes sure
    /// the previous outcome is recorded and the lease has time left, and tries again in
    /// place while the service asks for short waits (counting each refusal as a failed
    /// `kind` send). The final result is the caller's to handle.
    async fn effect<T, F>(
        &self,
        claim: &mut RecordClaim<'_, B>,
        kind: &'static str,
        send: impl Fn() -> F,
    ) -> Result<Result<T, SendError>, StepError>
    where
        F: Future<Output = Result<T, SendError>>,
    {
        let mut tries = 1;
        loop {
            if let Err(left) = self.pause.wait(MAX_WAIT_IN_PLACE).await {
                return Ok(Err(SendError::Transient {
                    message: "the service asked to slow down".into(),
                    retry_after: Some(left),
                }));
            }
            claim.before_effect().await?;
            match send().await {
                Err(SendError::Transient {
                    message,
                    retry_after: Some(delay),
                }) => {
                    self.pause.pause_for(delay);
                    if delay > MAX_WAIT_IN_PLACE || tries == MAX_TRIES_IN_PLACE {
                        return Ok(Err(SendError::Transient {
                            message,
                            retry_after: Some(delay),
                        }));
                    }
                    tries += 1;
                    self.metrics.send_failed(kind);
                    tracing::debug!(error = %message, ?delay, "rate limited; waiting before trying again");
                }
                other => return Ok(other),
            }
        }
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
        self.records
            .step(
                observed,
                |request| MessageState::new(&request.user, &request.roles, &request.request_reason),
                |state| self.needs_work(observed, state),
                async |claim| self.work(observed, claim).await,
            )
            .await
    }

    fn needs_work(&self, observed: &Observation, state: &State<B>) -> bool {
        if state.resolution.is_some() {
            return state.synced != state.resolution || self.requester_notice_due(state);
        }
        match observed {
            Observation::Deleted(_) => true,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) => {
                !state.broadcast_done()
                    || (!state.messages.is_empty() && state.reviews_count < request.reviews.len())
            }
        }
    }

    fn requester_notice_due(&self, state: &State<B>) -> bool {
        self.options.notify_requester
            && !state.requester_notified
            && matches!(
                state.resolution,
                Some(Resolution::Approved | Resolution::Denied | Resolution::Promoted)
            )
    }

    fn view(&self, observed: &Observation, state: &State<B>, status: Status) -> RequestView {
        let request = match observed {
            Observation::Put(request) => (**request).clone(),
            Observation::Deleted(id) => AccessRequest {
                id: id.clone(),
                user: state.user.clone(),
                roles: state.roles.clone(),
                state: RequestState::None,
                request_reason: state.request_reason.clone(),
                ..Default::default()
            },
        };
        RequestView {
            request,
            cluster: self.options.cluster.clone(),
            web_base: self.options.web_base.clone(),
            status,
            resolve_reason: state.resolve_reason.clone(),
        }
    }

    /// Does what is left, holding the lease; `claim` derefs to what is stored now.
    async fn work(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_, B>,
    ) -> Result<Outcome, StepError> {
        let pending_request = match observed {
            Observation::Put(request) if request.state == RequestState::Pending => Some(request),
            _ => None,
        };

        // 1. Broadcast, only while the request is pending.
        if let Some(request) =
            pending_request.filter(|_| claim.resolution.is_none() && !claim.broadcast_done())
        {
            if claim.recipients.is_none() {
                let recipients = match self.resolve_recipients(request).await {
                    Ok(recipients) => recipients,
                    Err(retry) => return Ok(retry),
                };
                if recipients.is_empty() {
                    tracing::warn!("no recipients for this request; check role_to_recipients");
                }
                let mut next = claim.record().clone();
                next.recipients = Some(recipients.into_iter().map(|r| r.id).collect());
                // Written with the first message's outcome: a lookup is no side effect.
                claim.stage(next);
            }
            let view = self.view(observed, claim.record(), Status::Pending);
            for recipient in claim.unsent_recipients() {
                let to = Recipient {
                    id: recipient.clone(),
                };
                let sent = self
                    .effect(claim, "request", || self.bot.send_request(&to, &view))
                    .await?;
                let mut next = claim.record().clone();
                match sent {
                    Ok(message) => {
                        self.metrics.sent("request");
                        tracing::info!(recipient = %recipient, message = %B::encode(&message), "posted the request");
                        next.messages.push(message);
                        next.sent_to.push(recipient);
                    }
                    Err(SendError::Permanent { message }) => {
                        self.metrics.send_failed("request");
                        tracing::error!(recipient = %recipient, error = %message, "cannot post the request to this recipient; skipping it");
                        next.failed_to.push(recipient);
                    }
                    Err(SendError::Transient {
                        message,
                        retry_after,
                    }) => {
                        self.metrics.send_failed("request");
                        tracing::warn!(recipient = %recipient, error = %message, ?retry_after, "posting the request failed; will retry");
                        return Ok(Outcome::Retry(retry_after));
                    }
                }
                claim.record_effect(next);
            }
        }

        // 2. Relay reviews not relayed yet, to every message.
        let reviews = match observed {
            Observation::Put(request) => request.reviews.as_slice(),
            Observation::Deleted(_) => &[],
        };
        if !claim.messages.is_empty() && claim.synced.is_none() {
            while claim.reviews_count < reviews.len() {
                let review = &reviews[claim.reviews_count];
                let view = self.view(observed, claim.record(), Status::Pending);
                for index in claim.review_cursor..claim.messages.len() {
                    let message = claim.messages[index].clone();
                    let sent = self
                        .effect(claim, "review", || {
                            self.bot.send_review(&message, &view, review)
                        })
                        .await?;
                    match sent {
                        Ok(()) => self.metrics.sent("review"),
                        Err(SendError::Permanent { message: error }) => {
                            self.metrics.send_failed("review");
                            tracing::error!(error = %error, "cannot relay a review to this message; skipping it");
                        }
                        Err(SendError::Transient {
                            message: error,
                            retry_after,
                        }) => {
                            self.metrics.send_failed("review");
                            tracing::warn!(error = %error, "relaying a review failed; will retry");
                            return Ok(Outcome::Retry(retry_after));
                        }
                    }
                    let mut next = claim.record().clone();
                    next.review_cursor = index + 1;
                    claim.record_effect(next);
                }
                let mut next = claim.record().clone();
                next.reviews_count += 1;
                next.review_cursor = 0;
                claim.stage(next);
            }
        }

        // 3. Resolution: decided once, then pushed to every message.
        let decided = claim.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if claim.resolution.is_none() {
                let mut next = claim.record().clone();
                next.resolution = Some(resolution);
                if let Observation::Put(request) = observed {
                    next.resolve_reason = request.resolve_reason.clone();
                }
                // Stored before any message shows it: a later observation (the request
                // deleted) must not change what the messages say.
                claim.record_effect(next);
            }
            if claim.synced != Some(resolution) {
                let view = self.view(observed, claim.record(), Status::Resolved(resolution));
                let messages = claim.messages.clone();
                for message in &messages {
                    let updated = self
                        .effect(claim, "update", || self.bot.update_message(message, &view))
                        .await?;
                    match updated {
                        Ok(()) => self.metrics.sent("update"),
                        Err(SendError::Permanent { message: error }) => {
                            self.metrics.send_failed("update");
                            tracing::error!(error = %error, "cannot update this message; skipping it");
                        }
                        Err(SendError::Transient {
                            message: error,
                            retry_after,
                        }) => {
                            self.metrics.send_failed("update");
                            tracing::warn!(error = %error, "updating a message failed; will retry");
                            return Ok(Outcome::Retry(retry_after));
                        }
                    }
                }
                let mut next = claim.record().clone();
                next.synced = Some(resolution);
                claim.record_effect(next);
                tracing::info!(
                    resolution = resolution.as_str(),
                    messages = claim.messages.len(),
                    "marked the request as resolved in all messages"
                );
            }
            if self.requester_notice_due(claim) {
                let view = self.view(observed, claim.record(), Status::Resolved(resolution));
                let mut next = claim.record().clone();
                let notified = self
                    .effect(claim, "requester", || self.bot.notify_requester(&view))
                    .await?;
                match notified {
                    Ok(sent) => {
                        if sent {
                            self.metrics.sent("requester");
                        }
                        next.requester_notified = true;
                    }
                    Err(SendError::Permanent { message: error }) => {
                        self.metrics.send_failed("requester");
                        tracing::error!(error = %error, "cannot tell the requester the decision; giving up on that");
                        next.requester_notified = true;
                    }
                    Err(SendError::Transient {
                        message: error,
                        retry_after,
                    }) => {
                        self.metrics.send_failed("requester");
                        tracing::warn!(error = %error, "telling the requester failed; will retry");
                        return Ok(Outcome::Retry(retry_after));
                    }
                }
                claim.record_effect(next);
            }
        }

        Ok(Outcome::Done)
    }

    /// The request's recipients, resolved and de-duplicated, without the requester.
    async fn resolve_recipients(&self, request: &AccessRequest) -> Result<Vec<Recipient>, Outcome> {
        let raw = self
            .options
            .role_to_recipients
            .recipients_for(&request.roles, &request.suggested_reviewers);
        let mut resolved: Vec<Recipient> = Vec::new();
        for name in raw {
            if name.eq_ignore_ascii_case(&request.user) {
                // Requesters do not review their own requests.
                continue;
            }
            match self.bot.resolve_recipient(&name).await {
                Ok(Some(recipient)) => {
                    if !resolved.contains(&recipient) {
                        resolved.push(recipient);
                    }
                }
                Ok(None) => tracing::warn!(recipient = %name, "recipient not found; skipping it"),
                Err(SendError::Permanent { message }) => {
                    tracing::warn!(recipient = %name, error = %message, "cannot use this recipient; skipping it")
                }
                Err(SendError::Transient {
                    message,
                    retry_after,
                }) => {
                    tracing::warn!(recipient = %name, error = %message, "looking up a recipient failed; will retry");
                    return Err(Outcome::Retry(retry_after));
                }
            }
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use teleport_client::AccessReview;
    use teleport_testkit::Method;

    use super::*;
    use crate::record::tests::Env;
    use crate::state::MessageCodec;

    const PLUGIN: &str = "slack";

    /// Posts to any channel, failing the first `failures` posts.
    #[derive(Default)]
    struct FlakyBot {
        failures: AtomicUsize,
        /// Posts refused with a 50 ms Retry-After before any succeeds.
        rate_limited: AtomicUsize,
        posted: AtomicUsize,
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

    impl MessagingBot for FlakyBot {
        async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, SendError> {
            Ok(Some(Recipient { id: raw.to_owned() }))
        }

        async fn send_request(
            &self,
            recipient: &Recipient,
            _view: &RequestView,
        ) -> Result<String, SendError> {
            let failed = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failed {
                return Err(SendError::transient("upstream down"));
            }
            let limited = self
                .rate_limited
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if limited {
                return Err(SendError::Transient {
                    message: "ratelimited".into(),
                    retry_after: Some(RETRY_AFTER),
                });
            }
            let n = self.posted.fetch_add(1, Ordering::SeqCst);
            Ok(format!("{}-{n}", recipient.id))
        }

        async fn send_review(
            &self,
            _message: &String,
            _view: &RequestView,
            _review: &AccessReview,
        ) -> Result<(), SendError> {
            Ok(())
        }

        async fn update_message(
            &self,
            _message: &String,
            _view: &RequestView,
        ) -> Result<(), SendError> {
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

    fn app(bot: &Arc<FlakyBot>, client: &TeleportClient, replica: &str) -> MessagingApp<FlakyBot> {
        let mut role_to_recipients = RoleToRecipients::new();
        role_to_recipients.insert("*", vec!["chan-a".into(), "chan-b".into()]);
        let options = MessagingOptions {
            plugin_name: PLUGIN.into(),
            cluster: "example.com".into(),
            web_base: None,
            role_to_recipients,
            notify_requester: false,
            replica_id: replica.into(),
            // Far longer than the test may wait, so only a release lets the other in.
            lease: Duration::from_secs(3600),
        };
        MessagingApp::new(bot.clone(), client.clone(), options, Metrics::new())
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
    }

    #[tokio::test]
    async fn a_long_retry_after_pauses_every_request_without_touching_teleport() {
        let env = Env::new().await;
        let (kit, client) = (&env.kit, &env.client);
        let observed = observed(&env).await;
        let bot = Arc::new(FlakyBot::default());
        let app = app(&bot, client, "me");
        app.pause.pause_for(Duration::from_secs(60));
        let calls =
            kit.call_count(Method::UpdatePluginData) + kit.call_count(Method::GetPluginData);

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
}
