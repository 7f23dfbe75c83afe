//! Creates whose outcome is unknown, for services with no idempotency key (ServiceNow,
//! Datadog): the incident may exist although no record names it, so the next attempt looks
//! it up before creating.
//!
//! Two things leave a create unsure: it got no definite answer (a timeout, a 5xx), or the
//! replica that sent it stopped (a SIGKILL) before recording it and its lease lapsed, which
//! the replica taking the request over learns from [`Claim::taken_over`]. Either is kept
//! in the record ([`UnsureCreate`]) as well as in this replica's memory: the look-up itself
//! can fail (a 503 window), and the release that follows clears the lease, so without the
//! mark in the record the next replica to claim the request would see a clean record and
//! create again. The memory covers a mark whose write failed, on this replica.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use crate::record::{Claim, Effects, Permanent, RecordCodec, StepError};
use crate::service_error::ServiceError;

/// A record that carries "a create may have opened an incident nobody recorded" across
/// replicas (read only while the record names no incident).
pub trait UnsureCreate {
    /// Whether the mark is set.
    fn create_unsure(&self) -> bool;
    /// Sets the mark.
    fn mark_create_unsure(&mut self);
}

/// The requests whose incident may have been created without being recorded.
#[derive(Debug, Default)]
pub struct UncertainCreates(Mutex<HashSet<String>>);

