//! The one write path "an outside system decided → Teleport": approve or deny a request on
//! someone's behalf (SetAccessRequestState with a delegator) or as the plugin's own review,
//! at most once however often the decision is seen.
//!
//! A decision may arrive twice (a webhook redelivered, a webhook and a poll, two replicas
//! polling), and Teleport would apply a second SetAccessRequestState: approving an approved
//! request again rewrites its reason, and a denial overwrites an approval. So every decision
//! is applied under two guards:
//!
//! * in this process, one decision per request at a time (a lock per request ID);
//! * across processes, a lease in the plugin's own plugin data (key `decision`,
//!   `"<owner> <unix millis>"`, taken and given back by compare-and-swap), so a second
//!   replica waits instead of deciding alongside;
//!
//! and, holding both, the request is read again and changed only while it is still pending.
//! Teleport's refusals are understood: a request already resolved or gone is "nothing to do",
//! not an error.
//!
//! Decisions never pass through the dispatcher: its per-request coalescing keeps only the
//! latest observation of a request, and a decision is not an observation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use teleport_client::{
    ClientError, PluginDataMap, RequestState, ReviewSubmission, StateChange, TeleportClient,
};

use crate::record::Lease;

/// The plugin-data key holding the decision lease; other plugins and Go ignore it.
pub const DECISION_KEY: &str = "decision";

/// How long a decision lease lasts: a replica that dies mid-decision blocks others this long.
pub const DECISION_LEASE: Duration = Duration::from_secs(30);

/// Approve or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Set APPROVED / review APPROVED.
    Approve,
    /// Set DENIED / review DENIED.
    Deny,
}

impl Verdict {
    fn state(self) -> RequestState {
        match self {
            Self::Approve => RequestState::Approved,
            Self::Deny => RequestState::Denied,
        }
    }
}

/// How the decision is written to Teleport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Channel {
    /// SetAccessRequestState with this delegator (e.g. `jira:alice@example.com`), which
    /// Teleport records in the audit log. Needs `access_request: update`.
    SetState {
        /// Who decided, as the audit log should name them.
        delegator: String,
    },
    /// A review as the plugin's own user. Needs `review_requests` for the roles.
    Review,
}

/// A decision made outside Teleport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The request.
    pub request_id: String,
    /// Approve or deny.
    pub verdict: Verdict,
    /// Why, as the decider wrote it.
    pub reason: String,
    /// How to write it.
    pub channel: Channel,
}

/// What became of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// This call changed the request (or submitted the review).
    Applied,
    /// The request was no longer pending: nothing to do.
    AlreadyResolved(RequestState),
    /// The plugin's user had already reviewed the request (a review channel only).
    AlreadyReviewed,
    /// The request does not exist (any more): nothing to do.
    Gone,
}

/// Why a decision was not applied (yet).
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// Another replica is applying a decision for the request right now; try again after
    /// `retry_after`.
    #[error("another replica is deciding this request; retry in {retry_after:?}")]
    Busy {
        /// When its lease runs out at the latest.
        retry_after: Duration,
    },
    /// Teleport refused for good: most likely the plugin's role lacks the permission
    /// (`access_request: update`, or `review_requests` for a review).
    #[error("Teleport refused the decision: {0}")]
    Refused(ClientError),
    /// Teleport could not be reached or failed; try again later.
    #[error("Teleport call failed: {0}")]
    Teleport(ClientError),
}

