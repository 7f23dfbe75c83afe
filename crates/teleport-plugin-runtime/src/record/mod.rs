//! A per-request record in Teleport plugin data that is worked on only under a lease.
//!
//! Plugins keep what they did for a request (messages sent, incident opened, ...) in
//! plugin data and do side effects only while holding a lease stored in the record itself
//! (key `claim`, `"<owner> <unix millis>"`), taken and renewed by compare-and-swap. So a
//! second replica waits instead of acting twice, and a replica that dies leaves a lease
//! that lapses and a record of exactly what is left to do.
//!
//! A plugin describes its record with a [`RecordCodec`] and runs each step through
//! [`LeasedRecords::step`], which claims the record when there is work, hands it to the
//! plugin, whose work records progress after every side effect, and releases it however
//! the work ended. [`LeasedRecords::claim`] and [`Claim::release`] are its two halves, for
//! a plugin that needs them apart.
//!
//! Progress is either saved at once ([`Claim::save`]) or staged ([`Claim::stage`],
//! [`Claim::record_effect`]) and written by the next [`Claim::before_effect`] or by the
//! release. Either way at most one side effect is ever unrecorded, the same bound as a
//! crash between a side effect and its save; staging lets a new request cost two Teleport
//! writes (claim, then record-and-release) instead of one per step.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use teleport_client::{AccessRequest, ClientError, PluginDataMap, RequestState, TeleportClient};

use crate::dispatch::{Observation, Outcome};

/// Compare-and-swap conflicts tolerated while claiming before backing off.
const MAX_CAS_ROUNDS: usize = 16;

/// The longest wait for another replica's lease before looking again: its holder may
/// release it early.
const MAX_LEASE_WAIT: Duration = Duration::from_secs(5);

/// Added to a lease's remaining time so that the next look finds it lapsed.
const AFTER_LAPSE: Duration = Duration::from_millis(50);

/// A pending request with no reviews created this recently is most likely new, so its
/// record is created straight away instead of first looking for one: a wrong guess costs
/// one failed compare-and-swap. Older ones (the catch-up listing after a restart) are
/// mostly known already, so they are looked up first.
const LIKELY_NEW_FOR: Duration = Duration::from_secs(60);

/// How one plugin's record is stored in plugin data.
pub trait RecordCodec {
    /// The decoded record; it carries its lease (see [`lease`](Self::lease)).
    type Record: Clone + Send + Sync + 'static;

    /// Every key the plugin writes, with "" for empty values: written as `set` it
    /// describes the whole record, and as `expect` it is a full compare-and-swap guard.
    fn encode(record: &Self::Record) -> PluginDataMap;

    /// Reads stored data (the plugin's own or a Go plugin's).
    fn decode(data: &PluginDataMap) -> Self::Record;

    /// Every key [`encode`](Self::encode) writes, each with "": as `expect` it makes an
    /// update succeed only if nothing is stored yet. [`LeasedRecords::create`] relies on
    /// that without reading first, so every record that can be stored, a Go plugin's
    /// included, must hold a non-empty value under one of these keys (the requester's
    /// `user` in every record the plugins write).
    fn empty_record() -> PluginDataMap;

    /// The record's lease (stored under `claim`).
    fn lease(record: &mut Self::Record) -> &mut Option<Lease>;
}

/// Access to one plugin's leased records.
pub struct LeasedRecords<C> {
    client: TeleportClient,
    /// The resource kind the records are on (`access_request` unless [`LeasedRecords::on_kind`]).
    kind: String,
    plugin: String,
    owner: String,
    lease: Duration,
    blind: BlindCreates,
    codec: PhantomData<fn() -> C>,
}

/// Whether blind creates are paying off. After a re-listing (a watch that fell behind and
/// was reconnected) requests that look new are mostly known already, and each blind create
/// would cost a failed write before the read: so after a run of misses only every
/// [`BLIND_PROBE_EVERY`]th one is tried, until one succeeds again.
#[derive(Debug, Default)]
struct BlindCreates {
    misses_in_a_row: AtomicU32,
    skipped: AtomicU32,
}

/// Misses in a row after which blind creates are only probed.
const BLIND_MISSES_TOLERATED: u32 = 8;
const BLIND_PROBE_EVERY: u32 = 16;

