//! Nodes and user groups a request can name, and `ListResources` over them with the RBAC a
//! plugin meets: `list` (and `read`, but for nodes) on the kind from the caller's roles
//! (extended, as Teleport does, by their `preview_as_roles` and `search_as_roles` when the
//! request asks) or PermissionDenied; then only the nodes some role's `node_labels` allow,
//! filtered by the name predicate the Go plugins send, paged by name.
//!
//! Simplifications: deny rules and `where` clauses are not evaluated, nor a role's
//! `group_labels` (a caller allowed to list user groups sees them all); `app_server`,
//! `db_server` and `kube_server` are served empty and other kinds refused as Teleport refuses
//! unpaginated kinds; the only predicate understood is the plugins'
//! `resource.metadata.name == "…" || …`.

use std::collections::BTreeMap;

use teleport_client::wire::proto::{
    ListResourcesRequest, ListResourcesResponse, PaginatedResource, paginated_resource,
};
use teleport_client::wire::types::{
    AccessReviewConditions, Metadata, ResourceHeader, RoleConditions, RoleV6, Rule, ServerSpecV2,
    ServerV2, UserGroupV1,
};
use teleport_client::wire::wrappers::{LabelValues, StringValues};
use tonic::Status;

use crate::directory::{role_resource, user_resource};
use crate::state::{NAMESPACE, State};
use crate::testkit::Testkit;

/// Teleport's page size when a request asks for none.
const DEFAULT_LIMIT: usize = 1000;

/// A `types.ServerV2` node named `name` (Teleport uses a UUID) with `hostname` and labels.
pub fn node_resource(name: &str, hostname: &str, labels: &[(&str, &str)]) -> ServerV2 {
    ServerV2 {
        kind: "node".to_owned(),
        sub_kind: "teleport".to_owned(),
        version: "v2".to_owned(),
        metadata: Some(labelled_metadata(name, labels)),
        spec: Some(ServerSpecV2 {
            addr: "127.0.0.1:3022".to_owned(),
            hostname: hostname.to_owned(),
        }),
    }
}

/// A `types.UserGroupV1` named `name` (Okta uses its group ID) with `labels` (an Okta group
/// carries `teleport.dev/origin: okta` and `teleport.internal/okta-group-name`).
pub fn user_group_resource(name: &str, labels: &[(&str, &str)]) -> UserGroupV1 {
    UserGroupV1 {
        header: Some(ResourceHeader {
            kind: "user_group".to_owned(),
            version: "v1".to_owned(),
            metadata: Some(labelled_metadata(name, labels)),
            ..Default::default()
        }),
    }
}

