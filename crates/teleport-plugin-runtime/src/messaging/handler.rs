//! The messaging state machine: broadcast once, relay each review once, resolve once —
//! across restarts and replicas — and retry what failed.
//!
//! Every step starts from the record in Teleport plugin data and works under a lease (see
//! [`crate::record`]), so a second replica waits instead of sending twice and a replica that
//! dies mid-way leaves a lease that lapses and a record of exactly what is left. The work is
//! four named steps, each a no-op when its part is done: [`broadcast`](MessagingHandler::broadcast)
//! (only while the request is pending), [`relay_reviews`](MessagingHandler::relay_reviews),
//! [`sync_resolution`](MessagingHandler::sync_resolution) and
//! [`notify_requester`](MessagingHandler::notify_requester).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use teleport_client::{AccessRequest, RequestState, TeleportClient};

use crate::config::RoleToRecipients;
use crate::dispatch::{Observation, Outcome, RequestHandler};
use crate::messaging::bot::{MessagingBot, Recipient, RequestView, Status};
use crate::messaging::go_data::GoRequestData;
use crate::messaging::reconcile;
use crate::messaging::record::{MessageState, StateCodec};
use crate::messaging::resource_names::ResourceNames;
use crate::metrics::Metrics;
use crate::record::{self, Claim, Effects, LeasedRecords, Resolution, StepError};
use crate::routing::RuleCache;
use crate::service_error::ServiceError;

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
    /// Tell the requester the outcome, every one including EXPIRED (Slack: Go's behaviour).
    pub notify_requester: bool,
    /// Send the request itself to the requester too, when their name is an e-mail address
    /// the bot knows (Slack: Go's behaviour, so they see the thread and the final edit).
    pub requester_sees_request: bool,
    /// The access monitoring rules for this plugin: when rules match a request, their
    /// recipients replace `role_to_recipients` and the suggested reviewers (as in Go).
    pub rules: Option<Arc<RuleCache>>,
    /// This replica's identity in leases.
    pub replica_id: String,
    /// How long a lease lasts without progress; a dead replica's work is taken over after
    /// this.
    pub lease: Duration,
}

/// The [`RequestHandler`] of every messaging plugin.
pub struct MessagingHandler<B> {
    bot: Arc<B>,
    client: TeleportClient,
    resource_names: ResourceNames,
    records: LeasedRecords<StateCodec<B>>,
    options: MessagingOptions,
    metrics: Metrics,
    effects: Effects,
}

type State<B> = MessageState<<B as crate::messaging::record::MessageCodec>::Message>;

/// The lease on one request's record, held while working on it.
type RecordClaim<'a, B> = Claim<'a, StateCodec<B>>;

impl<B: MessagingBot> RequestHandler for MessagingHandler<B> {
    async fn handle(&self, observed: &Observation) -> Outcome {
        if let Some(paused) = self.effects.paused() {
            return paused;
        }
        record::outcome(self.step(observed).await)
    }
}

impl<B: MessagingBot> MessagingHandler<B> {
    /// A state machine sending through `bot`.
    pub fn new(
        bot: Arc<B>,
        client: TeleportClient,
        options: MessagingOptions,
        metrics: Metrics,
    ) -> Self {
        let records = LeasedRecords::new(
            client.clone(),
            options.plugin_name.clone(),
            options.replica_id.clone(),
            options.lease,
        );
        Self {
            bot,
            resource_names: ResourceNames::new(client.clone()),
            client,
            records,
            options,
            effects: Effects::new(metrics.clone()),
            metrics,
        }
    }

    /// The bot messages go through.
    pub fn bot(&self) -> &B {
        &self.bot
    }

    async fn step(&self, observed: &Observation) -> Result<Outcome, StepError> {
        self.records
            .step(
                observed,
                |request| {
                    let mut state =
                        MessageState::new(&request.user, &request.roles, &request.request_reason);
                    state.go = GoRequestData::of(request);
                    state
                },
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
            Observation::Put(request) if self.ignores(request) => false,
            Observation::Put(request) if request.state.is_resolved() => true,
            Observation::Put(request) => {
                !state.broadcast_done()
                    || (!state.messages.is_empty() && state.reviews_count < request.reviews.len())
            }
        }
    }

    /// Does what is left, holding the lease; `claim` derefs to what is stored now.
    async fn work(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_, B>,
    ) -> Result<Outcome, StepError> {
        if let Observation::Put(request) = observed
            && request.state == RequestState::Pending
            && claim.resolution.is_none()
            && !claim.broadcast_done()
        {
            self.broadcast(observed, request, claim).await?;
        }
        self.relay_reviews(observed, claim).await?;
        if let Some(resolution) = decide_resolution(observed, claim)
            .filter(|_| !matches!(observed, Observation::Put(request) if self.ignores(request)))
        {
            self.sync_resolution(observed, claim, resolution).await?;
            self.notify_requester(observed, claim, resolution).await?;
        }
        Ok(Outcome::Done)
    }

