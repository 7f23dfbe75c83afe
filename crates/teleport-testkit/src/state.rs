//! The in-memory cluster: access requests, plugin data, users and roles, plus test bookkeeping.

use std::collections::{BTreeMap, HashMap};

use teleport_client::wire::types::{
    AccessRequestSpecV3, AccessRequestV3, Metadata, PluginDataV3, RequestState, RoleV6, ServerV2,
    UserGroupV1, UserV2,
};

use crate::method::{Method, Rejection};
use crate::timestamps;
use crate::watch::Watchers;

/// Teleport's namespace for every resource here.
pub(crate) const NAMESPACE: &str = "default";
/// Resource kind of access requests (also the WatchKind and plugin-data sub-kind).
pub const KIND_ACCESS_REQUEST: &str = "access_request";
/// Resource kind of access lists (plugin data, and the lists `governance.rs` serves).
pub const KIND_ACCESS_LIST: &str = "access_list";

/// Who is calling: a certificate's user, or the test itself acting as cluster admin.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller<'a> {
    User(&'a str),
    Admin,
}

impl Caller<'_> {
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Caller::User(name) => Some(name),
            Caller::Admin => None,
        }
    }
}

/// A `SetAccessRequestState` call (or test approval) as the server recorded it. Teleport
/// keeps the delegator only in its audit log, so this is where tests can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The request id.
    pub request_id: String,
    /// The state that was set.
    pub state: RequestState,
    /// `Delegator` from the call (e.g. `jira:alice@example.com`), empty if none.
    pub delegator: String,
    /// `Reason` from the call.
    pub reason: String,
    /// The calling user, `None` for the test's own `approve`/`deny`.
    pub caller: Option<String>,
}

pub(crate) struct State {
    pub(crate) requests: BTreeMap<String, AccessRequestV3>,
    /// Keyed by (target kind, resource name).
    pub(crate) plugin_data: BTreeMap<(String, String), PluginDataV3>,
    pub(crate) users: BTreeMap<String, UserV2>,
    pub(crate) roles: BTreeMap<String, RoleV6>,
    /// Nodes requests can name, keyed by name (`resources.rs`).
    pub(crate) nodes: BTreeMap<String, ServerV2>,
    pub(crate) user_groups: BTreeMap<String, UserGroupV1>,
    /// At most this many resources a `ListResources` page.
    pub(crate) resource_page_cap: Option<usize>,
    pub(crate) resolutions: Vec<Resolution>,
    pub(crate) watchers: Watchers,
    pub(crate) calls: HashMap<Method, usize>,
    pub(crate) rejections: HashMap<Method, Rejection>,
    /// Write unset non-nullable timestamps as year 1, as Go does.
    pub(crate) go_zero_timestamps: bool,
    /// Access monitoring rules and access lists.
    pub(crate) governance: crate::governance::Governance,
}

impl State {
    pub(crate) fn new(watch_buffer: usize, go_zero_timestamps: bool) -> Self {
        State {
            requests: BTreeMap::new(),
            plugin_data: BTreeMap::new(),
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
            nodes: BTreeMap::new(),
            user_groups: BTreeMap::new(),
            resource_page_cap: None,
            resolutions: Vec::new(),
            watchers: Watchers::new(watch_buffer),
            calls: HashMap::new(),
            rejections: HashMap::new(),
            go_zero_timestamps,
            governance: Default::default(),
        }
    }

    /// A stored request as it goes on the wire.
    pub(crate) fn outgoing(&self, request: &AccessRequestV3) -> AccessRequestV3 {
        let mut out = request.clone();
        if self.go_zero_timestamps {
            let spec = out.spec.get_or_insert_with(Default::default);
            for ts in [
                &mut spec.created,
                &mut spec.expires,
                &mut spec.max_duration,
                &mut spec.session_ttl,
            ] {
                timestamps::fill_go_zero(ts);
            }
            for review in &mut spec.reviews {
                timestamps::fill_go_zero(&mut review.created);
            }
        }
        out
    }

