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
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use teleport_client::{AccessRequest, ClientError, PluginDataMap, RequestState, TeleportClient};

use crate::dispatch::{Observation, Outcome};

/// Compare-and-swap conflicts tolerated while claiming before backing off.
const MAX_CAS_ROUNDS: usize = 16;

/// The longest wait for another replica's lease before looking again: its holder may
/// release it early.
const MAX_LEASE_WAIT: Duration = Duration::from_secs(5);

/// Added to a lease's remaining time so that the next look finds it lapsed.
const AFTER_LAPSE: Duration = Duration::from_millis(50);

/// Tries of a release that carries an unrecorded side effect, and the pause between them
/// (growing linearly).
const RELEASE_ATTEMPTS: u32 = 3;
const RELEASE_RETRY_DELAY: Duration = Duration::from_millis(200);

/// A pending request with no reviews created this recently is most likely new, so its
/// record is created straight away instead of first looking for one: a wrong guess costs
/// one failed compare-and-swap. Older ones (the catch-up listing after a restart) are
/// mostly known already, so they are looked up first.
const LIKELY_NEW_FOR: Duration = Duration::from_secs(60);

/// Which replica is working on a request, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The replica's identifier.
    pub owner: String,
    /// When the lease lapses (another replica may then take over).
    pub until: SystemTime,
}

impl Lease {
    /// A lease for `owner` lasting `length` from now, in whole milliseconds as stored.
    pub fn new(owner: &str, length: Duration) -> Self {
        let until = unix_millis(SystemTime::now() + length);
        Self {
            owner: owner.to_owned(),
            until: UNIX_EPOCH + Duration::from_millis(until),
        }
    }

    /// The stored form, `"<owner> <unix millis>"`.
    pub fn encode(&self) -> String {
        format!("{} {}", self.owner, unix_millis(self.until))
    }

    /// Reads the stored form; `None` for "" or anything else unreadable.
    pub fn decode(text: &str) -> Option<Self> {
        // The owner may contain spaces; the time never does.
        let (owner, millis) = text.rsplit_once(' ')?;
        let millis: u64 = millis.parse().ok()?;
        Some(Self {
            owner: owner.to_owned(),
            until: UNIX_EPOCH + Duration::from_millis(millis),
        })
    }

    /// Whether another replica holds it now.
    pub fn held_by_other(&self, me: &str, now: SystemTime) -> bool {
        self.owner != me && self.until > now
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(millis).unwrap_or(u64::MAX)
}

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
            *C::lease(&mut claimed) = Some(Lease::new(&self.owner, self.lease));
            match self.write(request_id, expect, &claimed).await {
                Ok(()) => return Ok(Acquired::Claimed(Claim::new(self, request_id, claimed))),
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

/// The lease on one request's record, held by this replica; derefs to the record as the
/// work left it (staged changes included).
#[must_use = "a claim holds a lease until it is released or lapses"]
pub struct Claim<'a, C: RecordCodec> {
    records: &'a LeasedRecords<C>,
    request_id: String,
    /// What is stored now, with this replica's lease.
    stored: C::Record,
    /// What the work wants stored: `stored` plus staged changes.
    record: C::Record,
    /// Staged changes include the outcome of a side effect, so they must be written
    /// before the next side effect.
    unrecorded_effect: bool,
    lost: bool,
}

impl<C: RecordCodec> Deref for Claim<'_, C> {
    type Target = C::Record;

    fn deref(&self) -> &C::Record {
        &self.record
    }
}

impl<'a, C: RecordCodec> Claim<'a, C> {
    fn new(records: &'a LeasedRecords<C>, request_id: &str, stored: C::Record) -> Self {
        Self {
            records,
            request_id: request_id.to_owned(),
            record: stored.clone(),
            stored,
            unrecorded_effect: false,
            lost: false,
        }
    }

    /// The record as the work left it (staged changes included).
    pub fn record(&self) -> &C::Record {
        &self.record
    }

    /// Stores `next` in place of the record now, renewing the lease; on success `next` is
    /// the stored record. Fails with [`SaveError::LostLease`] when the record changed
    /// meanwhile.
    pub async fn save(&mut self, next: C::Record) -> Result<(), SaveError> {
        self.record = next;
        self.write_staged().await
    }

