//! The newer Go messaging plugins' request keys in plugin data — `resources`,
//! `system_annotations`, `suggested_reviewers`, `logins_by_role` (JSON) and `max_duration`
//! (RFC 3339) — read and written so that a record passes between a Go plugin and ours
//! unchanged.
//!
//! Values are kept as stored: a Go record is written back byte for byte, and a record we
//! start is written in Go's encoding (`go_json`: compact, sorted keys, Go's HTML-safe
//! escaping), with "" (no key) where Go writes none.

use std::collections::BTreeMap;

use teleport_client::{AccessRequest, PluginDataMap};
use time::format_description::well_known::Rfc3339;

/// The keys, each "" when absent.
pub(crate) const KEYS: [&str; 5] = [
    "resources",
    "system_annotations",
    "suggested_reviewers",
    "logins_by_role",
    "max_duration",
];

/// The newer Go keys of one record, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoRequestData {
    /// `resources`: a JSON array of the requested resources' names (Go's friendly names, or
    /// Teleport's `/cluster/kind/name`).
    pub resources: String,
    /// `system_annotations`: a JSON object of lists.
    pub system_annotations: String,
    /// `suggested_reviewers`: a JSON array.
    pub suggested_reviewers: String,
    /// `logins_by_role`: a JSON object of lists (Go's; we do not look roles up).
    pub logins_by_role: String,
    /// `max_duration`: RFC 3339.
    pub max_duration: String,
}

impl GoRequestData {
    /// What Go writes for a new request (but `logins_by_role`, which needs role lookups).
    pub fn of(request: &AccessRequest) -> Self {
        let json_list = |items: &[String]| {
            if items.is_empty() {
                String::new()
            } else {
                crate::go_json::to_string(items).unwrap_or_default()
            }
        };
        let resources: Vec<String> = request.resources.iter().map(ToString::to_string).collect();
        Self {
            resources: json_list(&resources),
            system_annotations: if request.system_annotations.is_empty() {
                String::new()
            } else {
                crate::go_json::to_string(&request.system_annotations).unwrap_or_default()
            },
            suggested_reviewers: json_list(&request.suggested_reviewers),
            logins_by_role: String::new(),
            max_duration: request
                .max_duration
                .and_then(|at| at.replace_nanosecond(0).ok())
                .and_then(|at| at.format(&Rfc3339).ok())
                .unwrap_or_default(),
        }
    }

    /// Reads the keys as stored.
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).cloned().unwrap_or_default();
        Self {
            resources: get("resources"),
            system_annotations: get("system_annotations"),
            suggested_reviewers: get("suggested_reviewers"),
            logins_by_role: get("logins_by_role"),
            max_duration: get("max_duration"),
        }
    }

    /// Writes every key ("" for absent) into `map`.
    pub fn encode_into(&self, map: &mut PluginDataMap) {
        for (key, value) in KEYS.into_iter().zip([
            &self.resources,
            &self.system_annotations,
            &self.suggested_reviewers,
            &self.logins_by_role,
            &self.max_duration,
        ]) {
            map.insert(key.to_owned(), value.clone());
        }
    }

    /// The logins each requested role allows, as stored (an unreadable value reads as none).
    pub fn logins(&self) -> BTreeMap<String, Vec<String>> {
        serde_json::from_str(&self.logins_by_role).unwrap_or_default()
    }

    /// Stores the logins each requested role allows, as Go writes them (none: no key).
    pub fn set_logins(&mut self, logins: &BTreeMap<String, Vec<String>>) {
        self.logins_by_role = if logins.is_empty() {
            String::new()
        } else {
            crate::go_json::to_string(logins).unwrap_or_default()
        };
    }

    /// Stores the resources' names to show (friendly names where found), as Go writes them.
    pub fn set_resource_names(&mut self, names: &[String]) {
        self.resources = if names.is_empty() {
            String::new()
        } else {
            crate::go_json::to_string(names).unwrap_or_default()
        };
    }

    /// The resources' names as stored (an unreadable value reads as none).
    pub fn resource_names(&self) -> Vec<String> {
        serde_json::from_str(&self.resources).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use teleport_client::ResourceId;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_new_request_is_written_in_go_s_encoding() {
        let request = AccessRequest {
            resources: vec![ResourceId {
                cluster: "c".into(),
                kind: "node".into(),
                name: "web-1".into(),
                sub_resource: String::new(),
            }],
            suggested_reviewers: vec!["sam".into(), "r&d@example.com".into()],
            system_annotations: [("pagerduty_services".to_owned(), vec!["svc".to_owned()])]
                .into_iter()
                .collect(),
            max_duration: Some(datetime!(2026-12-04 10:00:00.5 UTC)),
            ..Default::default()
        };
        let data = GoRequestData::of(&request);
        assert_eq!(data.resources, r#"["/c/node/web-1"]"#);
        // Go's json.Marshal escapes `&` (and `<`, `>`).
        assert_eq!(
            data.suggested_reviewers,
            r#"["sam","r\u0026d@example.com"]"#
        );
        assert_eq!(data.system_annotations, r#"{"pagerduty_services":["svc"]}"#);
        assert_eq!(data.max_duration, "2026-12-04T10:00:00Z");
        assert_eq!(data.resource_names(), ["/c/node/web-1"]);
        let empty = GoRequestData::of(&AccessRequest::default());
        assert_eq!(
            empty,
            GoRequestData::default(),
            "no key where Go writes none"
        );
    }
}
