//! What an incident plugin implements: its record's progress ([`IncidentProgress`]) and its
//! service ([`IncidentService`]), whose on-call auto-approval is an [`OnCall`]; the order of
//! the work is [`super::IncidentHandler`]'s.

use std::future::Future;

use teleport_client::{AccessRequest, AccessReview};

use super::on_call::{OnCall, OnCallLookup};
use crate::approval::ApprovalOutcome;
use crate::health::HealthCheck;
use crate::record::{Claim, Effects, RecordCodec, Resolution, StepError};
use crate::service_error::ServiceError;

/// The parts of a plugin's record the shared flow reads and advances; every other key is
/// the plugin's own.
pub trait IncidentProgress: Clone + Send + Sync + 'static {
    /// A fresh record for a request seen pending.
    fn start(request: &AccessRequest) -> Self;
    /// The incident (alert) notes go to, once it exists.
    fn incident_id(&self) -> Option<&str>;
    /// How many of the request's reviews have been noted.
    fn reviews_count(&self) -> usize;
    /// One more review noted.
    fn count_review(&mut self);
    /// The on-call decision, once taken (a Go record's counts as taken).
    fn auto_approval(&self) -> Option<ApprovalOutcome>;
    /// Records the on-call decision.
    fn set_auto_approval(&mut self, outcome: ApprovalOutcome);
    /// How the request ended, once recorded.
    fn resolution(&self) -> Option<Resolution>;
    /// Records how the request ended, and what closing the incident involves: recorded
    /// before any side effect that shows it, so a later observation cannot change it.
    fn record_resolution(&mut self, resolution: Resolution, resolve_reason: String);
    /// Nothing is left to close (meaningful once the resolution is recorded).
    fn closed(&self) -> bool;
}

/// One incident integration: every method is the plugin's own API call or choice; retries,
/// leases and the order of the work are the runtime's.
pub trait IncidentService: HealthCheck + Send + Sync + 'static {
    /// How the record is stored.
    type Codec: RecordCodec<Record: IncidentProgress>;
    /// The plugin's on-call lookup (its API client).
    type Lookup: OnCallLookup;

    /// The metric label of a review note (`note`, `work_note`, `review`).
    const REVIEW_KIND: &'static str;
    /// A review note in log lines (`review note`, `timeline cell`).
    const REVIEW_NOTE: &'static str;

    /// Whether the request is the plugin's at all; one that is not is done without a read.
    fn concerns(&self, _request: &AccessRequest) -> bool {
        true
    }

    /// Whether an incident is still to be opened for the pending request.
    fn wants_incident(
        &self,
        request: &AccessRequest,
        record: &<Self::Codec as RecordCodec>::Record,
    ) -> bool;

    /// Opens the request's incident (or learns the one an earlier create opened), recording
    /// what it did in `claim`; a permanent refusal is logged and recorded, not returned.
    fn open(
        &self,
        request: &AccessRequest,
        claim: &mut Claim<'_, Self::Codec>,
        effects: &Effects,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Posts one review on the incident.
    fn post_review(
        &self,
        incident_id: &str,
        review: &AccessReview,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// The on-call auto-approval, named once: the validated `[<plugin>.auto_approval]`
    /// through the plugin's lookup, with the annotation naming the targets
    /// ([`AutoApproval::on_call`](crate::config::AutoApproval::on_call)).
    fn on_call(&self) -> OnCall<'_, Self::Lookup>;

    /// Closes the incident with the recorded `resolution` and records that nothing is left
    /// (called only while the record says it is not closed yet).
    fn close(
        &self,
        request_id: &str,
        resolution: Resolution,
        claim: &mut Claim<'_, Self::Codec>,
        effects: &Effects,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Called when a request's work is done (nothing is retried for it any more).
    fn finished(&self, _request_id: &str) {}
}