    /// Sends the request to every recipient not reached yet; the recipients are resolved
    /// once and stored with the first message's outcome.
    async fn broadcast(
        &self,
        observed: &Observation,
        request: &AccessRequest,
        claim: &mut RecordClaim<'_, B>,
    ) -> Result<(), StepError> {
        reconcile::keep_takeover_evidence(&*self.bot, claim).await?;
        if claim.recipients.is_none() {
            let recipients = self.resolve_recipients(request).await?;
            if recipients.is_empty() {
                tracing::warn!("no recipients for this request; check role_to_recipients");
            }
            let mut next = claim.record().clone();
            next.recipients = Some(recipients.into_iter().map(|r| r.id).collect());
            if self.bot.shows_logins() && next.go.logins_by_role.is_empty() {
                next.go.set_logins(&self.logins_by_role(request).await?);
            }
            // Only over the IDs this record was created with: names a Go plugin stored stay.
            if self.bot.names_resources()
                && next.go.resources == GoRequestData::of(request).resources
                && let Some(names) = self.resource_names.names(request).await?
            {
                next.go.set_resource_names(&names);
            }
            // Written with the first message's outcome: a lookup is no side effect.
            claim.stage(next);
        }
        let view = self.view(observed, claim.record(), Status::Pending);
        // A lease left behind or an unsure post: an earlier attempt may have posted unrecorded.
        let window = reconcile::post_window(&*self.bot, claim, request);
        for recipient in claim.unsent_recipients() {
            let to = Recipient {
                id: recipient.clone(),
            };
            let found = match &window {
                Some(window) => {
                    let bot = &*self.bot;
                    reconcile::find_posted(bot, &self.effects, claim, &to, &request.id, window)
                        .await?
                }
                None => None,
            };
            let sent = match found {
                Some(message) => Ok(message),
                None => {
                    reconcile::send_request(&*self.bot, &self.effects, claim, &to, &view).await?
                }
            };
            let mut next = claim.record().clone();
            match sent {
                Ok(message) => {
                    tracing::info!(recipient = %recipient, message = %B::encode(&message), "posted the request");
                    next.messages.push(message);
                    next.sent_to.push(recipient);
                }
                Err(error) => {
                    tracing::error!(recipient = %recipient, %error, "cannot post the request to this recipient; skipping it");
                    next.failed_to.push(recipient);
                }
            }
            if next.broadcast_done() {
                next.clear_post_unsure();
            }
            claim.record_effect(next);
        }
        Ok(())
    }

