//! The on-call auto-approval as the incident flow asks a plugin for it: the plugin's lookup
//! ([`OnCallLookup`], implemented by its API client in its `approval.rs`), its validated
//! `[<plugin>.auto_approval]` and the annotation naming the targets — together an
//! [`OnCall`], which a service names once so the flow needs nothing else from it.

use std::future::Future;

use teleport_client::AccessRequest;

use crate::approval::{Decision, annotation_values};
use crate::config::AutoApproval;
use crate::service_error::ServiceError;

/// A plugin's on-call lookup (its API client): whether a requester is on call for the
/// request's targets, within the plugin's limits.
pub trait OnCallLookup: Send + Sync + 'static {
    /// The plugin's own limits under `[<plugin>.auto_approval]`.
    type Limits: Send + Sync + 'static;
    /// A failed lookup, returned as it is: the driver retries one that may pass and
    /// declines (logged) on one that cannot.
    type Error: Into<ServiceError>;

    /// Whether the requester is on call for `targets` under `auto_approval`.
    fn decide(
        &self,
        auto_approval: &AutoApproval<Self::Limits>,
        request: &AccessRequest,
        targets: &[String],
    ) -> impl Future<Output = Result<Decision, Self::Error>> + Send;
}

/// A service's on-call auto-approval: its lookup, its validated section, and the annotation
/// naming the targets (schedules, services, rotas, teams) whose on-call people are approved.
pub struct OnCall<'a, K: OnCallLookup> {
    /// The plugin's lookup.
    pub lookup: &'a K,
    /// `[<plugin>.auto_approval]`, validated.
    pub auto_approval: &'a AutoApproval<K::Limits>,
    /// The annotation naming the targets.
    pub annotation: &'a str,
}

impl<L> AutoApproval<L> {
    /// This section's auto-approval through `lookup`, its targets named by `annotation`.
    pub fn on_call<'a, K: OnCallLookup<Limits = L>>(
        &'a self,
        lookup: &'a K,
        annotation: &'a str,
    ) -> OnCall<'a, K> {
        OnCall {
            lookup,
            auto_approval: self,
            annotation,
        }
    }
}

impl<K: OnCallLookup> OnCall<'_, K> {
    /// The targets of the request's annotation when auto-approval is enabled and the
    /// request names any.
    pub fn targets(&self, request: &AccessRequest) -> Option<Vec<String>> {
        if !self.auto_approval.enabled {
            return None;
        }
        let targets = annotation_values(request, self.annotation);
        (!targets.is_empty()).then_some(targets)
    }

    /// The lookup's decision for `targets`, a failure classified as a [`ServiceError`].
    pub async fn decide(
        &self,
        request: &AccessRequest,
        targets: &[String],
    ) -> Result<Decision, ServiceError> {
        self.lookup
            .decide(self.auto_approval, request, targets)
            .await
            .map_err(Into::into)
    }
}