impl BlindCreates {
    fn worth_trying(&self) -> bool {
        if self.misses_in_a_row.load(Ordering::Relaxed) < BLIND_MISSES_TOLERATED {
            return true;
        }
        self.skipped
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(BLIND_PROBE_EVERY)
    }

    fn record(&self, created: bool) {
        if created {
            self.misses_in_a_row.store(0, Ordering::Relaxed);
        } else {
            self.misses_in_a_row.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What [`LeasedRecords::claim`] got.
#[must_use]
pub enum Acquired<'a, C: RecordCodec> {
    /// This replica holds the lease; do the work, then [`Claim::release`].
    Claimed(Claim<'a, C>),
    /// Nothing is to be done now: [`Outcome::Done`] when there is no work,
    /// [`Outcome::Retry`] while another replica holds the lease or the record keeps
    /// changing.
    Skipped(Outcome),
}

/// Why [`Claim::save`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Someone else changed the record while this replica held the lease: the lease lapsed
    /// and was taken over. Stop acting on the request and start over.
    #[error("the request's record changed while this replica held its lease")]
    LostLease,
    /// Teleport failed; whether the write happened is unknown.
    #[error(transparent)]
    Teleport(#[from] ClientError),
}

impl<C: RecordCodec> LeasedRecords<C> {
    /// Records in namespace `plugin`, leased as `owner` (this replica) for `lease` at a time.
    pub fn new(
        client: TeleportClient,
        plugin: impl Into<String>,
        owner: impl Into<String>,
        lease: Duration,
    ) -> Self {
        Self {
            client,
            kind: teleport_client::ACCESS_REQUEST_KIND.to_owned(),
            plugin: plugin.into(),
            owner: owner.into(),
            lease,
            blind: BlindCreates::default(),
            codec: PhantomData,
        }
    }

    /// Records on resources of `kind` instead (e.g. `access_list` for review reminders).
    /// [`step`](Self::step) and [`create`](Self::create) are about access requests; use
    /// [`claim`](Self::claim) with other kinds.
    pub fn on_kind(mut self, kind: &str) -> Self {
        self.kind = kind.to_owned();
        self
    }

    /// One step on an observed request: claims its record if there is work — a new record
    /// from `start` for a pending request that has none (one resolved or deleted before
    /// the plugin acted needs nothing), the stored one if `needs_work` says so — runs
    /// `work` under the lease and then releases it, whatever the outcome: progress is
    /// saved after every side effect, so no other replica need wait for the lease to lapse.
    pub async fn step<E: From<ClientError>>(
        &self,
        observed: &Observation,
        start: impl Fn(&AccessRequest) -> C::Record,
        needs_work: impl Fn(&C::Record) -> bool,
        work: impl AsyncFnOnce(&mut Claim<'_, C>) -> Result<Outcome, E>,
    ) -> Result<Outcome, E> {
        let created = match observed {
            Observation::Put(request)
                if likely_new(request, SystemTime::now()) && self.blind.worth_trying() =>
            {
                let created = self.create(observed.id(), start(request)).await?;
                self.blind.record(created.is_some());
                created
            }
            _ => None,
        };
        let acquired = match created {
            Some(claim) => Acquired::Claimed(claim),
            None => {
                self.claim(observed.id(), |stored| match stored {
                    None => match observed {
                        Observation::Put(request) if request.state == RequestState::Pending => {
                            Some(start(request))
                        }
                        _ => None,
                    },
                    Some(record) => needs_work(&record).then_some(record),
                })
                .await?
            }
        };
        let mut claim = match acquired {
            Acquired::Claimed(claim) => claim,
            Acquired::Skipped(outcome) => return Ok(outcome),
        };
        let result = work(&mut claim).await;
        claim.release().await;
        result
    }

    /// Creates the record of `request_id` as `record`, claimed, if none is stored yet:
    /// one write. `None` when a record exists (nothing is changed then).
    pub async fn create(
        &self,
        request_id: &str,
        record: C::Record,
    ) -> Result<Option<Claim<'_, C>>, ClientError> {
        let mut claimed = record;
        *C::lease(&mut claimed) = Some(Lease::new(&self.owner, self.lease));
        match self.write(request_id, C::empty_record(), &claimed).await {
            Ok(()) => Ok(Some(Claim::new(self, request_id, claimed))),
            Err(ClientError::CompareFailed { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Claims the record of `request_id` if there is work to do.
    ///
    /// `decide` gets the stored record (`None` when there is none) and returns the record
    /// to work on — a new one, or the stored one — or `None` when nothing is to be done.
    /// It is called again after every compare-and-swap conflict, with the record as it
    /// then is. A live lease of another replica is waited for (`Skipped(Retry(Some(_)))`,
    /// at most a few seconds at a time); a lapsed one, or this replica's own, is taken over.
    pub async fn claim(
        &self,
        request_id: &str,
        mut decide: impl FnMut(Option<C::Record>) -> Option<C::Record>,
    ) -> Result<Acquired<'_, C>, ClientError> {
        for _ in 0..MAX_CAS_ROUNDS {
            let stored = self
                .client
                .get_plugin_data_of(&self.kind, &self.plugin, request_id)
                .await?;
            let (expect, record) = match stored {
                None => match decide(None) {
                    Some(record) => (C::empty_record(), record),
                    None => return Ok(Acquired::Skipped(Outcome::Done)),
                },
                Some(data) => {
                    let Some(mut record) = decide(Some(C::decode(&data))) else {
                        return Ok(Acquired::Skipped(Outcome::Done));
                    };
                    let now = SystemTime::now();
                    if let Some(lease) = C::lease(&mut record)
                        .as_ref()
                        .filter(|l| l.held_by_other(&self.owner, now))
                    {
                        let left = lease.until.duration_since(now).unwrap_or_default();
                        tracing::debug!(owner = %lease.owner, ?left, "another replica is working on this request");
                        return Ok(Acquired::Skipped(Outcome::Retry(Some(
                            left.min(MAX_LEASE_WAIT) + AFTER_LAPSE,
                        ))));
                    }
                    (guard::<C>(data), record)
                }
            };
            let mut claimed = record;
            let previous = C::lease(&mut claimed).replace(Lease::new(&self.owner, self.lease));
            match self.write(request_id, expect, &claimed).await {
                Ok(()) => {
                    let claim = Claim::new(self, request_id, claimed).taking_over(previous);
                    return Ok(Acquired::Claimed(claim));
                }
                Err(ClientError::CompareFailed { .. }) => continue,
                Err(error) => return Err(error),
            }
        }
        tracing::debug!("the request's record kept changing; backing off");
        Ok(Acquired::Skipped(Outcome::Retry(None)))
    }

    async fn write(
        &self,
        request_id: &str,
        expect: PluginDataMap,
        record: &C::Record,
    ) -> Result<(), ClientError> {
        self.client
            .update_plugin_data_of(
                &self.kind,
                &self.plugin,
                request_id,
                C::encode(record),
                expect,
            )
            .await
    }
}

/// Whether `request` is most likely one the plugin has not seen yet (see [`LIKELY_NEW_FOR`]).
fn likely_new(request: &AccessRequest, now: SystemTime) -> bool {
    let Some(created) = request.created else {
        return false;
    };
    let now = i128::from(unix_millis(now));
    let created = created.unix_timestamp_nanos() / 1_000_000;
    request.state == RequestState::Pending
        && request.reviews.is_empty()
        && now - created <= LIKELY_NEW_FOR.as_millis() as i128
}

/// The stored map as a guard, with "" for every key of ours it lacks: stored spellings
/// (a Go plugin's) compare equal, and a key written in between (`claim`) still fails it.
fn guard<C: RecordCodec>(stored: PluginDataMap) -> PluginDataMap {
    let mut expect = C::empty_record();
    expect.extend(stored);
    expect
}

mod claim;
mod effect;
mod lease;
mod pause;
mod request_data;
mod resolution;
mod step_error;

pub use claim::Claim;
#[cfg(test)]
pub(crate) use effect::MAX_TRIES_IN_PLACE;
pub use effect::{Effects, Permanent};
pub use lease::{Lease, unix_millis};
pub use request_data::{REQUEST_DATA_KEYS, RequestData};
pub use resolution::Resolution;
pub use step_error::{StepError, outcome};

#[cfg(test)]
pub(crate) mod tests;