impl DecisionError {
    /// Whether the same decision may succeed later.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

/// Applies outside decisions for one plugin (namespace `plugin` in plugin data).
pub struct DecisionWriter {
    client: TeleportClient,
    plugin: String,
    owner: String,
    lease: Duration,
    in_process: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl DecisionWriter {
    /// A writer for `plugin`'s decisions, leasing as `owner` (this replica's ID).
    pub fn new(
        client: TeleportClient,
        plugin: impl Into<String>,
        owner: impl Into<String>,
    ) -> Self {
        Self {
            client,
            plugin: plugin.into(),
            owner: owner.into(),
            lease: DECISION_LEASE,
            in_process: Mutex::new(HashMap::new()),
        }
    }

    /// The same with a different lease length (tests).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Applies `decision` if the request is still pending; see the module documentation.
    pub async fn apply(&self, decision: &Decision) -> Result<Applied, DecisionError> {
        let lock = self.lock_for(&decision.request_id);
        let _held = lock.lock().await;
        let leased = self.take_lease(&decision.request_id).await?;
        let outcome = self.apply_leased(decision).await;
        if let Some(stored) = leased {
            self.give_back(&decision.request_id, &stored).await;
        }
        outcome
    }

    fn lock_for(&self, request_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .in_process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget locks nobody holds any more, so the map stays as small as the work.
        locks.retain(|_, lock| lock.strong_count() > 0);
        if let Some(lock) = locks.get(request_id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(request_id.to_owned(), Arc::downgrade(&lock));
        lock
    }

    /// Takes the cross-replica lease; `None` when the request is gone (no plugin data can
    /// be written for it, and there is nothing to guard).
    async fn take_lease(&self, request_id: &str) -> Result<Option<String>, DecisionError> {
        for _ in 0..8 {
            let stored = self
                .client
                .get_plugin_data(&self.plugin, request_id)
                .await
                .map_err(DecisionError::Teleport)?
                .and_then(|mut data| data.remove(DECISION_KEY))
                .unwrap_or_default();
            let now = SystemTime::now();
            if let Some(lease) =
                Lease::decode(&stored).filter(|l| l.held_by_other(&self.owner, now))
            {
                let left = lease.until.duration_since(now).unwrap_or_default();
                tracing::info!(owner = %lease.owner, ?left, "another replica is deciding this request");
                return Err(DecisionError::Busy { retry_after: left });
            }
            let mine = Lease::new(&self.owner, self.lease).encode();
            match self.write(request_id, &stored, &mine).await {
                Ok(()) => return Ok(Some(mine)),
                Err(ClientError::CompareFailed { .. }) => continue,
                Err(ClientError::NotFound { .. }) => return Ok(None),
                Err(error) => return Err(DecisionError::Teleport(error)),
            }
        }
        Err(DecisionError::Busy {
            retry_after: Duration::from_secs(1),
        })
    }

    /// Best effort: a lease not given back lapses.
    async fn give_back(&self, request_id: &str, mine: &str) {
        if let Err(error) = self.write(request_id, mine, "").await {
            tracing::debug!(%error, "could not release the decision lease; it will lapse");
        }
    }

    async fn write(&self, request_id: &str, expect: &str, set: &str) -> Result<(), ClientError> {
        self.client
            .update_plugin_data(
                &self.plugin,
                request_id,
                PluginDataMap::from([(DECISION_KEY.to_owned(), set.to_owned())]),
                PluginDataMap::from([(DECISION_KEY.to_owned(), expect.to_owned())]),
            )
            .await
    }

    async fn apply_leased(&self, decision: &Decision) -> Result<Applied, DecisionError> {
        let id = &decision.request_id;
        let request = match self.client.get_access_request(id).await {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(Applied::Gone),
            Err(error) => return Err(classify(error)),
        };
        if request.state != RequestState::Pending {
            tracing::info!(state = %request.state, "the request is no longer pending; the decision is not applied");
            return Ok(Applied::AlreadyResolved(request.state));
        }
        let state = decision.verdict.state();
        let result = match &decision.channel {
            Channel::SetState { delegator } => self
                .client
                .set_request_state(&StateChange {
                    request_id: id.clone(),
                    state,
                    delegator: delegator.clone(),
                    reason: decision.reason.clone(),
                    annotations: Default::default(),
                })
                .await
                .map(|()| Applied::Applied),
            Channel::Review => self
                .client
                .submit_review(&ReviewSubmission {
                    request_id: id.clone(),
                    author: self.client.identity().username().to_owned(),
                    proposed_state: state,
                    reason: decision.reason.clone(),
                })
                .await
                .map(|_| Applied::Applied),
        };
        match result {
            Ok(applied) => {
                tracing::info!(state = %state, channel = ?decision.channel, "applied the decision to the request");
                Ok(applied)
            }
            Err(error) => understand_refusal(error),
        }
    }
}

/// Teleport's refusals that mean "nothing to do", told from real errors.
fn understand_refusal(error: ClientError) -> Result<Applied, DecisionError> {
    match &error {
        ClientError::NotFound { .. } => Ok(Applied::Gone),
        // SubmitAccessReview: a second review by the same user is AccessDenied in
        // Teleport ("user ... has already reviewed this request"), AlreadyExists in
        // older test servers.
        ClientError::AccessDenied { message, .. } | ClientError::AlreadyExists { message, .. }
            if message.contains("has already reviewed this request") =>
        {
            Ok(Applied::AlreadyReviewed)
        }
        // A review of a resolved request, or a state change of a denied one, after the
        // pending check (someone else decided in between).
        ClientError::AccessDenied { message, .. } | ClientError::Other { message, .. }
            if message.contains("already") =>
        {
            tracing::info!(%message, "the request was resolved in the meantime");
            Ok(Applied::AlreadyResolved(RequestState::None))
        }
        _ => Err(classify(error)),
    }
}

fn classify(error: ClientError) -> DecisionError {
    match error {
        ClientError::AccessDenied { .. }
        | ClientError::Unimplemented { .. }
        | ClientError::Other { .. }
        | ClientError::Credentials(_)
        | ClientError::InvalidAddress { .. } => DecisionError::Refused(error),
        other => DecisionError::Teleport(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(message: &str) -> ClientError {
        ClientError::AccessDenied {
            method: "SubmitAccessReview",
            message: message.into(),
        }
    }

    #[test]
    fn teleport_refusals_that_mean_nothing_to_do() {
        assert_eq!(
            understand_refusal(denied(
                "user \"access-plugin\" has already reviewed this request"
            ))
            .unwrap(),
            Applied::AlreadyReviewed
        );
        assert_eq!(
            understand_refusal(ClientError::NotFound {
                method: "SetAccessRequestState",
                message: "gone".into()
            })
            .unwrap(),
            Applied::Gone
        );
        assert_eq!(
            understand_refusal(denied("the access request has been already approved")).unwrap(),
            Applied::AlreadyResolved(RequestState::None)
        );
        let error =
            understand_refusal(denied("access denied to perform action \"update\"")).unwrap_err();
        assert!(!error.is_transient(), "{error}");
        let error = understand_refusal(ClientError::Connection {
            method: "SetAccessRequestState",
            message: "reset".into(),
        })
        .unwrap_err();
        assert!(error.is_transient(), "{error}");
    }
}
