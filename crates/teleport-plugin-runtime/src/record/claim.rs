//! A claimed record: the lease held by this replica, progress saved or staged, and the
//! release that writes what is staged and gives the lease up in one write.

use std::ops::Deref;
use std::time::SystemTime;

use teleport_client::ClientError;

use super::lease::Lease;
use super::{LeasedRecords, RecordCodec, SaveError};

/// Tries of a release that carries an unrecorded side effect, and the pause between them
/// (growing linearly).
const RELEASE_ATTEMPTS: u32 = 3;
const RELEASE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

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
    /// The lease the record carried when this replica claimed it (see
    /// [`taken_over`](Claim::taken_over)).
    taken_over: Option<Lease>,
}

impl<C: RecordCodec> Deref for Claim<'_, C> {
    type Target = C::Record;

    fn deref(&self) -> &C::Record {
        &self.record
    }
}

impl<'a, C: RecordCodec> Claim<'a, C> {
    pub(super) fn new(records: &'a LeasedRecords<C>, request_id: &str, stored: C::Record) -> Self {
        Self {
            records,
            request_id: request_id.to_owned(),
            record: stored.clone(),
            stored,
            unrecorded_effect: false,
            lost: false,
            taken_over: None,
        }
    }

    pub(super) fn taking_over(mut self, lease: Option<Lease>) -> Self {
        self.taken_over = lease;
        self
    }

    /// The lease the stored record still carried when this replica claimed it: its holder
    /// (another replica, or this one before a restart or a failed release) stopped without
    /// releasing it — a release always clears it — so the side effect it did last may be
    /// unrecorded. `None` on the normal path (a new record, or one released).
    pub fn taken_over(&self) -> Option<&Lease> {
        self.taken_over.as_ref()
    }

    /// How long this plugin's leases last.
    pub fn lease_length(&self) -> std::time::Duration {
        self.records.lease
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

    /// [`record_effect`](Self::record_effect) of the record as `change` leaves it: the one
    /// shape of "the service gave us an ID (or a step is done), write it down before the
    /// next send".
    pub fn record_effect_with(&mut self, change: impl FnOnce(&mut C::Record)) {
        let mut next = self.record.clone();
        change(&mut next);
        self.record_effect(next);
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
