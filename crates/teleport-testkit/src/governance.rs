//! Access monitoring rules and access lists: the two services (filtered, paged listings and
//! owners), their watch events, and the test controls that add and remove them while
//! plugins run, or make the services behave like an older cluster or a role without rights.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use teleport_client::wire::teleport::accesslist::v1::access_list_service_server::AccessListService;
use teleport_client::wire::teleport::accesslist::v1::{
    AccessList, AccessListAudit, AccessListOwner, AccessListSpec, GetAccessListOwnersRequest,
    GetAccessListOwnersResponse, ListAccessListsRequest, ListAccessListsResponse, Notifications,
};
use teleport_client::wire::teleport::accessmonitoringrules::v1::access_monitoring_rules_service_server::AccessMonitoringRulesService;
use teleport_client::wire::teleport::accessmonitoringrules::v1::{
    AccessMonitoringRule, AccessMonitoringRuleSpec, ListAccessMonitoringRulesWithFilterRequest,
    ListAccessMonitoringRulesWithFilterResponse, Notification,
};
use teleport_client::wire::teleport::header::v1::{Metadata, ResourceHeader};
use tonic::{Request, Response, Status};

use crate::method::Method;
use crate::service::AuthApi;
use crate::state::{KIND_ACCESS_LIST, KIND_ACCESS_REQUEST};
use crate::testkit::Testkit;

/// Resource kind of access monitoring rules (watch kind and delete-event header kind).
pub const KIND_ACCESS_MONITORING_RULE: &str = "access_monitoring_rule";
/// Page size when a listing asks for 0, and the largest served.
const DEFAULT_PAGE: usize = 200;
const MAX_PAGE: usize = 1000;

/// How a service answers the plugin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Availability {
    /// Normally.
    #[default]
    Served,
    /// UNIMPLEMENTED, and its watch kind is unknown: a cluster older than the feature.
    Unimplemented,
    /// PERMISSION_DENIED, and its watch kind is dropped under partial success: a role
    /// without `access_monitoring_rule: [list, read]` / `access_list: [list, read]`.
    PermissionDenied,
}

impl Availability {
    fn check(self, what: &str) -> Result<(), Status> {
        match self {
            Availability::Served => Ok(()),
            Availability::Unimplemented => Err(Status::unimplemented(format!(
                "unknown service for {what} (this Teleport is too old)"
            ))),
            Availability::PermissionDenied => Err(Status::permission_denied(format!(
                "access denied to perform action \"list\" on \"{what}\""
            ))),
        }
    }
}

/// The rules and lists the testkit holds.
#[derive(Debug, Default)]
pub(crate) struct Governance {
    pub(crate) rules: Availability,
    pub(crate) lists: Availability,
    pub(crate) stored_rules: BTreeMap<String, AccessMonitoringRule>,
    pub(crate) stored_lists: BTreeMap<String, AccessList>,
    /// Owners as `GetAccessListOwners` answers them (nested owners), where set.
    pub(crate) owners: BTreeMap<String, Vec<AccessListOwner>>,
}

