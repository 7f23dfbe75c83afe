//! `[<plugin>.auto_approval]`, one shape for every on-call plugin: the switches read alike
//! (`enabled`, `allowed_roles`, `dry_run`) around the plugin's own limits, which keep the
//! plugin's key names (Opsgenie's `schedules`, ServiceNow's `rotas`, Datadog's `teams`,
//! PagerDuty's `max_escalation_level` and `schedules`); then validated, and what it allows.
//!
//! Read by hand rather than with `#[serde(flatten)]`: flattening buffers the keys it does
//! not know and drops them silently, and the loader's unknown-key warnings would be lost.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use teleport_client::AccessRequest;

use super::{ConfigError, Loaded};
use crate::approval::check_allowed_roles;

/// A plugin's own keys in its `auto_approval` section, as read.
pub trait ApprovalLimits: Default {
    /// The limits as the plugin's on-call check reads them.
    type Valid;

    /// Reads the value of `key` when it is one of the plugin's keys (`Ok(true)`); any other
    /// key is left unread (`Ok(false)`) and reported as unknown.
    fn read_key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error>;

    /// The limits checked; errors name the key under `section` (`<plugin>.auto_approval`).
    fn validate<P>(&self, loaded: &Loaded<P>, section: &str) -> Result<Self::Valid, ConfigError>;
}

/// `[<plugin>.auto_approval]`: on-call auto-approval and the plugin's limits `L`. The same
/// shape serves as read (`L: ApprovalLimits`) and validated ([`AutoApproval::validate`]:
/// names trimmed, `L::Valid`); where the limits need no other type they are one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoApproval<L> {
    /// Submit approvals at all. Default true.
    pub enabled: bool,
    /// Only requests whose roles are all in this list (`None`: any roles).
    pub allowed_roles: Option<Vec<String>>,
    /// Log the decision instead of submitting it.
    pub dry_run: bool,
    /// The plugin's own limits.
    pub limits: L,
}

impl<L: Default> Default for AutoApproval<L> {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_roles: None,
            dry_run: false,
            limits: L::default(),
        }
    }
}

impl<L: ApprovalLimits> AutoApproval<L> {
    /// The section as the plugin uses it; errors name the key under `section`
    /// (`<plugin>.auto_approval`), the plugin's limits checked first.
    pub fn validate<P>(
        &self,
        loaded: &Loaded<P>,
        section: &str,
    ) -> Result<AutoApproval<L::Valid>, ConfigError> {
        let limits = self.limits.validate(loaded, section)?;
        let allowed_roles = loaded.optional_names(
            &format!("{section}.allowed_roles"),
            self.allowed_roles.as_deref(),
        )?;
        Ok(AutoApproval {
            enabled: self.enabled,
            allowed_roles,
            dry_run: self.dry_run,
            limits,
        })
    }
}

impl<L> AutoApproval<L> {
    /// Whether `allowed_roles` lets the request's roles be auto-approved, or why not.
    pub fn check_roles(&self, request: &AccessRequest) -> Result<(), String> {
        check_allowed_roles(self.allowed_roles.as_deref(), request)
    }
}

impl<L: TargetLimits> AutoApproval<L> {
    /// The request's `annotated` targets to look up, sorted and once each: those of the
    /// plugin's list (any case) when it has one; or why none is, the roles checked first.
    pub fn targets_to_check(
        &self,
        request: &AccessRequest,
        annotated: &[String],
    ) -> Result<Vec<String>, String> {
        self.check_roles(request)?;
        let only = self.limits.only();
        let mut targets: Vec<String> = annotated
            .iter()
            .filter(|t| {
                only.is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(t)))
            })
            .cloned()
            .collect();
        targets.sort_unstable();
        targets.dedup();
        if targets.is_empty() {
            return Err(format!(
                "none of the request's {key} is in auto_approval.{key}",
                key = L::KEY
            ));
        }
        Ok(targets)
    }
}

impl<'de, L: ApprovalLimits> Deserialize<'de> for AutoApproval<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SectionVisitor(PhantomData))
    }
}

struct SectionVisitor<L>(PhantomData<L>);

impl<'de, L: ApprovalLimits> Visitor<'de> for SectionVisitor<L> {
    type Value = AutoApproval<L>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an auto_approval table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut section = AutoApproval::<L>::default();
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

/// The limits of a plugin with one list of targets that count (`schedules`, `rotas`,
/// `teams`), under its own key; declared with [`target_limits!`](crate::target_limits).
pub trait TargetLimits: Default {
    /// The TOML key, and the field's name.
    const KEY: &'static str;
    /// Only these of the request's annotated targets count (`None`: all of them).
    fn only(&self) -> Option<&[String]>;
    /// Limits of this list.
    fn with_only(only: Option<Vec<String>>) -> Self;
}

impl<T: TargetLimits> ApprovalLimits for T {
    type Valid = T;

