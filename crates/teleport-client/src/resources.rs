//! `ListResources` as the Go plugins use it: finding requested resources by name, with the
//! plugin's `search_as_roles` and `preview_as_roles`, to show their friendly names (a node's
//! hostname instead of its UUID).

use crate::client::TeleportClient;
use crate::error::ClientError;
use crate::wire::proto::{self, paginated_resource::Resource};
use crate::wire::types;

const METHOD: &str = "ListResources";
/// Teleport's default page size, the most asked for at once (Go's chunk size).
const MAX_CHUNK: i32 = 1000;
/// Pages followed at most, so that a server handing out keys forever cannot keep the plugin.
const MAX_PAGES: usize = 10_000;
/// The label naming where a resource was imported from.
const ORIGIN_LABEL: &str = "teleport.dev/origin";
/// Labels an Okta-imported resource carries its Okta name in, in the order Go reads them
/// (`types.OktaAppNameLabel`, `OktaGroupNameLabel`, `OktaRoleNameLabel`).
const OKTA_NAME_LABELS: [&str; 3] = [
    "teleport.internal/okta-app-name",
    "teleport.internal/okta-group-name",
    "teleport.internal/okta-role-name",
];

/// A resource `ListResources` returned, named as access requests name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedResource {
    /// The kind a request names it by (`node`, `app`, `user_group`).
    pub kind: String,
    /// Its name (a node's UUID, an app's name).
    pub name: String,
    /// What people call it (a node's hostname, an Okta app's or group's name), as Go's
    /// `types.FriendlyName`; `None` when it has none.
    pub friendly_name: Option<String>,
}

impl TeleportClient {
    /// The resources of `kind` named `names` that this plugin may see with its own roles and
    /// its `search_as_roles` and `preview_as_roles`, every page; the ones it may not see are
    /// simply missing. Kind `app` is listed as `app_server`, as Go does. Needs `list` (and
    /// `read`, but for nodes) on the listed kind, else [`ClientError::AccessDenied`].
    pub async fn resources_named(
        &self,
        kind: &str,
        names: &[String],
    ) -> Result<Vec<ListedResource>, ClientError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = proto::ListResourcesRequest {
            resource_type: list_type(kind).to_owned(),
            predicate_expression: any_name_matcher(names),
            use_search_as_roles: true,
            use_preview_as_roles: true,
            ..Default::default()
        };
        let mut chunk = i32::try_from(names.len())
            .unwrap_or(MAX_CHUNK)
            .min(MAX_CHUNK);
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            request.limit = chunk;
            let page = match self.auth_client().list_resources(request.clone()).await {
                Ok(page) => page.into_inner(),
                // A page over the message limit: ask for half as many, as Go does.
                Err(status) if status.code() == tonic::Code::ResourceExhausted && chunk > 1 => {
                    chunk /= 2;
                    continue;
                }
                Err(status) => return Err(ClientError::from_status(METHOD, status)),
            };
            let empty = page.resources.is_empty();
            found.extend(page.resources.into_iter().filter_map(listed));
            if page.next_key.is_empty() || empty {
                return Ok(found);
            }
            request.start_key = page.next_key;
        }
        Err(ClientError::Other {
            method: METHOD,
            code: tonic::Code::OutOfRange,
            message: format!("more than {MAX_PAGES} pages; giving up"),
        })
    }
}

/// The `ResourceType` a requested kind is listed as (an app through its app servers).
pub fn list_type(kind: &str) -> &str {
    match kind {
        "app" => "app_server",
        "db" => "db_server",
        "kube_cluster" => "kube_server",
        other => other,
    }
}

/// `resource.metadata.name == "a" || resource.metadata.name == "b"`, each name quoted as
/// Go's `%q` quotes it.
pub fn any_name_matcher(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("resource.metadata.name == {}", go_quote(name)))
        .collect::<Vec<_>>()
        .join(" || ")
}

/// A Go double-quoted string literal (`strconv.Quote`) for printable text: quotes and
/// backslashes escaped, control characters as Go writes them.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One listed resource as a request names it: an app server as its app (the leaf Go maps
/// it back to); members plugins do not name are skipped.
pub(crate) fn listed(resource: proto::PaginatedResource) -> Option<ListedResource> {
    match resource.resource? {
        Resource::Node(node) => {
            let metadata = node.metadata.unwrap_or_default();
            let hostname = node.spec.map(|spec| spec.hostname).unwrap_or_default();
            Some(ListedResource {
                kind: "node".to_owned(),
                friendly_name: friendly_name(&metadata, Some(hostname)),
                name: metadata.name,
            })
        }
        Resource::AppServer(server) => {
            let app = server.spec.and_then(|spec| spec.app)?;
            let metadata = app.metadata.unwrap_or_default();
            Some(ListedResource {
                kind: "app".to_owned(),
                friendly_name: friendly_name(&metadata, None),
                name: metadata.name,
            })
        }
        Resource::UserGroup(group) => {
            let metadata = group
                .header
                .and_then(|header| header.metadata)
                .unwrap_or_default();
            Some(ListedResource {
                kind: "user_group".to_owned(),
                friendly_name: friendly_name(&metadata, None),
                name: metadata.name,
            })
        }
    }
}

/// Go's `types.FriendlyName`: an Okta-imported resource's Okta name (or description), else a
/// server's hostname, else none (so a group not imported from Okta keeps its ID).
fn friendly_name(metadata: &types::Metadata, hostname: Option<String>) -> Option<String> {
    let labels = &metadata.labels;
    let name = if labels.get(ORIGIN_LABEL).map(String::as_str) == Some("okta") {
        OKTA_NAME_LABELS
            .iter()
            .find_map(|key| labels.get(*key).cloned())
            .unwrap_or_else(|| metadata.description.clone())
    } else {
        hostname.unwrap_or_default()
    };
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_with_go_quoting() {
        let names = ["a1b2".to_owned(), "we\"ird\\name\n".to_owned()];
        assert_eq!(
            any_name_matcher(&names),
            r#"resource.metadata.name == "a1b2" || resource.metadata.name == "we\"ird\\name\n""#
        );
        assert_eq!(list_type("app"), "app_server");
        assert_eq!(list_type("node"), "node");
    }

    #[test]
    fn okta_names_win_over_hostnames() {
        let mut metadata = types::Metadata {
            name: "n1".into(),
            description: "described".into(),
            ..Default::default()
        };
        assert_eq!(
            friendly_name(&metadata, Some("web-1".into())).as_deref(),
            Some("web-1")
        );
        assert_eq!(friendly_name(&metadata, Some(String::new())), None);
        metadata.labels.insert(ORIGIN_LABEL.into(), "okta".into());
        assert_eq!(friendly_name(&metadata, None).as_deref(), Some("described"));
        metadata
            .labels
            .insert("teleport.internal/okta-app-name".into(), "Payroll".into());
        assert_eq!(friendly_name(&metadata, None).as_deref(), Some("Payroll"));
        let mut role_only = types::Metadata::default();
        role_only.labels.insert(ORIGIN_LABEL.into(), "okta".into());
        role_only
            .labels
            .insert("teleport.internal/okta-role-name".into(), "Auditors".into());
        assert_eq!(friendly_name(&role_only, None).as_deref(), Some("Auditors"));
    }
}
