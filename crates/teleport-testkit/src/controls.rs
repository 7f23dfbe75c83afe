//! Test controls on a running testkit: act on requests as an admin or reviewer, inject
//! failures, count calls, and wait for state changes without sleeping.

use std::collections::HashMap;
use std::time::Duration;

use teleport_client::wire::proto::RequestStateSetter;
use teleport_client::wire::types::{AccessRequestV3, AccessReview, RequestState};
use tonic::{Code, Status};

use crate::error::{Error, Result};
use crate::method::{Method, Rejection};
use crate::state::{Caller, KIND_ACCESS_REQUEST, Resolution, StateView};
use crate::testkit::Testkit;
use crate::watch::Delivery;

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Propose APPROVED.
    Approve,
    /// Propose DENIED.
    Deny,
}

impl Verdict {
    fn state(self) -> RequestState {
        match self {
            Verdict::Approve => RequestState::Approved,
            Verdict::Deny => RequestState::Denied,
        }
    }
}

impl Testkit {
    /// One request by id, in wire form.
    pub fn get_request(&self, id: &str) -> Option<AccessRequestV3> {
        self.shared.read(|state| StateView { state }.request(id))
    }

    /// All requests, sorted by id, in wire form.
    pub fn requests(&self) -> Vec<AccessRequestV3> {
        self.shared.read(|state| StateView { state }.requests())
    }

    /// Submits a review by `author` as a person in the web UI would: every SubmitAccessReview
    /// rule applies (own request, duplicate, resolved, thresholds) except the reviewer-role
    /// check. Emits a PUT and returns the updated request.
    pub fn review(
        &self,
        id: &str,
        author: &str,
        verdict: Verdict,
        reason: &str,
    ) -> Result<AccessRequestV3> {
        let review = AccessReview {
            author: author.to_owned(),
            proposed_state: verdict.state() as i32,
            reason: reason.to_owned(),
            ..Default::default()
        };
        Ok(self
            .shared
            .mutate(|state| state.submit_review(id, review, Caller::Admin))?)
    }

    /// Sets APPROVED as the cluster admin (SetAccessRequestState semantics, no delegator).
    pub fn approve(&self, id: &str, reason: &str) -> Result<AccessRequestV3> {
        self.resolve(id, RequestState::Approved, reason)
    }

    /// Sets DENIED as the cluster admin.
    pub fn deny(&self, id: &str, reason: &str) -> Result<AccessRequestV3> {
        self.resolve(id, RequestState::Denied, reason)
    }

    fn resolve(&self, id: &str, state: RequestState, reason: &str) -> Result<AccessRequestV3> {
        let setter = RequestStateSetter {
            id: id.to_owned(),
            state: state as i32,
            reason: reason.to_owned(),
            ..Default::default()
        };
        self.shared
            .mutate(|st| st.set_request_state(setter, Caller::Admin))?;
        self.get_request(id)
            .ok_or_else(|| Error::Status(Status::not_found(id.to_owned())))
    }

    /// Marks a pending request PROMOTED to an access list, as Teleport does when an
    /// access-list owner promotes it (emitting PUT).
    pub fn promote(&self, id: &str, access_list: &str) -> Result<AccessRequestV3> {
        self.shared
            .mutate(|state| {
                state.update_request(id, |request| {
                    let spec = crate::state::spec_mut(request);
                    spec.state = RequestState::Promoted as i32;
                    spec.access_list = Some(teleport_client::wire::types::PromotedAccessList {
                        name: access_list.to_owned(),
                        title: access_list.to_owned(),
                    });
                })
            })
            .ok_or_else(|| Error::Status(Status::not_found(id.to_owned())))
    }

    /// Removes a request as its TTL would, emitting DELETE. Plugin data is kept.
    pub fn expire(&self, id: &str) -> Result<()> {
        Ok(self.shared.mutate(|state| state.delete_request(id))?)
    }

    /// One plugin's data for an access request.
    pub fn plugin_data(&self, request_id: &str, plugin: &str) -> Option<HashMap<String, String>> {
        self.shared.read(|state| {
            StateView { state }
                .plugin_data(request_id, plugin)
                .map(to_hash_map)
        })
    }