    fn read_key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        if key != T::KEY {
            return Ok(false);
        }
        *self = T::with_only(map.next_value()?);
        Ok(true)
    }

    fn validate<P>(&self, loaded: &Loaded<P>, section: &str) -> Result<T, ConfigError> {
        let key = format!("{section}.{}", T::KEY);
        Ok(T::with_only(loaded.optional_names(&key, self.only())?))
    }
}

/// Declares a plugin's [`TargetLimits`]: a struct with one field, the optional list under
/// the key of the same name, so the plugin's code and tests keep the limit's name.
///
/// ```
/// teleport_plugin_runtime::target_limits! {
///     /// Opsgenie's limit under `[opsgenie.auto_approval]`.
///     pub struct OpsgenieLimits {
///         /// `schedules`: only these schedules count.
///         schedules
///     }
/// }
/// let limits = OpsgenieLimits { schedules: Some(vec!["primary".into()]) };
/// assert_eq!(<OpsgenieLimits as teleport_plugin_runtime::config::TargetLimits>::KEY, "schedules");
/// ```
#[macro_export]
macro_rules! target_limits {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $(#[$doc:meta])* $key:ident }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        $vis struct $name {
            $(#[$doc])*
            pub $key: Option<Vec<String>>,
        }

        impl $crate::config::TargetLimits for $name {
            const KEY: &'static str = stringify!($key);

            fn only(&self) -> Option<&[String]> {
                self.$key.as_deref()
            }

            fn with_only(only: Option<Vec<String>>) -> Self {
                Self { $key: only }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_plugin_config_str;

    crate::target_limits! {
        struct Rotas {
            rotas
        }
    }

    #[derive(serde::Deserialize)]
    struct Plugin {
        #[serde(default)]
        auto_approval: AutoApproval<Rotas>,
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
        assert_eq!(section.limits.rotas, Some(vec!["r1".to_owned()]));
        assert_eq!(ignored, vec!["auto_approval.schedules".to_owned()]);
    }

    #[test]
    fn an_absent_section_approves_without_limits() {
        let (plugin, ignored) = read("");
        assert_eq!(plugin.auto_approval, AutoApproval::default());
        assert!(plugin.auto_approval.enabled && ignored.is_empty());
    }

    #[derive(serde::Deserialize)]
    struct File {
        x: Plugin,
    }

    fn validated(section: &str) -> Result<AutoApproval<Rotas>, ConfigError> {
        let text = format!("[x.auto_approval]\n{section}");
        let loaded = load_plugin_config_str::<File>("x.toml", &text).expect("loads");
        loaded
            .plugin
            .x
            .auto_approval
            .validate(&loaded, "x.auto_approval")
    }

    #[test]
    fn validation_trims_names_and_names_an_empty_one_by_key() {
        let section = validated("rotas = [\" r1 \"]\nallowed_roles = [\"dev \"]\n").expect("valid");
        assert_eq!(section.limits.rotas, Some(vec!["r1".to_owned()]));
        assert_eq!(section.allowed_roles, Some(vec!["dev".to_owned()]));
        for (text, key) in [
            ("rotas = [\"r1\", \" \"]", "x.auto_approval.rotas[1]"),
            ("allowed_roles = [\"\"]", "x.auto_approval.allowed_roles[0]"),
        ] {
            let error = validated(text).expect_err(text).to_string();
            assert!(error.contains(key), "{error}");
            assert!(
                error.contains("expected a name, found an empty string"),
                "{error}"
            );
        }
    }

    #[test]
    fn targets_to_check_follow_roles_and_the_list() {
        let request = |roles: &[&str]| {
            let mut request = AccessRequest {
                user: "alice".into(),
                ..AccessRequest::default()
            };
            request.roles = roles.iter().map(|r| (*r).to_owned()).collect();
            request
        };
        let annotated = ["rota-b", "rota-a", "rota-b"].map(String::from);
        let open = AutoApproval::<Rotas>::default();
        assert_eq!(
            open.targets_to_check(&request(&["dev"]), &annotated),
            Ok(vec!["rota-a".to_owned(), "rota-b".to_owned()])
        );
        let limited = AutoApproval {
            allowed_roles: Some(vec!["dev".into()]),
            limits: Rotas {
                rotas: Some(vec!["ROTA-A".into()]),
            },
            ..AutoApproval::default()
        };
        assert_eq!(
            limited.targets_to_check(&request(&["dev"]), &annotated),
            Ok(vec!["rota-a".to_owned()])
        );
        let why = limited
            .targets_to_check(&request(&["dev", "admin"]), &annotated)
            .unwrap_err();
        assert!(why.contains("\"admin\""), "{why}");
        assert_eq!(
            limited.targets_to_check(&request(&["dev"]), &["rota-b".into()]),
            Err("none of the request's rotas is in auto_approval.rotas".to_owned())
        );
        assert!(limited.targets_to_check(&request(&[]), &annotated).is_err());
    }
}