    /// Stages `next`, a change that is not the outcome of a side effect (a decision, a
    /// lookup): written with the next write, at the latest by the release.
    pub fn stage(&mut self, next: C::Record) {
        self.record = next;
    }

    /// Stages `next`, the outcome of a side effect just done (a message posted) or a
    /// decision that later side effects show: written by the next
    /// [`before_effect`](Self::before_effect), at the latest by the release.
    pub fn record_effect(&mut self, next: C::Record) {
        self.record = next;
        self.unrecorded_effect = true;
    }

    /// Call right before every side effect: writes the outcome of the previous one if it is
    /// only staged, so no two are ever unrecorded at once, and renews the lease when less
    /// than half of it is left, so the side effect starts well inside it. Fails with
    /// [`SaveError::LostLease`] when another replica took the request over.
    pub async fn before_effect(&mut self) -> Result<(), SaveError> {
        if self.unrecorded_effect || self.lease_running_out(SystemTime::now()) {
            self.write_staged().await?;
        }
        Ok(())
    }

    fn lease_running_out(&mut self, now: SystemTime) -> bool {
        let half = self.records.lease / 2;
        C::lease(&mut self.stored)
            .as_ref()
            .is_none_or(|lease| lease.until.duration_since(now).unwrap_or_default() < half)
    }

    async fn write_staged(&mut self) -> Result<(), SaveError> {
        let records = self.records;
        let mut next = self.record.clone();
        *C::lease(&mut next) = Some(Lease::new(&records.owner, records.lease));
        let expect = C::encode(&self.stored);
        match records.write(&self.request_id, expect, &next).await {
            Ok(()) => {
                self.record = next.clone();
                self.stored = next;
                self.unrecorded_effect = false;
                Ok(())
            }
            Err(ClientError::CompareFailed { .. }) => {
                // Nothing of ours will be written any more; show what was last stored.
                self.lost = true;
                self.record = self.stored.clone();
                Err(SaveError::LostLease)
            }
            // Kept staged: whether the write happened is unknown, and the release tries again.
            Err(error) => Err(error.into()),
        }
    }

