//! The messaging state machine: broadcast once, relay each review once,
//! resolve once — across restarts and replicas — and retry what failed.
//!
//! Every step starts from the plugin data in Teleport. Work on a request is
//! done only under a lease (`claim`) taken by compare-and-swap, and progress is
//! written after every send, so a second replica waits instead of sending
//! twice, and a replica that dies mid-way leaves a lease that lapses and a
//! record that says exactly what is left to do.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use teleport_client::{AccessRequest, ClientError, PluginDataMap, RequestState, TeleportClient};

use crate::config::RoleToRecipients;
use crate::dispatch::{Observation, Outcome, RequestHandler};
use crate::messaging::bot::{MessagingBot, Recipient, RequestView, SendError, Status};
use crate::metrics::Metrics;
use crate::state::{Lease, MessageState, Resolution, StateCodec};

/// Compare-and-swap conflicts tolerated in one step before backing off.
const MAX_CAS_ROUNDS: usize = 16;

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
    client: TeleportClient,
    options: MessagingOptions,
    metrics: Metrics,
}

type State<B> = MessageState<<B as crate::state::MessageCodec>::Message>;

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

impl<B: MessagingBot> RequestHandler for MessagingApp<B> {
    async fn handle(&self, observed: &Observation) -> Outcome {
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
        Self {
            bot,
            client,
            options,
            metrics,
        }
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
        let id = observed.id();
        for _ in 0..MAX_CAS_ROUNDS {
            let stored = self
                .client
                .get_plugin_data(&self.options.plugin_name, id)
                .await?;
            let now = SystemTime::now();
            let (expected, current) = match stored {
                None => {
                    // Only a pending request starts a record; one resolved or
                    // deleted before we ever posted needs nothing.
                    let Observation::Put(request) = observed else {
                        return Ok(Outcome::Done);
                    };
                    if request.state != RequestState::Pending {
                        return Ok(Outcome::Done);
                    }
                    let state =
                        MessageState::new(&request.user, &request.roles, &request.request_reason);
                    (StateCodec::<B>::empty_record(), state)
                }
                Some(data) => {
                    let state = StateCodec::<B>::decode(&data);
                    if !self.needs_work(observed, &state) {
                        return Ok(Outcome::Done);
                    }
                    if let Some(lease) = state
                        .claim
                        .as_ref()
                        .filter(|l| l.held_by_other(&self.options.replica_id, now))
                    {
                        let left = lease.until.duration_since(now).unwrap_or_default();
                        tracing::debug!(owner = %lease.owner, ?left, "another replica is working on this request");
                        return Ok(Outcome::Retry(Some(
                            left.min(Duration::from_secs(5)) + Duration::from_millis(50),
                        )));
                    }
                    (StateCodec::<B>::encode(&state), state)
                }
            };
            let mut claimed = current;
            claimed.claim = Some(self.lease());
            match self.write(id, &expected, &claimed).await {
                Ok(()) => return self.work(observed, claimed).await,
                Err(ClientError::CompareFailed { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Outcome::Retry(None))
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

    fn lease(&self) -> Lease {
        Lease {
            owner: self.options.replica_id.clone(),
            until: SystemTime::now() + self.options.lease,
        }
    }

    async fn write(
        &self,
        id: &str,
        expected: &PluginDataMap,
        state: &State<B>,
    ) -> Result<(), ClientError> {
        let set = StateCodec::<B>::encode(state);
        self.client
            .update_plugin_data(&self.options.plugin_name, id, &set, expected)
            .await
    }

    /// Saves progress (renewing the lease); `state` becomes the stored record.
    async fn save(&self, id: &str, stored: &mut State<B>, next: State<B>) -> Result<(), StepError> {
        let mut next = next;
        next.claim = Some(self.lease());
        match self
            .write(id, &StateCodec::<B>::encode(stored), &next)
            .await
        {
            Ok(()) => {
                *stored = next;
                Ok(())
            }
            Err(ClientError::CompareFailed { .. }) => Err(StepError::LostLease),
            Err(error) => Err(error.into()),
        }
    }

    fn view(&self, observed: &Observation, state: &State<B>, status: Status) -> RequestView {
        let request = match observed {
            Observation::Put(request) => (**request).clone(),
            Observation::Deleted(id) => AccessRequest {
                id: id.clone(),
                user: state.user.clone(),
                roles: state.roles.clone(),
                state: RequestState::None,
                created: None,
                access_expires: None,
                resource_expires: None,
                request_reason: state.request_reason.clone(),
                resolve_reason: String::new(),
                resolve_annotations: Default::default(),
                system_annotations: Default::default(),
                reviews: Vec::new(),
                suggested_reviewers: Vec::new(),
                resources: Vec::new(),
                max_duration: None,
                promoted_access_list: None,
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

    /// Does what is left, holding the lease. `state` is what is stored now.
    async fn work(
        &self,
        observed: &Observation,
        mut state: State<B>,
    ) -> Result<Outcome, StepError> {
        let id = observed.id().to_owned();
        let pending_request = match observed {
            Observation::Put(request) if request.state == RequestState::Pending => Some(request),
            _ => None,
        };

        // 1. Broadcast, only while the request is pending.
        if let Some(request) =
            pending_request.filter(|_| state.resolution.is_none() && !state.broadcast_done())
        {
            if state.recipients.is_none() {
                let recipients = match self.resolve_recipients(request).await {
                    Ok(recipients) => recipients,
                    Err(retry) => return Ok(retry),
                };
                if recipients.is_empty() {
                    tracing::warn!("no recipients for this request; check role_to_recipients");
                }
                let mut next = state.clone();
                next.recipients = Some(recipients.into_iter().map(|r| r.id).collect());
                self.save(&id, &mut state, next).await?;
            }
            let view = self.view(observed, &state, Status::Pending);
            for recipient in state.unsent_recipients() {
                let sent = self
                    .bot
                    .send_request(
                        &Recipient {
                            id: recipient.clone(),
                        },
                        &view,
                    )
                    .await;
                let mut next = state.clone();
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
                self.save(&id, &mut state, next).await?;
            }
        }

        // 2. Relay reviews not relayed yet, to every message.
        let reviews = match observed {
            Observation::Put(request) => request.reviews.as_slice(),
            Observation::Deleted(_) => &[],
        };
        if !state.messages.is_empty() && state.synced.is_none() {
            while state.reviews_count < reviews.len() {
                let review = &reviews[state.reviews_count];
                let view = self.view(observed, &state, Status::Pending);
                for index in state.review_cursor..state.messages.len() {
                    let message = state.messages[index].clone();
                    match self.bot.send_review(&message, &view, review).await {
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
                    let mut next = state.clone();
                    next.review_cursor = index + 1;
                    self.save(&id, &mut state, next).await?;
                }
                let mut next = state.clone();
                next.reviews_count += 1;
                next.review_cursor = 0;
                self.save(&id, &mut state, next).await?;
            }
        }

        // 3. Resolution: decided once, then pushed to every message.
        let decided = state.resolution.or(match observed {
            Observation::Put(request) => Resolution::from_state(request.state),
            Observation::Deleted(_) => Some(Resolution::Expired),
        });
        if let Some(resolution) = decided {
            if state.resolution.is_none() {
                let mut next = state.clone();
                next.resolution = Some(resolution);
                if let Observation::Put(request) = observed {
                    next.resolve_reason = request.resolve_reason.clone();
                }
                self.save(&id, &mut state, next).await?;
            }
            if state.synced != Some(resolution) {
                let view = self.view(observed, &state, Status::Resolved(resolution));
                for message in &state.messages {
                    match self.bot.update_message(message, &view).await {
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
                let mut next = state.clone();
                next.synced = Some(resolution);
                self.save(&id, &mut state, next).await?;
                tracing::info!(
                    resolution = resolution.as_str(),
                    messages = state.messages.len(),
                    "marked the request as resolved in all messages"
                );
            }
            if self.requester_notice_due(&state) {
                let view = self.view(observed, &state, Status::Resolved(resolution));
                let mut next = state.clone();
                match self.bot.notify_requester(&view).await {
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
                self.save(&id, &mut state, next).await?;
            }
        }

        // 4. Release the lease so that other replicas need not wait for it.
        let mut released = state.clone();
        released.claim = None;
        match self
            .write(&id, &StateCodec::<B>::encode(&state), &released)
            .await
        {
            Ok(()) | Err(ClientError::CompareFailed { .. }) => {}
            Err(error) => tracing::debug!(%error, "could not release the lease; it will lapse"),
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
