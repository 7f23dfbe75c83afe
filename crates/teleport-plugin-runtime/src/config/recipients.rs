//! `[role_to_recipients]`: who is told about a request, by requested role.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::address::is_plain_email;

/// The role that matches every role without its own entry.
const WILDCARD: &str = "*";

/// The `[role_to_recipients]` section: role name → recipients (e-mail addresses, channel names
/// or IDs, whatever the plugin understands).
///
/// ```toml
/// [role_to_recipients]
/// "dev" = "devs-slack-channel"
/// "*" = ["admin@example.com", "admin-slack-channel"]
/// ```
///
/// Each value is a string or a list of strings. Empty strings are dropped when loading, so
/// `"dev" = ""` behaves like a role without an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleToRecipients {
    map: BTreeMap<String, Vec<String>>,
}

/// The map does not have what the plugin needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecipientsError {
    /// The section is missing or has no entries.
    #[error("expected at least one role with recipients, found none")]
    Empty,
    /// There is no non-empty `"*"` entry for roles without their own entry.
    #[error("expected a non-empty \"*\" entry (the recipients for every other role), found none")]
    NoWildcard,
}

impl RoleToRecipients {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the recipients of a role, replacing what it had; empty strings are dropped.
    pub fn insert(&mut self, role: impl Into<String>, recipients: Vec<String>) {
        let recipients = recipients.into_iter().filter(|r| !r.is_empty()).collect();
        self.map.insert(role.into(), recipients);
    }

    /// The recipients configured for exactly this role (no wildcard fallback).
    pub fn get(&self, role: &str) -> &[String] {
        self.map.get(role).map(Vec::as_slice).unwrap_or_default()
    }

    /// True when no role is configured.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All entries, by role name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The messaging plugins' rule: the map is not empty and has a non-empty `"*"` entry, so
    /// every request reaches someone. Plugins with further rules (e-mail: every value is an
    /// address) check those themselves.
    pub fn require_wildcard(&self) -> Result<(), RecipientsError> {
        if self.map.values().all(Vec::is_empty) {
            return Err(RecipientsError::Empty);
        }
        if self.get(WILDCARD).is_empty() {
            return Err(RecipientsError::NoWildcard);
        }
        Ok(())
    }

    /// Who to notify about a request, with the Go plugins' semantics:
    /// - for each requested role, that role's recipients if it has any, otherwise `"*"`'s (the
    ///   wildcard is a per-role fallback, not an addition);
    /// - then each suggested reviewer that is exactly one plain e-mail address (others are
    ///   skipped with a warning);
    /// - duplicates removed, in the order first seen.
    pub fn recipients_for<R, S>(&self, roles: &[R], suggested_reviewers: &[S]) -> Vec<String>
    where
        R: AsRef<str>,
        S: AsRef<str>,
    {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut add = |recipient: &str| {
            if seen.insert(recipient.to_owned()) {
                out.push(recipient.to_owned());
            }
        };
        for role in roles {
            let own = self.get(role.as_ref());
            let recipients = if own.is_empty() {
                self.get(WILDCARD)
            } else {
                own
            };
            recipients.iter().for_each(|r| add(r));
        }
        for reviewer in suggested_reviewers {
            let reviewer = reviewer.as_ref();
            if is_plain_email(reviewer) {
                add(reviewer);
            } else {
                tracing::warn!(
                    reviewer,
                    "Failed to notify a suggested reviewer: it does not look like a valid email"
                );
            }
        }
        out
    }
}

impl FromIterator<(String, Vec<String>)> for RoleToRecipients {
    fn from_iter<T: IntoIterator<Item = (String, Vec<String>)>>(iter: T) -> Self {
        let mut map = Self::new();
        for (role, recipients) in iter {
            map.insert(role, recipients);
        }
        map
    }
}

impl<'de> Deserialize<'de> for RoleToRecipients {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = RoleToRecipients;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of role names to recipients")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = RoleToRecipients::new();
                while let Some((role, StringOrList(recipients))) =
                    access.next_entry::<String, StringOrList>()?
                {
                    map.insert(role, recipients);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

/// `"x"` or `["x", "y"]`.
struct StringOrList(Vec<String>);

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = StringOrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(StringOrList(vec![value.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(StringOrList(values))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[&str])]) -> RoleToRecipients {
        entries
            .iter()
            .map(|(role, rs)| (role.to_string(), rs.iter().map(|r| r.to_string()).collect()))
            .collect()
    }

    const NONE: &[&str] = &[];

    #[test]
    fn wildcard_is_a_per_role_fallback() {
        let m = map(&[
            ("dev", &["dev-channel"]),
            ("*", &["admin@example.com", "ops"]),
        ]);
        assert_eq!(m.recipients_for(&["dev"], NONE), vec!["dev-channel"]);
        assert_eq!(
            m.recipients_for(&["dev", "ops"], NONE),
            vec!["dev-channel", "admin@example.com", "ops"]
        );
        assert_eq!(
            m.recipients_for(&["unknown"], NONE),
            vec!["admin@example.com", "ops"]
        );
        assert_eq!(m.recipients_for(NONE, NONE), Vec::<String>::new());
    }

    #[test]
    fn empty_entry_falls_back_to_wildcard() {
        let m = map(&[("dev", &[""]), ("*", &["all"])]);
        assert_eq!(m.get("dev"), &[] as &[String]);
        assert_eq!(m.recipients_for(&["dev"], NONE), vec!["all"]);
    }

    #[test]
    fn suggested_reviewers_must_be_plain_emails_and_duplicates_go() {
        let m = map(&[
            ("dev", &["a@example.com", "chan"]),
            ("ops", &["chan", "b@example.com"]),
            ("*", &["all"]),
        ]);
        let got = m.recipients_for(
            &["dev", "ops", "dev"],
            &[
                "b@example.com",
                "c@example.com",
                "Carol <carol@example.com>",
                "not-an-email",
                "c@example.com",
            ],
        );
        assert_eq!(
            got,
            vec!["a@example.com", "chan", "b@example.com", "c@example.com"]
        );
    }

    #[test]
    fn wildcard_requirement() {
        assert_eq!(
            RoleToRecipients::new().require_wildcard(),
            Err(RecipientsError::Empty)
        );
        assert_eq!(
            map(&[("dev", &["x"])]).require_wildcard(),
            Err(RecipientsError::NoWildcard)
        );
        assert_eq!(
            map(&[("dev", &["x"]), ("*", &[])]).require_wildcard(),
            Err(RecipientsError::NoWildcard)
        );
        assert_eq!(map(&[("*", &["x"])]).require_wildcard(), Ok(()));
    }
}