    /// Relays every review not relayed yet to every message, one review at a time
    /// (`review_cursor` counts the messages that have the current one).
    async fn relay_reviews(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_, B>,
    ) -> Result<(), StepError> {
        let reviews = match observed {
            Observation::Put(request) => request.reviews.as_slice(),
            Observation::Deleted(_) => &[],
        };
        if claim.messages.is_empty() || claim.synced.is_some() {
            return Ok(());
        }
        while let Some(review) = reviews.get(claim.reviews_count) {
            let view = self.view(observed, claim.record(), Status::Pending);
            for index in claim.review_cursor..claim.messages.len() {
                let message = claim.messages[index].clone();
                let sent = self
                    .effects
                    .run(claim, "review", || {
                        self.bot.send_review(&message, &view, review)
                    })
                    .await?;
                if let Err(error) = sent {
                    tracing::error!(%error, "cannot relay a review to this message; skipping it");
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
        Ok(())
    }

    /// Shows `resolution` in every message, once; the resolution itself is recorded before
    /// any message shows it, so a later observation (the request deleted) cannot change
    /// what the messages say.
    async fn sync_resolution(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_, B>,
        resolution: Resolution,
    ) -> Result<(), StepError> {
        if claim.resolution.is_none() {
            let mut next = claim.record().clone();
            next.resolution = Some(resolution);
            if let Observation::Put(request) = observed {
                next.resolve_reason = request.resolve_reason.clone();
            }
            claim.record_effect(next);
        }
        if claim.synced == Some(resolution) {
            return Ok(());
        }
        let view = self.view(observed, claim.record(), Status::Resolved(resolution));
        let messages = claim.messages.clone();
        for message in &messages {
            let updated = self
                .effects
                .run(claim, "update", || self.bot.update_message(message, &view))
                .await?;
            if let Err(error) = updated {
                tracing::error!(%error, "cannot update this message; skipping it");
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
        Ok(())
    }

    /// Tells the requester the decision, once, when the plugin is set to.
    async fn notify_requester(
        &self,
        observed: &Observation,
        claim: &mut RecordClaim<'_, B>,
        resolution: Resolution,
    ) -> Result<(), StepError> {
        if !self.requester_notice_due(claim) {
            return Ok(());
        }
        let view = self.view(observed, claim.record(), Status::Resolved(resolution));
        let notified = self
            .effects
            .run(claim, "requester", || self.bot.notify_requester(&view))
            .await?;
        if let Err(error) = notified {
            tracing::error!(%error, "cannot tell the requester the decision; giving up on that");
        }
        let mut next = claim.record().clone();
        next.requester_notified = true;
        claim.record_effect(next);
        Ok(())
    }

    /// A PROMOTED request the bot does not show (e-mail, as Go): left for its deletion.
    fn ignores(&self, request: &AccessRequest) -> bool {
        request.state == RequestState::Promoted && !self.bot.shows_promoted()
    }

    fn requester_notice_due(&self, state: &State<B>) -> bool {
        self.options.notify_requester && !state.requester_notified && state.resolution.is_some()
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
        let logins_by_role = state.go.logins();
        let resources = match state.go.resource_names() {
            stored if !stored.is_empty() => stored,
            _ => request.resources.iter().map(ToString::to_string).collect(),
        };
        RequestView {
            request,
            cluster: self.options.cluster.clone(),
            web_base: self.options.web_base.clone(),
            status,
            resolve_reason: state.resolve_reason.clone(),
            resources,
            logins_by_role,
        }
    }

    /// The logins each requested role allows, read once per request as Go does; a role that
    /// cannot be read (no `role: read` permission) leaves the lines out, with a warning.
    async fn logins_by_role(
        &self,
        request: &AccessRequest,
    ) -> Result<BTreeMap<String, Vec<String>>, StepError> {
        let mut logins = BTreeMap::new();
        for role in &request.roles {
            match self.client.get_role(role).await {
                Ok(found) => {
                    logins.insert(role.clone(), found.logins);
                }
                Err(error) if error.is_connection_problem() => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(%role, %error, "cannot read the role to show its logins (does the plugin's role allow role: read?)");
                    return Ok(BTreeMap::new());
                }
            }
        }
        Ok(logins)
    }

    /// The request's recipients, resolved and de-duplicated: those of the access monitoring
    /// rules that match it, else (no rule matches, or none of their recipients can be used,
    /// as Go decides) `role_to_recipients` and the suggested reviewers; the requester only
    /// when [`MessagingOptions::requester_sees_request`] says so.
    async fn resolve_recipients(
        &self,
        request: &AccessRequest,
    ) -> Result<Vec<Recipient>, StepError> {
        let mut recipients = self.resolve_reviewers(request).await?;
        if self.options.requester_sees_request && crate::config::is_plain_email(&request.user) {
            match self.bot.resolve_recipient(&request.user).await {
                Ok(Some(requester)) if !recipients.contains(&requester) => {
                    recipients.push(requester);
                }
                Ok(_) => {}
                // Go sends it when the requester is known to the service, and says nothing
                // otherwise.
                Err(ServiceError::Permanent { message }) => {
                    tracing::debug!(error = %message, "the requester cannot get the request")
                }
                Err(error) => return Err(StepError::Service(error)),
            }
        }
        Ok(recipients)
    }

    /// The reviewers among the recipients (see [`resolve_recipients`](Self::resolve_recipients)).
    async fn resolve_reviewers(
        &self,
        request: &AccessRequest,
    ) -> Result<Vec<Recipient>, StepError> {
        if let Some(rules) = &self.options.rules
            && let Some(routed) = rules.recipients(request).await
        {
            let resolved = self.resolve_names(routed, request).await?;
            if !resolved.is_empty() {
                tracing::info!(
                    recipients = resolved.len(),
                    "access monitoring rules route this request"
                );
                return Ok(resolved);
            }
            tracing::warn!(
                "the access monitoring rules matching this request name no usable recipient; using role_to_recipients"
            );
        }
        let raw = self
            .options
            .role_to_recipients
            .recipients_for(&request.roles, &request.suggested_reviewers);
        self.resolve_names(raw, request).await
    }

    /// Resolves recipient names through the bot. A recipient that cannot be used is skipped;
    /// a lookup that may pass later ends the step.
    async fn resolve_names(
        &self,
        raw: impl IntoIterator<Item = String>,
        request: &AccessRequest,
    ) -> Result<Vec<Recipient>, StepError> {
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
                Err(ServiceError::Permanent { message }) => {
                    tracing::warn!(recipient = %name, error = %message, "cannot use this recipient; skipping it")
                }
                Err(error @ ServiceError::Unauthorized { .. }) => {
                    self.metrics.auth_failures.inc();
                    tracing::error!(recipient = %name, error = %error.message(), "the service refused the plugin's credentials while looking up a recipient; will retry (check the token in the config)");
                    return Err(StepError::Service(error));
                }
                Err(error @ ServiceError::Transient { .. }) => {
                    tracing::warn!(recipient = %name, error = %error.message(), "looking up a recipient failed; will retry");
                    return Err(StepError::Service(error));
                }
            }
        }
        Ok(resolved)
    }
}

/// The resolution to show: the stored one once decided (it never changes), else what the
/// observation says (a deleted request counts as expired).
fn decide_resolution<M>(observed: &Observation, state: &MessageState<M>) -> Option<Resolution> {
    state.resolution.or(match observed {
        Observation::Put(request) => Resolution::from_state(request.state),
        Observation::Deleted(_) => Some(Resolution::Expired),
    })
}

#[cfg(test)]
mod tests;