    /// Seeds one plugin's entry (replacing it) without CAS, e.g. data a Go plugin left behind.
    /// For `access_request` the request must exist, as with UpdatePluginData.
    pub fn put_plugin_data(
        &self,
        kind: &str,
        resource: &str,
        plugin: &str,
        data: &[(&str, &str)],
    ) -> Result<()> {
        let data = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Ok(self
            .shared
            .mutate(|state| state.put_plugin_data(kind, resource, plugin, data))?)
    }

    /// Makes the next `times` calls of `method` (every call when `None`) fail with `code`,
    /// replacing any earlier rule for it. The calls still count in [`call_count`](Self::call_count).
    pub fn reject(&self, method: Method, code: Code, times: Option<usize>) {
        self.shared.mutate(|state| {
            state.rejections.insert(
                method,
                Rejection {
                    code,
                    remaining: times,
                },
            )
        });
    }

    /// Removes every injected failure.
    pub fn clear_rejections(&self) {
        self.shared.mutate(|state| state.rejections.clear());
    }

    /// Calls received for `method`, rejected ones included.
    pub fn call_count(&self, method: Method) -> usize {
        self.shared
            .read(|state| StateView { state }.call_count(method))
    }

    /// Open watch streams.
    pub fn watcher_count(&self) -> usize {
        self.shared.read(|state| state.watchers.len())
    }

    /// Ends every watch stream with UNAVAILABLE (the client should reconnect).
    pub fn drop_watchers(&self) {
        self.shared.mutate(|state| {
            state
                .watchers
                .close_all(Some(Status::unavailable("watchers dropped by the testkit")))
        });
    }

    /// Ends every watch stream cleanly (EOF with OK status).
    pub fn end_watchers(&self) {
        self.shared.mutate(|state| state.watchers.close_all(None));
    }

    /// Every state change made through SetAccessRequestState / approve / deny, oldest first.
    pub fn resolutions(&self) -> Vec<Resolution> {
        self.shared
            .read(|state| StateView { state }.resolutions().to_vec())
    }

    /// Calls `hook` each time a watch stream yields a PUT event to its transport. Meant for
    /// latency measurement; keep the hook cheap (it runs on the server's stream task).
    pub fn on_put_delivered(&self, hook: impl Fn(&Delivery) + Send + Sync + 'static) {
        self.shared
            .set_delivery_hook(Some(std::sync::Arc::new(hook)));
    }

    /// Removes the delivery hook.
    pub fn clear_put_hook(&self) {
        self.shared.set_delivery_hook(None);
    }

    /// Waits until `ready` holds, re-checking after every state change (no polling interval).
    /// `what` names the condition in the timeout error.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&StateView<'_>) -> bool,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.shared.subscribe();
        loop {
            changes.mark_unchanged();
            if self.shared.read(|state| ready(&StateView { state })) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(Error::Timeout(timeout, what.to_owned())),
            }
        }
    }

    /// Waits until exactly `count` watch streams are open.
    pub async fn wait_for_watchers(&self, count: usize, timeout: Duration) -> Result<()> {
        self.wait_for(&format!("{count} watch streams"), timeout, |s| {
            s.watcher_count() == count
        })
        .await
    }

    /// Waits until `plugin`'s data for request `id` has `key`, and returns the entry.
    pub async fn wait_for_plugin_data(
        &self,
        id: &str,
        plugin: &str,
        key: &str,
        timeout: Duration,
    ) -> Result<HashMap<String, String>> {
        let what = format!("plugin data {plugin}/{key} on request {id}");
        let mut found = None;
        self.wait_for(&what, timeout, |s| {
            found = s
                .plugin_data_of(KIND_ACCESS_REQUEST, id, plugin)
                .filter(|d| d.contains_key(key))
                .map(to_hash_map);
            found.is_some()
        })
        .await?;
        found.ok_or(Error::Timeout(timeout, what))
    }

    /// Waits until request `id` exists and satisfies `ready`, and returns it.
    pub async fn wait_for_request(
        &self,
        id: &str,
        timeout: Duration,
        mut ready: impl FnMut(&AccessRequestV3) -> bool,
    ) -> Result<AccessRequestV3> {
        let what = format!("request {id} to reach the expected state");
        let mut found = None;
        self.wait_for(&what, timeout, |s| {
            found = s.request(id).filter(|r| ready(r));
            found.is_some()
        })
        .await?;
        found.ok_or(Error::Timeout(timeout, what))
    }
}

/// Plugin data as the public API has always given it.
fn to_hash_map(data: &std::collections::BTreeMap<String, String>) -> HashMap<String, String> {
    data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