    /// Writes what is staged and gives the lease up, in one write, so that another
    /// replica, or this process after a restart, need not wait for it to lapse. Safe after
    /// a failed step too: what is staged is true. Best effort: a lease not released lapses
    /// (and staged changes that are not outcomes are made again); one lost is left alone.
    pub async fn release(self) {
        if self.lost {
            return;
        }
        let mut released = self.record;
        *C::lease(&mut released) = None;
        let expect = C::encode(&self.stored);
        // An unrecorded side effect is worth a few quick tries: if it is lost, the next
        // replica to take the request over repeats it.
        let attempts = if self.unrecorded_effect {
            RELEASE_ATTEMPTS
        } else {
            1
        };
        for attempt in 1..=attempts {
            match self
                .records
                .write(&self.request_id, expect.clone(), &released)
                .await
            {
                Ok(()) => return,
                Err(ClientError::CompareFailed { .. }) => {
                    if self.unrecorded_effect && attempt == 1 {
                        tracing::warn!(
                            "the request's record changed before the last send was recorded; it may be repeated"
                        );
                    }
                    return;
                }
                Err(error) if attempt < attempts => {
                    tracing::debug!(%error, attempt, "could not record the last send; trying again");
                    tokio::time::sleep(RELEASE_RETRY_DELAY * attempt).await;
                }
                Err(error) if self.unrecorded_effect => {
                    tracing::warn!(%error, "could not record the last send; it may be repeated once the lease lapses");
                }
                Err(error) => tracing::debug!(%error, "could not release the lease; it will lapse"),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;

    use teleport_client::{ClientConfig, CredentialsSource};
    use teleport_testkit::{IdentityRequest, Method, Testkit};

    use super::*;

    const PLUGIN: &str = "notes";
    const HOUR: Duration = Duration::from_secs(3600);

    /// A record counting steps done.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Note {
        steps: usize,
        claim: Option<Lease>,
    }

    struct NoteCodec;

    impl RecordCodec for NoteCodec {
        type Record = Note;

        fn encode(note: &Note) -> PluginDataMap {
            PluginDataMap::from([
                ("steps".to_owned(), note.steps.to_string()),
                (
                    "claim".to_owned(),
                    note.claim.as_ref().map(Lease::encode).unwrap_or_default(),
                ),
            ])
        }

        fn decode(data: &PluginDataMap) -> Note {
            let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("");
            Note {
                steps: get("steps").parse().unwrap_or(0),
                claim: Lease::decode(get("claim")),
            }
        }

        fn empty_record() -> PluginDataMap {
            PluginDataMap::from([
                ("steps".to_owned(), String::new()),
                ("claim".to_owned(), String::new()),
            ])
        }

        fn lease(note: &mut Note) -> &mut Option<Lease> {
            &mut note.claim
        }
    }

    /// A testkit with one pending request and a client of it.
    pub(crate) struct Env {
        pub(crate) kit: Testkit,
        pub(crate) client: TeleportClient,
        pub(crate) request_id: String,
        _dir: tempfile::TempDir,
    }

    impl Env {
        pub(crate) async fn new() -> Self {
            let kit = Testkit::start().await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("identity");
            kit.issue_identity(&IdentityRequest::new("access-plugin"))
                .unwrap()
                .write_identity_file(&path)
                .unwrap();
            let config = ClientConfig::new(
                kit.auth_addr().to_string(),
                CredentialsSource::IdentityFile(path),
            );
            let client = TeleportClient::new(config).unwrap();
            let request = kit.create_request("alice", &["editor"], "why").unwrap();
            let request_id = request.metadata.unwrap().name;
            Self {
                kit,
                client,
                request_id,
                _dir: dir,
            }
        }

        fn records(&self, owner: &str, lease: Duration) -> LeasedRecords<NoteCodec> {
            LeasedRecords::new(self.client.clone(), PLUGIN, owner, lease)
        }

        fn stored(&self) -> HashMap<String, String> {
            self.kit
                .plugin_data(&self.request_id, PLUGIN)
                .unwrap_or_default()
        }

        fn stored_lease(&self) -> Option<Lease> {
            Lease::decode(self.stored().get("claim").map_or("", String::as_str))
        }

        /// Writes the record as another replica or a Go plugin would, without CAS.
        fn put(&self, data: &[(&str, &str)]) {
            self.kit
                .put_plugin_data("access_request", &self.request_id, PLUGIN, data)
                .unwrap();
        }
    }

    /// A fresh record, created and claimed.
    async fn new_claim<'a>(
        records: &'a LeasedRecords<NoteCodec>,
        env: &Env,
    ) -> Claim<'a, NoteCodec> {
        records
            .create(&env.request_id, Note::default())
            .await
            .unwrap()
            .expect("nothing stored yet")
    }