    /// A stored user as it goes on the wire.
    pub(crate) fn outgoing_user(&self, user: &UserV2) -> UserV2 {
        let mut out = user.clone();
        if self.go_zero_timestamps {
            let spec = out.spec.get_or_insert_with(Default::default);
            timestamps::fill_go_zero(&mut spec.expires);
        }
        out
    }

    /// Applies a change to a stored request, bumps its revision and emits a PUT.
    pub(crate) fn update_request(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut AccessRequestV3),
    ) -> Option<AccessRequestV3> {
        let stored = self.requests.get_mut(id)?;
        change(stored);
        metadata_mut(stored).revision = new_revision();
        let stored = stored.clone();
        self.emit_put(&stored);
        Some(self.outgoing(&stored))
    }

    pub(crate) fn emit_put(&mut self, request: &AccessRequestV3) {
        let outgoing = self.outgoing(request);
        self.watchers.emit_put(&outgoing);
    }
}

pub(crate) fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn metadata_mut(request: &mut AccessRequestV3) -> &mut Metadata {
    request.metadata.get_or_insert_with(Default::default)
}

pub(crate) fn spec_mut(request: &mut AccessRequestV3) -> &mut AccessRequestSpecV3 {
    request.spec.get_or_insert_with(Default::default)
}

/// The spec of a request, or an empty one (stored requests always have both).
pub(crate) fn spec(request: &AccessRequestV3) -> &AccessRequestSpecV3 {
    static EMPTY: std::sync::OnceLock<AccessRequestSpecV3> = std::sync::OnceLock::new();
    request
        .spec
        .as_ref()
        .unwrap_or_else(|| EMPTY.get_or_init(Default::default))
}

pub(crate) fn request_id(request: &AccessRequestV3) -> &str {
    request.metadata.as_ref().map_or("", |m| m.name.as_str())
}

pub(crate) fn request_state(request: &AccessRequestV3) -> RequestState {
    RequestState::try_from(spec(request).state).unwrap_or(RequestState::None)
}

/// Read-only access to the cluster state for [`crate::Testkit::wait_for`] predicates.
/// Requests come back in their wire form (see `TestkitBuilder::go_zero_timestamps`).
pub struct StateView<'a> {
    pub(crate) state: &'a State,
}

impl StateView<'_> {
    /// One access request by id.
    pub fn request(&self, id: &str) -> Option<AccessRequestV3> {
        self.state.requests.get(id).map(|r| self.state.outgoing(r))
    }

    /// All access requests, sorted by id.
    pub fn requests(&self) -> Vec<AccessRequestV3> {
        self.state
            .requests
            .values()
            .map(|r| self.state.outgoing(r))
            .collect()
    }

    /// One plugin's data entry for an access request, if present.
    pub fn plugin_data(&self, request_id: &str, plugin: &str) -> Option<&BTreeMap<String, String>> {
        self.plugin_data_of(KIND_ACCESS_REQUEST, request_id, plugin)
    }

    /// One plugin's data entry for a resource of `kind` (`access_request` or `access_list`).
    pub fn plugin_data_of(
        &self,
        kind: &str,
        resource: &str,
        plugin: &str,
    ) -> Option<&BTreeMap<String, String>> {
        let data = self
            .state
            .plugin_data
            .get(&(kind.to_owned(), resource.to_owned()))?;
        data.spec.as_ref()?.entries.get(plugin).map(|e| &e.data)
    }

    /// Open watch streams.
    pub fn watcher_count(&self) -> usize {
        self.state.watchers.len()
    }

    /// Calls received for `method` (rejected ones included).
    pub fn call_count(&self, method: Method) -> usize {
        self.state.calls.get(&method).copied().unwrap_or(0)
    }

    /// Every `SetAccessRequestState`/`approve`/`deny` so far, oldest first.
    pub fn resolutions(&self) -> &[Resolution] {
        &self.state.resolutions
    }
}