impl UncertainCreates {
    /// Whether the incident of `request_id` must be looked up before creating: the record
    /// carries the mark, a create here went unanswered, or `claim` took over a lapsed lease
    /// (then the mark is staged, so that the release after a failed look-up keeps it).
    pub fn needs_look_up<C>(&self, claim: &mut Claim<'_, C>, request_id: &str) -> bool
    where
        C: RecordCodec<Record: UnsureCreate>,
    {
        let taken_over = claim.taken_over().is_some();
        if taken_over && !claim.create_unsure() {
            let mut next = claim.record().clone();
            next.mark_create_unsure();
            claim.stage(next);
        }
        let mut set = self.set();
        if taken_over {
            set.insert(request_id.to_owned());
        }
        set.contains(request_id) || claim.create_unsure()
    }

    /// Runs the create of `request_id`'s incident as the effect `kind`, marked unsure until
    /// the service answers either way; a failure that leaves the outcome unknown is marked
    /// in the record too (as an effect: the release tries hard to write it).
    pub async fn create<C, T, F>(
        &self,
        request_id: &str,
        effects: &Effects,
        claim: &mut Claim<'_, C>,
        kind: &'static str,
        send: impl Fn() -> F,
    ) -> Result<Result<T, Permanent>, StepError>
    where
        C: RecordCodec<Record: UnsureCreate>,
        F: Future<Output = Result<T, ServiceError>>,
    {
        self.set().insert(request_id.to_owned());
        let created = effects.run(claim, kind, send).await;
        match &created {
            Ok(_) => self.forget(request_id),
            Err(error) if error.outcome_unknown() && !claim.create_unsure() => {
                let mut next = claim.record().clone();
                next.mark_create_unsure();
                claim.record_effect(next);
            }
            Err(_) => {}
        }
        created
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use teleport_client::PluginDataMap;

    use super::*;
    use crate::metrics::Metrics;
    use crate::record::tests::Env;
    use crate::record::{Acquired, Lease, LeasedRecords};

    const PLUGIN: &str = "incidents";
    const LEASE: Duration = Duration::from_secs(3600);

    /// A record with nothing but the mark and the lease.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Pending {
        unsure: bool,
        claim: Option<Lease>,
    }

    impl UnsureCreate for Pending {
        fn create_unsure(&self) -> bool {
            self.unsure
        }

        fn mark_create_unsure(&mut self) {
            self.unsure = true;
        }
    }

    struct PendingCodec;

    impl RecordCodec for PendingCodec {
        type Record = Pending;

        fn encode(record: &Pending) -> PluginDataMap {
            PluginDataMap::from([
                (
                    "unsure".to_owned(),
                    if record.unsure { "true" } else { "" }.to_owned(),
                ),
                (
                    "claim".to_owned(),
                    record.claim.as_ref().map(Lease::encode).unwrap_or_default(),
                ),
            ])
        }

        fn decode(data: &PluginDataMap) -> Pending {
            let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("");
            Pending {
                unsure: get("unsure") == "true",
                claim: Lease::decode(get("claim")),
            }
        }

        fn empty_record() -> PluginDataMap {
            Self::encode(&Pending::default())
        }

        fn lease(record: &mut Pending) -> &mut Option<Lease> {
            &mut record.claim
        }
    }

    fn records(env: &Env, owner: &str) -> LeasedRecords<PendingCodec> {
        LeasedRecords::new(env.client.clone(), PLUGIN, owner, LEASE)
    }

    /// A stored value ("" when absent: Teleport drops empty values).
    fn stored(env: &Env, key: &str) -> String {
        env.kit
            .plugin_data(&env.request_id, PLUGIN)
            .and_then(|data| data.get(key).cloned())
            .unwrap_or_default()
    }

    async fn claim<'a>(
        records: &'a LeasedRecords<PendingCodec>,
        env: &Env,
    ) -> Claim<'a, PendingCodec> {
        match records
            .claim(&env.request_id, |stored| Some(stored.unwrap_or_default()))
            .await
        {
            Ok(Acquired::Claimed(claim)) => claim,
            Ok(Acquired::Skipped(outcome)) => panic!("not claimed: {outcome:?}"),
            Err(error) => panic!("claim: {error}"),
        }
    }

    /// A replica that took over a killed one's lease and could not look (a 503 window)
    /// releases the request; the next replica, seeing no lease, must still look.
    #[tokio::test]
    async fn a_takeover_whose_look_up_failed_leaves_the_mark_for_the_next_replica() {
        let env = Env::new().await;
        let lapsed = SystemTime::now() - Duration::from_secs(1);
        let millis = lapsed
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        env.kit
            .put_plugin_data(
                "access_request",
                &env.request_id,
                PLUGIN,
                &[("claim", &format!("killed {millis}"))],
            )
            .expect("seed");

        let first = records(&env, "first");
        let mut taken = claim(&first, &env).await;
        assert!(UncertainCreates::default().needs_look_up(&mut taken, &env.request_id));
        // The look-up failed transiently: the step ends and releases the lease.
        taken.release().await;
        assert_eq!(stored(&env, "claim"), "", "released");
        assert_eq!(stored(&env, "unsure"), "true", "the takeover is kept");
        let second = records(&env, "second");
        let mut clean = claim(&second, &env).await;
        assert!(clean.taken_over().is_none(), "a released record");
        assert!(
            UncertainCreates::default().needs_look_up(&mut clean, &env.request_id),
            "the mark makes another replica look before creating"
        );
        clean.release().await;
    }

    /// A create that got no definite answer is marked in the record (not only in the
    /// memory of the replica that sent it); a refusal that did no work is not.
    #[tokio::test]
    async fn an_unanswered_create_is_marked_in_the_record_and_a_refused_one_is_not() {
        let env = Env::new().await;
        let effects = Effects::new(Metrics::new());
        let sender = records(&env, "sender");
        let uncertain = UncertainCreates::default();

        let mut refused = claim(&sender, &env).await;
        assert!(!uncertain.needs_look_up(&mut refused, &env.request_id));
        let result = uncertain
            .create(
                &env.request_id,
                &effects,
                &mut refused,
                "incident",
                || async {
                    Err::<(), _>(ServiceError::Unauthorized {
                        message: "401".into(),
                    })
                },
            )
            .await;
        assert!(result.is_err());
        refused.release().await;
        assert_eq!(
            stored(&env, "unsure"),
            "",
            "a refusal did not create anything"
        );

        let mut unanswered = claim(&sender, &env).await;
        let result = uncertain
            .create(
                &env.request_id,
                &effects,
                &mut unanswered,
                "incident",
                || async { Err::<(), _>(ServiceError::transient("504")) },
            )
            .await;
        assert!(matches!(result, Err(ref error) if error.outcome_unknown()));
        unanswered.release().await;
        assert_eq!(stored(&env, "unsure"), "true");
        let other = records(&env, "other");
        let mut next = claim(&other, &env).await;
        assert!(UncertainCreates::default().needs_look_up(&mut next, &env.request_id));
        next.release().await;
    }
}