    fn claimed<C: RecordCodec>(acquired: Acquired<'_, C>) -> Claim<'_, C> {
        match acquired {
            Acquired::Claimed(claim) => claim,
            Acquired::Skipped(outcome) => panic!("not claimed: {outcome:?}"),
        }
    }

    fn skipped<C: RecordCodec>(acquired: Acquired<'_, C>) -> Outcome {
        match acquired {
            Acquired::Claimed(_) => panic!("claimed"),
            Acquired::Skipped(outcome) => outcome,
        }
    }

    fn at(time: SystemTime) -> String {
        time.duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string()
    }

    #[test]
    fn lease_text_form_round_trips() {
        let lease = Lease {
            owner: "host-1 abc".into(),
            until: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        assert_eq!(lease.encode(), "host-1 abc 1700000000123");
        assert_eq!(Lease::decode("host-1 abc 1700000000123"), Some(lease));
        assert_eq!(Lease::decode(""), None);
        assert_eq!(Lease::decode("host-1"), None);
        assert_eq!(Lease::decode("host-1 soon"), None);
    }

    #[tokio::test]
    async fn no_work_writes_nothing() {
        let env = Env::new().await;
        let records = env.records("me", HOUR);
        let outcome = skipped(records.claim(&env.request_id, |_| None).await.unwrap());
        assert_eq!(outcome, Outcome::Done);
        assert!(env.kit.plugin_data(&env.request_id, PLUGIN).is_none());
    }

    #[tokio::test]
    async fn claims_saves_with_a_renewed_lease_and_releases() {
        let env = Env::new().await;
        let records = env.records("me", HOUR);
        let before = SystemTime::now();
        let mut claim = claimed(
            records
                .claim(&env.request_id, |stored| {
                    assert_eq!(stored, None);
                    Some(Note::default())
                })
                .await
                .unwrap(),
        );
        let lease = env.stored_lease().expect("a lease is stored");
        assert_eq!(lease.owner, "me");
        assert!(lease.until >= before + HOUR - Duration::from_millis(1));
        assert_eq!(claim.claim.as_ref(), Some(&lease));

        let mut next = claim.record().clone();
        next.steps = 1;
        claim.save(next).await.unwrap();
        assert_eq!(claim.steps, 1);
        assert_eq!(env.stored()["steps"], "1");
        let renewed = env.stored_lease().unwrap();
        assert!(renewed.until >= lease.until, "the lease is renewed on save");

        claim.release().await;
        let stored = env.stored();
        assert_eq!(stored["steps"], "1");
        assert!(
            stored.get("claim").is_none_or(String::is_empty),
            "{stored:?}"
        );
    }

    #[tokio::test]
    async fn a_conflict_is_retried_on_the_new_record() {
        let env = Env::new().await;
        env.put(&[("steps", "1")]);
        let records = env.records("me", HOUR);
        let calls = AtomicUsize::new(0);
        let claim = claimed(
            records
                .claim(&env.request_id, |stored| {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        // Another writer between our read and our write.
                        env.put(&[("steps", "7")]);
                    }
                    stored
                })
                .await
                .unwrap(),
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(claim.steps, 7, "the claim is of the record as rewritten");
        assert_eq!(env.stored()["steps"], "7");
        assert_eq!(env.stored_lease().unwrap().owner, "me");
    }

    #[tokio::test]
    async fn endless_conflicts_back_off() {
        let env = Env::new().await;
        env.put(&[("steps", "0")]);
        let records = env.records("me", HOUR);
        let calls = AtomicUsize::new(0);
        let outcome = skipped(
            records
                .claim(&env.request_id, |stored| {
                    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    env.put(&[("steps", &n.to_string())]);
                    stored
                })
                .await
                .unwrap(),
        );
        assert_eq!(outcome, Outcome::Retry(None));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_CAS_ROUNDS);
        assert!(env.stored_lease().is_none());
    }

    #[tokio::test]
    async fn a_foreign_lease_is_waited_for_capped() {
        let env = Env::new().await;
        let claim = format!("other {}", at(SystemTime::now() + HOUR));
        env.put(&[("steps", "1"), ("claim", &claim)]);
        let records = env.records("me", HOUR);
        let outcome = skipped(records.claim(&env.request_id, |s| s).await.unwrap());
        assert_eq!(outcome, Outcome::Retry(Some(MAX_LEASE_WAIT + AFTER_LAPSE)));
        assert_eq!(env.stored()["claim"], claim, "the lease is left alone");

        // A lease about to lapse is waited for only as long as it has left.
        let soon = format!("other {}", at(SystemTime::now() + Duration::from_secs(1)));
        env.put(&[("steps", "1"), ("claim", &soon)]);
        let Outcome::Retry(Some(wait)) =
            skipped(records.claim(&env.request_id, |s| s).await.unwrap())
        else {
            panic!("not waiting");
        };
        assert!(wait <= Duration::from_secs(1) + AFTER_LAPSE, "{wait:?}");
        assert!(wait >= AFTER_LAPSE, "{wait:?}");
    }

    #[tokio::test]
    async fn a_lapsed_lease_or_our_own_is_taken_over() {
        let env = Env::new().await;
        let lapsed = format!("other {}", at(SystemTime::now() - Duration::from_secs(1)));
        env.put(&[("steps", "3"), ("claim", &lapsed)]);
        let records = env.records("me", HOUR);
        let claim = claimed(records.claim(&env.request_id, |s| s).await.unwrap());
        assert_eq!(claim.steps, 3);
        assert_eq!(env.stored_lease().unwrap().owner, "me");
        drop(claim);

        // This replica's own live lease (a restart under the same ID) does not block it.
        let again = claimed(records.claim(&env.request_id, |s| s).await.unwrap());
        assert_eq!(again.steps, 3);
    }

    #[tokio::test]
    async fn a_lease_written_into_a_go_record_is_seen() {
        let env = Env::new().await;
        // A Go plugin's record has no `claim` key at all.
        env.put(&[("steps", "2")]);
        let records = env.records("me", HOUR);
        let other = format!("other {}", at(SystemTime::now() + HOUR));
        let calls = AtomicUsize::new(0);
        let outcome = skipped(
            records
                .claim(&env.request_id, |stored| {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        // Another replica claims it between our read and our write,
                        // leaving every other key as it was.
                        env.put(&[("steps", "2"), ("claim", &other)]);
                    }
                    stored
                })
                .await
                .unwrap(),
        );
        assert!(matches!(outcome, Outcome::Retry(Some(_))), "{outcome:?}");
        assert_eq!(env.stored()["claim"], other);
    }

