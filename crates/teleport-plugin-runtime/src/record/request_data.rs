//! The request keys every Go incident plugin (PagerDuty, Jira, GitLab, Opsgenie, and the
//! newer hosted ones) keeps in its plugin data next to its own keys, read and written in Go's
//! encodings so that a record passes between a Go plugin and ours both ways:
//!
//! `user`, `roles` (comma-joined), `created` (Unix seconds, "" when unknown),
//! `request_reason`, `reviews_count` ("" for 0), `resolution` (lower case
//! `approved|denied|expired|promoted`, any case read) and `resolve_reason`.
//!
//! A plugin's record embeds [`RequestData`] and adds its own keys around it.

use teleport_client::{AccessRequest, PluginDataMap};

use super::Resolution;

/// The keys [`RequestData::encode_into`] writes.
pub const REQUEST_DATA_KEYS: [&str; 7] = [
    "user",
    "roles",
    "created",
    "request_reason",
    "reviews_count",
    "resolution",
    "resolve_reason",
];

/// What an incident plugin remembers of a request, and how far its resolution got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestData {
    /// The requester.
    pub user: String,
    /// The requested roles.
    pub roles: Vec<String>,
    /// When the request was created (Unix seconds).
    pub created: Option<i64>,
    /// The request reason, verbatim.
    pub request_reason: String,
    /// Reviews already reported to the service.
    pub reviews_count: usize,
    /// The final status, once recorded.
    pub resolution: Option<Resolution>,
    /// The reason given with it, verbatim.
    pub resolve_reason: String,
}

impl RequestData {
    /// What is known of a request when its record is started.
    pub fn of(request: &AccessRequest) -> Self {
        Self {
            user: request.user.clone(),
            roles: request.roles.clone(),
            created: request.created.map(|t| t.unix_timestamp()),
            request_reason: request.request_reason.clone(),
            ..Self::default()
        }
    }

    /// Writes every key of [`REQUEST_DATA_KEYS`], "" for empty values, as Go does.
    pub fn encode_into(&self, map: &mut PluginDataMap) {
        let mut put = |key: &str, value: String| {
            map.insert(key.to_owned(), value);
        };
        put("user", self.user.clone());
        put("roles", self.roles.join(","));
        put(
            "created",
            self.created.map(|c| c.to_string()).unwrap_or_default(),
        );
        put("request_reason", self.request_reason.clone());
        put(
            "reviews_count",
            match self.reviews_count {
                0 => String::new(),
                n => n.to_string(),
            },
        );
        put(
            "resolution",
            self.resolution
                .map(|r| r.as_str().to_ascii_lowercase())
                .unwrap_or_default(),
        );
        put("resolve_reason", self.resolve_reason.clone());
    }

    /// Reads the keys from stored data, ours or a Go plugin's; anything missing or unreadable
    /// counts as empty (a Go plugin that never wrote a key means "none").
    pub fn decode(data: &PluginDataMap) -> Self {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("").trim();
        // Reasons are free text, kept byte for byte.
        let text = |key: &str| data.get(key).cloned().unwrap_or_default();
        Self {
            user: get("user").to_owned(),
            roles: get("roles")
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            created: get("created").parse().ok(),
            request_reason: text("request_reason"),
            reviews_count: get("reviews_count").parse().unwrap_or(0),
            resolution: Resolution::parse(get("resolution")),
            resolve_reason: text("resolve_reason"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use teleport_plugin_testsupport::plugin_data as map;

    #[test]
    fn reads_what_a_go_plugin_wrote() {
        let data = RequestData::decode(&map(&[
            ("user", "alice@example.com"),
            ("roles", "dev, ops,,"),
            ("created", "1700000000"),
            ("request_reason", " deploy "),
            ("reviews_count", "2"),
            ("resolution", "approved"),
            ("resolve_reason", "ok"),
        ]));
        assert_eq!(data.user, "alice@example.com");
        assert_eq!(data.roles, ["dev", "ops"]);
        assert_eq!(data.created, Some(1_700_000_000));
        assert_eq!(
            data.request_reason, " deploy ",
            "free text is kept as stored"
        );
        assert_eq!(data.reviews_count, 2);
        assert_eq!(data.resolution, Some(Resolution::Approved));
        assert_eq!(data.resolve_reason, "ok");
    }

    #[test]
    fn writes_go_encodings_and_round_trips() {
        let data = RequestData {
            user: "bob".into(),
            roles: vec!["dev".into(), "admin".into()],
            created: None,
            request_reason: "why".into(),
            reviews_count: 0,
            resolution: Some(Resolution::Promoted),
            resolve_reason: String::new(),
        };
        let mut encoded = PluginDataMap::new();
        data.encode_into(&mut encoded);
        assert_eq!(encoded["roles"], "dev,admin");
        assert_eq!(encoded["created"], "");
        assert_eq!(
            encoded["reviews_count"], "",
            "Go writes \"\" for no reviews"
        );
        assert_eq!(encoded["resolution"], "promoted");
        let mut keys: Vec<_> = encoded.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = REQUEST_DATA_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(RequestData::decode(&encoded), data);
    }

    #[test]
    fn missing_or_garbled_keys_read_as_empty() {
        let data = RequestData::decode(&map(&[
            ("created", "yesterday"),
            ("reviews_count", "-1"),
            ("resolution", "maybe"),
        ]));
        assert_eq!(data, RequestData::default());
    }
}