/// A rule notifying `plugin`'s `recipients` when `condition` holds for an access request.
pub fn access_monitoring_rule(
    name: &str,
    plugin: &str,
    condition: &str,
    recipients: &[&str],
) -> AccessMonitoringRule {
    AccessMonitoringRule {
        metadata: Some(Metadata {
            name: name.to_owned(),
            ..Default::default()
        }),
        kind: KIND_ACCESS_MONITORING_RULE.to_owned(),
        version: "v1".to_owned(),
        spec: Some(AccessMonitoringRuleSpec {
            subjects: vec![KIND_ACCESS_REQUEST.to_owned()],
            condition: condition.to_owned(),
            notification: Some(Notification {
                name: plugin.to_owned(),
                recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An access list owned by `owners`, due for review at `next_audit`, with reminders
/// starting `notify_before` it.
pub fn access_list(
    name: &str,
    title: &str,
    owners: &[&str],
    next_audit: SystemTime,
    notify_before: Duration,
) -> AccessList {
    AccessList {
        header: Some(ResourceHeader {
            kind: KIND_ACCESS_LIST.to_owned(),
            version: "v1".to_owned(),
            metadata: Some(Metadata {
                name: name.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        spec: Some(AccessListSpec {
            title: title.to_owned(),
            owners: owners
                .iter()
                .map(|o| AccessListOwner {
                    name: (*o).to_owned(),
                    ..Default::default()
                })
                .collect(),
            audit: Some(AccessListAudit {
                next_audit_date: Some(next_audit.into()),
                notifications: Some(Notifications {
                    start: prost_types::Duration::try_from(notify_before).ok(),
                }),
            }),
            ..Default::default()
        }),
    }
}

fn rule_name(rule: &AccessMonitoringRule) -> String {
    rule.metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

fn list_name(list: &AccessList) -> String {
    list.header
        .as_ref()
        .and_then(|h| h.metadata.as_ref())
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// One page of `items` (sorted by name) starting at the name `token`.
fn page<T: Clone>(
    items: &BTreeMap<String, T>,
    token: &str,
    size: usize,
    keep: impl Fn(&T) -> bool,
) -> (Vec<T>, String) {
    let size = if size == 0 {
        DEFAULT_PAGE
    } else {
        size.min(MAX_PAGE)
    };
    let mut matching = items.range(token.to_owned()..).filter(|(_, v)| keep(v));
    let found: Vec<T> = matching
        .by_ref()
        .take(size)
        .map(|(_, v)| v.clone())
        .collect();
    let next = matching.next().map(|(k, _)| k.clone()).unwrap_or_default();
    (found, next)
}

#[tonic::async_trait]
impl AccessMonitoringRulesService for AuthApi {
    async fn list_access_monitoring_rules_with_filter(
        &self,
        request: Request<ListAccessMonitoringRulesWithFilterRequest>,
    ) -> Result<Response<ListAccessMonitoringRulesWithFilterResponse>, Status> {
        self.begin(Method::ListAccessMonitoringRules, &request)?;
        let filter = request.into_inner();
        let size = usize::try_from(filter.page_size)
            .map_err(|_| Status::invalid_argument("negative page size"))?;
        let (rules, next_page_token) = self.shared.read(|state| {
            let governance = &state.governance;
            governance.rules.check(KIND_ACCESS_MONITORING_RULE)?;
            Ok::<_, Status>(page(
                &governance.stored_rules,
                &filter.page_token,
                size,
                |rule| {
                    let spec = rule.spec.clone().unwrap_or_default();
                    let subject = filter.subjects.is_empty()
                        || spec.subjects.iter().any(|s| filter.subjects.contains(s));
                    let notification = filter.notification_name.is_empty()
                        || spec
                            .notification
                            .is_some_and(|n| n.name == filter.notification_name);
                    subject && notification
                },
            ))
        })?;
        Ok(Response::new(ListAccessMonitoringRulesWithFilterResponse {
            rules,
            next_page_token,
        }))
    }
}

#[tonic::async_trait]
impl AccessListService for AuthApi {
    async fn list_access_lists(
        &self,
        request: Request<ListAccessListsRequest>,
    ) -> Result<Response<ListAccessListsResponse>, Status> {
        self.begin(Method::ListAccessLists, &request)?;
        let list = request.into_inner();
        let size = usize::try_from(list.page_size)
            .map_err(|_| Status::invalid_argument("negative page size"))?;
        let (access_lists, next_token) = self.shared.read(|state| {
            state.governance.lists.check(KIND_ACCESS_LIST)?;
            Ok::<_, Status>(page(
                &state.governance.stored_lists,
                &list.next_token,
                size,
                |_| true,
            ))
        })?;
        Ok(Response::new(ListAccessListsResponse {
            access_lists,
            next_token,
        }))
    }

    async fn get_access_list_owners(
        &self,
        request: Request<GetAccessListOwnersRequest>,
    ) -> Result<Response<GetAccessListOwnersResponse>, Status> {
        self.begin(Method::GetAccessListOwners, &request)?;
        let name = request.into_inner().access_list;
        let owners = self.shared.read(|state| {
            let governance = &state.governance;
            governance.lists.check(KIND_ACCESS_LIST)?;
            let list = governance
                .stored_lists
                .get(&name)
                .ok_or_else(|| Status::not_found(format!("access_list {name:?} is not found")))?;
            Ok::<_, Status>(governance.owners.get(&name).cloned().unwrap_or_else(|| {
                list.spec
                    .as_ref()
                    .map(|s| s.owners.clone())
                    .unwrap_or_default()
            }))
        })?;
        Ok(Response::new(GetAccessListOwnersResponse { owners }))
    }
}

impl Testkit {
    /// Creates or replaces a rule (by name) and emits a PUT to rule watchers.
    pub fn upsert_access_monitoring_rule(&self, rule: AccessMonitoringRule) {
        self.shared.mutate(|state| {
            state.watchers.emit_rule_put(&rule);
            state.governance.stored_rules.insert(rule_name(&rule), rule);
        });
    }

    /// Deletes a rule and emits a DELETE; false when there was none.
    pub fn delete_access_monitoring_rule(&self, name: &str) -> bool {
        self.shared.mutate(|state| {
            let existed = state.governance.stored_rules.remove(name).is_some();
            if existed {
                state.watchers.emit_rule_delete(name);
            }
            existed
        })
    }

    /// Creates or replaces an access list (by name).
    pub fn upsert_access_list(&self, list: AccessList) {
        self.shared.mutate(|state| {
            state.governance.stored_lists.insert(list_name(&list), list);
        });
    }

    /// Deletes an access list; false when there was none.
    pub fn delete_access_list(&self, name: &str) -> bool {
        self.shared.mutate(|state| {
            state.governance.owners.remove(name);
            state.governance.stored_lists.remove(name).is_some()
        })
    }

    /// Makes `GetAccessListOwners` answer `owners` for list `name` (nested owners) instead
    /// of the owners named in the list.
    pub fn set_access_list_owners(&self, name: &str, owners: &[&str]) {
        let owners = owners
            .iter()
            .map(|o| AccessListOwner {
                name: (*o).to_owned(),
                ..Default::default()
            })
            .collect();
        self.shared
            .mutate(|state| state.governance.owners.insert(name.to_owned(), owners));
    }

    /// How the access monitoring rule service (and the rule watch kind) answers from now
    /// on; open watches are not changed.
    pub fn set_access_monitoring_rules(&self, availability: Availability) {
        self.shared
            .mutate(|state| state.governance.rules = availability);
    }

    /// How the access list service answers from now on.
    pub fn set_access_lists(&self, availability: Availability) {
        self.shared
            .mutate(|state| state.governance.lists = availability);
    }
}