    #[tokio::test]
    async fn a_save_after_a_takeover_fails_and_leaves_the_new_lease() {
        let env = Env::new().await;
        let records = env.records("me", HOUR);
        let mut claim = claimed(
            records
                .claim(&env.request_id, |_| Some(Note::default()))
                .await
                .unwrap(),
        );
        // Our lease lapsed (we stalled) and another replica took the request over.
        let other = format!("other {}", at(SystemTime::now() + HOUR));
        env.put(&[("steps", "5"), ("claim", &other)]);

        let mut next = claim.record().clone();
        next.steps = 1;
        let error = claim.save(next).await.unwrap_err();
        assert!(matches!(error, SaveError::LostLease), "{error:?}");
        assert_eq!(claim.steps, 0, "the claim still shows what it last stored");

        claim.release().await;
        assert_eq!(
            env.stored()["claim"],
            other,
            "another's lease is not released"
        );
        assert_eq!(env.stored()["steps"], "5");
    }

    #[tokio::test]
    async fn create_claims_only_when_nothing_is_stored() {
        let env = Env::new().await;
        let records = env.records("me", HOUR);
        let claim = records
            .create(
                &env.request_id,
                Note {
                    steps: 4,
                    claim: None,
                },
            )
            .await
            .unwrap()
            .expect("created");
        assert_eq!(claim.steps, 4);
        assert_eq!(env.stored()["steps"], "4");
        assert_eq!(env.stored_lease().unwrap().owner, "me");
        drop(claim);

        let again = records
            .create(&env.request_id, Note::default())
            .await
            .unwrap();
        assert!(again.is_none(), "a stored record is never overwritten");
        assert_eq!(env.stored()["steps"], "4");
    }

    #[tokio::test]
    async fn staged_changes_cost_no_write_until_the_release_writes_them_at_once() {
        let env = Env::new().await;
        let records = env.records("me", HOUR);
        let mut claim = new_claim(&records, &env).await;
        let writes = || env.kit.call_count(Method::UpdatePluginData);
        let after_claim = writes();

        let mut next = claim.record().clone();
        next.steps = 1;
        claim.stage(next);
        claim.before_effect().await.unwrap();
        assert_eq!(
            writes(),
            after_claim,
            "a staged lookup waits for an outcome"
        );
        let mut next = claim.record().clone();
        next.steps = 2;
        claim.record_effect(next);
        assert_eq!(claim.steps, 2);
        assert_eq!(env.stored()["steps"], "0", "staged, not yet written");

        claim.release().await;
        assert_eq!(writes(), after_claim + 1, "record and release in one write");
        assert_eq!(env.stored()["steps"], "2");
        assert!(env.stored_lease().is_none());
    }