/// Metadata named `name` in the default namespace with `labels`.
fn labelled_metadata(name: &str, labels: &[(&str, &str)]) -> Metadata {
    Metadata {
        name: name.to_owned(),
        namespace: NAMESPACE.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

impl Testkit {
    /// Registers (or replaces) a user group `name` with `labels`.
    pub fn add_user_group(&self, name: &str, labels: &[(&str, &str)]) {
        let group = user_group_resource(name, labels);
        self.shared
            .mutate(|state| state.user_groups.insert(name.to_owned(), group));
    }

    /// Registers (or replaces) a node.
    pub fn put_node(&self, node: ServerV2) {
        let name = node
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        self.shared.mutate(|state| state.nodes.insert(name, node));
    }

    /// Registers a node `name` with `hostname` and `labels`.
    pub fn add_node(&self, name: &str, hostname: &str, labels: &[(&str, &str)]) {
        self.put_node(node_resource(name, hostname, labels));
    }

    /// One line for the documented plugin role that may look requested nodes and user groups
    /// up: gives `user` role `<user>-resources` with rule `[node, user_group]: [list, read]` and
    /// `review_requests.preview_as_roles: [<user>-preview]`, and stores role
    /// `<user>-preview` allowing the nodes labelled `node_labels` (`("*", "*")` for all).
    pub fn allow_resource_lookup(&self, user: &str, node_labels: &[(&str, &str)]) {
        let preview = format!("{user}-preview");
        let mut preview_role = role_resource(&preview, &[], &[]);
        if let Some(allow) = allow_of(&mut preview_role) {
            allow.node_labels = Some(label_values(node_labels));
        }
        self.put_role(preview_role);
        let name = format!("{user}-resources");
        let mut role = role_resource(&name, &[], &[]);
        if let Some(allow) = allow_of(&mut role) {
            allow.rules.push(Rule {
                resources: vec!["node".to_owned(), "user_group".to_owned()],
                verbs: vec!["list".to_owned(), "read".to_owned()],
                ..Default::default()
            });
            allow.review_requests = Some(AccessReviewConditions {
                preview_as_roles: vec![preview],
                ..Default::default()
            });
        }
        self.put_role(role);
        self.shared.mutate(|state| {
            let user = state
                .users
                .entry(user.to_owned())
                .or_insert_with(|| user_resource(user, &[], &[]));
            let roles = &mut user.spec.get_or_insert_with(Default::default).roles;
            if !roles.contains(&name) {
                roles.push(name);
            }
        });
    }

    /// Makes `ListResources` answer at most `cap` resources a page (`None`: as asked), so
    /// that tests see the client follow `NextKey`.
    pub fn cap_resource_pages(&self, cap: Option<usize>) {
        self.shared.mutate(|state| state.resource_page_cap = cap);
    }
}

fn allow_of(role: &mut RoleV6) -> Option<&mut RoleConditions> {
    role.spec.as_mut().and_then(|spec| spec.allow.as_mut())
}

fn label_values(labels: &[(&str, &str)]) -> LabelValues {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in labels {
        values
            .entry((*key).to_owned())
            .or_default()
            .push((*value).to_owned());
    }
    LabelValues {
        values: values
            .into_iter()
            .map(|(k, v)| (k, StringValues { values: v }))
            .collect(),
    }
}

impl State {
    /// `ListResources` for `caller`, as described in the module docs.
    pub(crate) fn list_resources(
        &self,
        caller: &str,
        request: &ListResourcesRequest,
    ) -> Result<ListResourcesResponse, Status> {
        let verbs: &[&str] = match request.resource_type.as_str() {
            // Teleport checks only `list` for nodes, for backwards compatibility.
            "node" => &["list"],
            "app_server" | "user_group" | "db_server" | "kube_server" => &["list", "read"],
            other => {
                return Err(Status::unimplemented(format!(
                    "resource type {other} does not support pagination"
                )));
            }
        };
        let roles = self.roles_for_search(caller, request);
        for verb in verbs {
            if !roles
                .iter()
                .any(|role| allows_rule(role, &request.resource_type, verb))
            {
                return Err(Status::permission_denied(format!(
                    "access denied to perform action {verb:?} on {:?}",
                    request.resource_type
                )));
            }
        }
        let names = parse_name_predicate(&request.predicate_expression)?;
        let limit = usize::try_from(request.limit)
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(DEFAULT_LIMIT)
            .min(self.resource_page_cap.unwrap_or(usize::MAX));
        // (name, resource) of the listed kind that the caller's roles let it see, by name.
        let visible: Vec<(String, paginated_resource::Resource)> =
            match request.resource_type.as_str() {
                "node" => self
                    .nodes
                    .values()
                    .filter(|node| {
                        let metadata = node.metadata.clone().unwrap_or_default();
                        roles.iter().any(|role| allows_node(role, &metadata))
                    })
                    .map(|node| {
                        let name = node.metadata.clone().unwrap_or_default().name;
                        (name, paginated_resource::Resource::Node(node.clone()))
                    })
                    .collect(),
                "user_group" => self
                    .user_groups
                    .iter()
                    .map(|(name, group)| {
                        (
                            name.clone(),
                            paginated_resource::Resource::UserGroup(group.clone()),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
        let mut matching = visible.into_iter().filter(|(name, _)| {
            name.as_str() >= request.start_key.as_str()
                && names.as_ref().is_none_or(|names| names.contains(name))
        });
        let mut response = ListResourcesResponse::default();
        for (_, resource) in matching.by_ref().take(limit) {
            response.resources.push(PaginatedResource {
                resource: Some(resource),
                ..Default::default()
            });
        }
        if let Some((next, _)) = matching.next() {
            response.next_key = next;
        }
        Ok(response)
    }

    /// The caller's roles, plus their `preview_as_roles` and `search_as_roles` when asked.
    fn roles_for_search(&self, caller: &str, request: &ListResourcesRequest) -> Vec<&RoleV6> {
        let own: Vec<&RoleV6> = self
            .users
            .get(caller)
            .and_then(|user| user.spec.as_ref())
            .map(|spec| {
                spec.roles
                    .iter()
                    .filter_map(|r| self.roles.get(r))
                    .collect()
            })
            .unwrap_or_default();
        let mut extra = Vec::new();
        for role in &own {
            let Some(allow) = role.spec.as_ref().and_then(|s| s.allow.as_ref()) else {
                continue;
            };
            if request.use_preview_as_roles
                && let Some(review) = &allow.review_requests
            {
                extra.extend(
                    review
                        .preview_as_roles
                        .iter()
                        .filter_map(|r| self.roles.get(r)),
                );
            }
            if request.use_search_as_roles
                && let Some(ask) = &allow.request
            {
                extra.extend(ask.search_as_roles.iter().filter_map(|r| self.roles.get(r)));
            }
        }
        own.into_iter().chain(extra).collect()
    }
}

fn allows_rule(role: &RoleV6, kind: &str, verb: &str) -> bool {
    let Some(allow) = role.spec.as_ref().and_then(|s| s.allow.as_ref()) else {
        return false;
    };
    allow.rules.iter().any(|rule| {
        rule.resources.iter().any(|r| r == kind || r == "*")
            && rule.verbs.iter().any(|v| v == verb || v == "*")
    })
}

/// Whether the role's `node_labels` allow a node with these labels (an empty set allows
/// none, a `*: *` entry all).
fn allows_node(role: &RoleV6, metadata: &Metadata) -> bool {
    let Some(labels) = role
        .spec
        .as_ref()
        .and_then(|s| s.allow.as_ref())
        .and_then(|a| a.node_labels.as_ref())
    else {
        return false;
    };
    !labels.values.is_empty()
        && labels.values.iter().all(|(key, allowed)| {
            let any = allowed.values.iter().any(|v| v == "*");
            if key == "*" {
                return any;
            }
            metadata
                .labels
                .get(key)
                .is_some_and(|value| any || allowed.values.contains(value))
        })
}

/// The names in `resource.metadata.name == "a" || …` (`None` for no predicate).
fn parse_name_predicate(expression: &str) -> Result<Option<Vec<String>>, Status> {
    if expression.trim().is_empty() {
        return Ok(None);
    }
    let invalid = || Status::invalid_argument(format!("unsupported predicate {expression:?}"));
    let mut names = Vec::new();
    let mut rest = expression.trim();
    loop {
        rest = rest
            .strip_prefix("resource.metadata.name")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("=="))
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('"'))
            .ok_or_else(invalid)?;
        let (name, after) = unquote(rest).ok_or_else(invalid)?;
        names.push(name);
        rest = after.trim_start();
        if rest.is_empty() {
            return Ok(Some(names));
        }
        rest = rest.strip_prefix("||").ok_or_else(invalid)?.trim_start();
    }
}

/// Reads a Go-quoted string's body up to its closing quote; returns it and what follows.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((at, ch)) = chars.next() {
        match ch {
            '"' => return Some((out, &text[at + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                escaped @ ('"' | '\\') => out.push(escaped),
                _ => return None,
            },
            other => out.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugins_predicate_is_read() {
        let names = parse_name_predicate(
            r#"resource.metadata.name == "a" || resource.metadata.name == "b\"c""#,
        )
        .unwrap();
        assert_eq!(names, Some(vec!["a".to_owned(), "b\"c".to_owned()]));
        assert_eq!(parse_name_predicate("").unwrap(), None);
        assert!(parse_name_predicate("labels.env == \"x\"").is_err());
    }
}
