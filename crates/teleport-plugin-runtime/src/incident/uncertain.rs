//! Creates whose outcome is unknown, for services with no idempotency key (ServiceNow,
//! Datadog): the incident may exist although no record names it, so the next attempt looks
//! it up before creating.
//!
//! Two things leave a create unsure: it got no definite answer (a timeout, a 5xx), or the
//! replica that sent it stopped (a SIGKILL) before recording it and its lease lapsed, which
//! the replica taking the request over learns from [`Claim::taken_over`]. The mark is kept
//! in this replica's memory only: a retry here after a failed look-up looks again, and a
//! takeover elsewhere is told by the lapsed lease, not by this set.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use crate::record::{Claim, Effects, Permanent, RecordCodec, StepError};
use crate::service_error::ServiceError;

/// The requests whose incident may have been created without being recorded.
#[derive(Debug, Default)]
pub struct UncertainCreates(Mutex<HashSet<String>>);

impl UncertainCreates {
    /// Whether the incident of `request_id` must be looked up before creating: a create here
    /// went unanswered, or `claim` took over a lapsed lease (marked from now on, so that a
    /// failed look-up is retried here before any create).
    pub fn needs_look_up<C: RecordCodec>(&self, claim: &Claim<'_, C>, request_id: &str) -> bool {
        let mut set = self.set();
        if claim.taken_over().is_some() {
            set.insert(request_id.to_owned());
        }
        set.contains(request_id)
    }

    /// Runs the create of `request_id`'s incident as the effect `kind`, marked unsure until
    /// the service answers either way.
    pub async fn create<C, T, F>(
        &self,
        request_id: &str,
        effects: &Effects,
        claim: &mut Claim<'_, C>,
        kind: &'static str,
        send: impl Fn() -> F,
    ) -> Result<Result<T, Permanent>, StepError>
    where
        C: RecordCodec,
        F: Future<Output = Result<T, ServiceError>>,
    {
        self.set().insert(request_id.to_owned());
        let created = effects.run(claim, kind, send).await?;
        self.forget(request_id);
        Ok(created)
    }

    /// Drops the mark of a request whose work is done.
    pub fn forget(&self, request_id: &str) {
        self.set().remove(request_id);
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic elsewhere while holding the lock leaves a set of IDs, still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