    #[tokio::test]
    async fn an_unrecorded_effect_is_written_before_the_next_one() {
        let env = Env::new().await;
        let records = env.records("me", HOUR);
        let mut claim = new_claim(&records, &env).await;
        let mut next = claim.record().clone();
        next.steps = 1;
        claim.record_effect(next);
        claim.before_effect().await.unwrap();
        assert_eq!(env.stored()["steps"], "1");
        assert_eq!(env.stored_lease().unwrap().owner, "me");

        // Taken over meanwhile: the next side effect must not happen.
        let other = format!("other {}", at(SystemTime::now() + HOUR));
        env.put(&[("steps", "1"), ("claim", &other)]);
        let mut next = claim.record().clone();
        next.steps = 2;
        claim.record_effect(next);
        let error = claim.before_effect().await.unwrap_err();
        assert!(matches!(error, SaveError::LostLease), "{error:?}");
        claim.release().await;
        assert_eq!(env.stored()["claim"], other);
    }

    #[tokio::test]
    async fn a_lease_running_out_is_renewed_before_a_side_effect() {
        let env = Env::new().await;
        let lease = Duration::from_secs(2);
        let records = env.records("me", lease);
        let mut claim = new_claim(&records, &env).await;
        let first = env.stored_lease().unwrap();
        let writes = env.kit.call_count(Method::UpdatePluginData);
        claim.before_effect().await.unwrap();
        assert_eq!(
            env.kit.call_count(Method::UpdatePluginData),
            writes,
            "plenty left"
        );

        tokio::time::sleep(lease / 2 + Duration::from_millis(100)).await;
        claim.before_effect().await.unwrap();
        let renewed = env.stored_lease().unwrap();
        assert!(renewed.until > first.until, "{renewed:?} vs {first:?}");
    }

    #[test]
    fn blind_creates_are_only_probed_after_a_run_of_misses() {
        let blind = BlindCreates::default();
        for _ in 0..BLIND_MISSES_TOLERATED {
            assert!(blind.worth_trying());
            blind.record(false);
        }
        let tried = (0..BLIND_PROBE_EVERY * 2)
            .filter(|_| blind.worth_trying())
            .count();
        assert_eq!(tried, 2, "one probe in {BLIND_PROBE_EVERY}");
        blind.record(true);
        assert!(
            blind.worth_trying() && blind.worth_trying(),
            "back on after a hit"
        );
    }

    #[test]
    fn only_fresh_pending_requests_without_reviews_look_new() {
        use teleport_client::AccessReview;
        use time::OffsetDateTime;

        let now = SystemTime::now();
        let created = |ago: Duration| Some(OffsetDateTime::from(now - ago));
        let mut request = AccessRequest {
            id: "id".into(),
            user: "alice".into(),
            roles: vec!["editor".into()],
            state: RequestState::Pending,
            ..Default::default()
        };
        request.created = created(Duration::from_secs(1));
        assert!(likely_new(&request, now));

        request.created = created(LIKELY_NEW_FOR + Duration::from_secs(1));
        assert!(!likely_new(&request, now), "old: probably known already");
        request.created = None;
        assert!(!likely_new(&request, now));

        request.created = created(Duration::from_secs(1));
        request.reviews.push(AccessReview {
            author: "bob".into(),
            proposed_state: RequestState::Approved,
            reason: String::new(),
            created: None,
        });
        assert!(!likely_new(&request, now), "reviewed: seen before");
        request.reviews.clear();
        request.state = RequestState::Approved;
        assert!(!likely_new(&request, now));
    }

    #[tokio::test]
    async fn a_failed_step_released_lets_another_replica_in_at_once() {
        let env = Env::new().await;
        let first = env.records("first", HOUR);
        let mut claim = claimed(
            first
                .claim(&env.request_id, |_| Some(Note::default()))
                .await
                .unwrap(),
        );
        let mut next = claim.record().clone();
        next.steps = 1;
        claim.save(next).await.unwrap();
        // The next side effect fails: the step ends in Retry and releases.
        claim.release().await;

        let second = env.records("second", HOUR);
        let claim = claimed(second.claim(&env.request_id, |s| s).await.unwrap());
        assert_eq!(claim.steps, 1, "the saved progress is kept");
        assert_eq!(env.stored_lease().unwrap().owner, "second");
    }
}
