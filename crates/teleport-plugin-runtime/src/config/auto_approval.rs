//! `[<plugin>.auto_approval]` as read: the switches every on-call plugin reads alike
//! (`enabled`, `allowed_roles`, `dry_run`) around the plugin's own limits, which keep the
//! plugin's key names (Opsgenie's `schedules`, ServiceNow's `rotas`, Datadog's `teams`,
//! PagerDuty's `max_escalation_level` and `schedules`).
//!
//! Read by hand rather than with `#[serde(flatten)]`: flattening buffers the keys it does
//! not know and drops them silently, and the loader's unknown-key warnings would be lost.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A plugin's own keys in its `auto_approval` section.
pub trait ApprovalLimits: Default {
    /// Reads the value of `key` when it is one of the plugin's keys (`Ok(true)`); any other
    /// key is left unread (`Ok(false)`) and reported as unknown.
    fn read_key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error>;
}

/// `[<plugin>.auto_approval]`: on-call auto-approval and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoApprovalSection<L> {
    /// Submit approvals at all. Default true.
    pub enabled: bool,
    /// Only requests whose roles are all in this list.
    pub allowed_roles: Option<Vec<String>>,
    /// Log the decision instead of submitting it.
    pub dry_run: bool,
    /// The plugin's own limits.
    pub limits: L,
}

impl<L: Default> Default for AutoApprovalSection<L> {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_roles: None,
            dry_run: false,
            limits: L::default(),
        }
    }
}

impl<'de, L: ApprovalLimits> Deserialize<'de> for AutoApprovalSection<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SectionVisitor(PhantomData))
    }
}

struct SectionVisitor<L>(PhantomData<L>);

impl<'de, L: ApprovalLimits> Visitor<'de> for SectionVisitor<L> {
    type Value = AutoApprovalSection<L>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an auto_approval table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut section = AutoApprovalSection::<L>::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "enabled" => section.enabled = map.next_value()?,
                "allowed_roles" => section.allowed_roles = map.next_value()?,
                "dry_run" => section.dry_run = map.next_value()?,
                other => {
                    if !section.limits.read_key(other, &mut map)? {
                        // Read as ignored, so the loader reports the key as unknown.
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
        }
        Ok(section)
    }
}

/// The name of a plugin's one list of targets that count (`schedules`, `rotas`, `teams`).
pub trait TargetsKey {
    /// The TOML key.
    const KEY: &'static str;
}

/// The limits of a plugin with one list of targets that count, under `K::KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlyTargets<K> {
    /// Only these of the request's annotated targets count (`None`: all of them).
    pub only: Option<Vec<String>>,
    key: PhantomData<K>,
}

impl<K> Default for OnlyTargets<K> {
    fn default() -> Self {
        Self {
            only: None,
            key: PhantomData,
        }
    }
}

impl<K: TargetsKey> ApprovalLimits for OnlyTargets<K> {
    fn read_key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        if key != K::KEY {
            return Ok(false);
        }
        self.only = map.next_value()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Rotas;
    impl TargetsKey for Rotas {
        const KEY: &'static str = "rotas";
    }

    #[derive(serde::Deserialize)]
    struct Plugin {
        #[serde(default)]
        auto_approval: AutoApprovalSection<OnlyTargets<Rotas>>,
    }

    fn read(text: &str) -> (Plugin, Vec<String>) {
        let mut ignored = Vec::new();
        let document = toml::Deserializer::parse(text).expect("valid TOML");
        let plugin = serde_ignored::deserialize(document, |path| ignored.push(path.to_string()))
            .expect("readable section");
        (plugin, ignored)
    }

    #[test]
    fn switches_and_the_plugins_own_key_are_read_and_others_reported() {
        let (plugin, ignored) = read(
            "[auto_approval]\nenabled = false\ndry_run = true\nallowed_roles = [\"dev\"]\n\
             rotas = [\"r1\"]\nschedules = [\"s\"]\n",
        );
        let section = plugin.auto_approval;
        assert!(!section.enabled && section.dry_run);
        assert_eq!(section.allowed_roles, Some(vec!["dev".to_owned()]));
        assert_eq!(section.limits.only, Some(vec!["r1".to_owned()]));
        assert_eq!(ignored, vec!["auto_approval.schedules".to_owned()]);
    }

    #[test]
    fn an_absent_section_approves_without_limits() {
        let (plugin, ignored) = read("");
        assert_eq!(plugin.auto_approval, AutoApprovalSection::default());
        assert!(plugin.auto_approval.enabled && ignored.is_empty());
    }
}
