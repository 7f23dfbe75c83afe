//! The rules for one plugin, loaded when the watch is (re)established and kept current from
//! its events, and the recipients they route a request to.
//!
//! Wiring: watch with `WatchOptions::access_monitoring_rules`, pass every event to
//! [`RuleCache::handle`] first (awaited: it loads the rules on `Confirmed`, before the
//! request listing that follows `Init`), and ask [`RuleCache::recipients`] when a request
//! is new.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use teleport_client::{
    ACCESS_REQUEST_KIND, AccessMonitoringRule, AccessRequest, ClientError, LabelValues, RuleFilter,
    TeleportClient, WatchEvent, WatchedKinds,
};
use teleport_predicate::Condition;

use super::env::request_env;

/// Longest wait for the rule listing: the watch is not read meanwhile.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether rules are in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    /// Not known yet (no watch confirmed so far).
    Unknown,
    /// Rules are loaded and followed.
    Active,
    /// The cluster has no access monitoring rules, or the role may not read them:
    /// `role_to_recipients` alone decides.
    Unavailable,
}

/// One rule that applies to this plugin.
#[derive(Debug)]
struct Rule {
    recipients: Vec<String>,
    /// `None` when the condition does not parse: the rule is skipped (logged once).
    condition: Option<Condition>,
}

#[derive(Debug)]
struct State {
    status: RuleStatus,
    rules: BTreeMap<String, Rule>,
}

/// The access monitoring rules that route this plugin's notifications.
pub struct RuleCache {
    client: TeleportClient,
    plugin: String,
    state: RwLock<State>,
    /// The fallback is announced once per process, not on every reconnect.
    warned_unavailable: AtomicBool,
    warned_traits: AtomicBool,
}

impl std::fmt::Debug for RuleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleCache")
            .field("plugin", &self.plugin)
            .field("status", &self.status())
            .field("rules", &self.rule_names())
            .finish_non_exhaustive()
    }
}

impl RuleCache {
    /// Rules whose notification names `plugin` (`slack`, `mattermost`, `email`, ...).
    pub fn new(client: TeleportClient, plugin: impl Into<String>) -> Self {
        Self {
            client,
            plugin: plugin.into(),
            state: RwLock::new(State {
                status: RuleStatus::Unknown,
                rules: BTreeMap::new(),
            }),
            warned_unavailable: AtomicBool::new(false),
            warned_traits: AtomicBool::new(false),
        }
    }

    /// Whether rules are in use.
    pub fn status(&self) -> RuleStatus {
        self.read(|s| s.status)
    }

    /// Names of the rules that apply to this plugin, sorted.
    pub fn rule_names(&self) -> Vec<String> {
        self.read(|s| s.rules.keys().cloned().collect())
    }

    /// Takes the watch events that are about rules (`Confirmed`, `RulePut`, `RuleDelete`)
    /// and returns true for them; false for every other event, which the caller handles.
    /// Await it in the watch loop before handling the next event, so that the rules are
    /// loaded before the `Init` that follows `Confirmed` starts the request listing.
    pub async fn handle(&self, event: &WatchEvent) -> bool {
        match event {
            WatchEvent::Confirmed(kinds) => self.on_confirmed(*kinds).await,
            WatchEvent::RulePut(rule) => self.on_rule_put(rule),
            WatchEvent::RuleDelete(name) => self.on_rule_delete(name),
            _ => return false,
        }
        true
    }

    /// After every (re)established watch: (re)loads every rule for this plugin when the
    /// watch carries rules, else falls back to `role_to_recipients` (one warning). Changes
    /// made while disconnected are picked up by the reload. A failed reload keeps the
    /// rules known so far.
    pub async fn on_confirmed(&self, kinds: WatchedKinds) {
        if !kinds.access_monitoring_rules {
            self.unavailable("the watch does not carry access_monitoring_rule");
            return;
        }
        let filter = RuleFilter {
            subjects: vec![ACCESS_REQUEST_KIND.to_owned()],
            notification_name: self.plugin.clone(),
        };
        let listed = tokio::time::timeout(
            LOAD_TIMEOUT,
            self.client.list_access_monitoring_rules(&filter),
        )
        .await;
        let Ok(listed) = listed else {
            tracing::warn!(timeout = ?LOAD_TIMEOUT, "listing access monitoring rules timed out; keeping the rules known so far");
            return;
        };
        match listed {
            Ok(listed) => {
                let rules: BTreeMap<_, _> = listed
                    .iter()
                    .filter(|rule| self.applies(rule))
                    .map(|rule| (rule.name.clone(), compile(rule)))
                    .collect();
                tracing::info!(
                    count = rules.len(),
                    "loaded access monitoring rules for notification routing"
                );
                self.write(|s| {
                    s.status = RuleStatus::Active;
                    s.rules = rules;
                });
            }
            Err(error @ (ClientError::Unimplemented { .. } | ClientError::AccessDenied { .. })) => {
                self.unavailable(&error.to_string());
            }
            Err(error) => {
                tracing::warn!(%error, "cannot load access monitoring rules; keeping the rules known so far");
            }
        }
    }

    fn unavailable(&self, why: &str) {
        if !self.warned_unavailable.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                reason = why,
                "access monitoring rules are not available (Teleport older than v16, or the plugin's role lacks access_monitoring_rule: [list, read]); routing with role_to_recipients only"
            );
        }
        self.write(|s| {
            s.status = RuleStatus::Unavailable;
            s.rules.clear();
        });
    }

    /// A rule was created or changed: kept if it is for this plugin and access requests,
    /// dropped otherwise (it may have stopped applying).
    pub fn on_rule_put(&self, rule: &AccessMonitoringRule) {
        if self.applies(rule) {
            let compiled = compile(rule);
            tracing::info!(rule = %rule.name, "access monitoring rule updated");
            self.write(|s| s.rules.insert(rule.name.clone(), compiled));
        } else {
            self.on_rule_delete(&rule.name);
        }
    }

    /// A rule was deleted.
    pub fn on_rule_delete(&self, name: &str) {
        if self.write(|s| s.rules.remove(name)).is_some() {
            tracing::info!(rule = %name, "access monitoring rule removed");
        }
    }

    /// Go's test: the notification names this plugin and a subject is `access_request`.
    fn applies(&self, rule: &AccessMonitoringRule) -> bool {
        rule.notification
            .as_ref()
            .is_some_and(|n| n.name == self.plugin)
            && rule.subjects.iter().any(|s| s == ACCESS_REQUEST_KIND)
    }

    /// The recipients the rules route `request` to, reading the requester's traits only
    /// when a rule's condition needs them. `None`: no rule matched (or no rules, or the
    /// requester could not be read), so `role_to_recipients` applies as today.
    pub async fn recipients(&self, request: &AccessRequest) -> Option<Vec<String>> {
        let needs_traits = self.read(|s| {
            s.rules.values().any(|r| {
                r.condition
                    .as_ref()
                    .is_some_and(Condition::reads_user_traits)
            })
        });
        let traits = if needs_traits {
            match self.client.get_user(&request.user).await {
                Ok(user) => user.traits,
                // As Go: without `user: [read]` conditions see no traits.
                Err(ClientError::AccessDenied { .. }) => {
                    if !self.warned_traits.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "cannot read users for user.traits in access monitoring rules; add user: [read] to the plugin's role"
                        );
                    }
                    LabelValues::new()
                }
                Err(error) => {
                    tracing::warn!(%error, user = %request.user, "cannot read the requester for access monitoring rules; routing with role_to_recipients");
                    return None;
                }
            }
        } else {
            LabelValues::new()
        };
        self.recipients_for(request, &traits)
    }

    /// The union of the recipients of every rule whose condition matches `request` (rules
    /// in name order, each recipient once); `None` when that union is empty. A condition
    /// that does not parse or fails on this request is logged and skipped.
    pub fn recipients_for(
        &self,
        request: &AccessRequest,
        traits: &LabelValues,
    ) -> Option<Vec<String>> {
        let env = request_env(request, traits);
        let mut recipients: Vec<String> = Vec::new();
        self.read(|s| {
            for (name, rule) in &s.rules {
                let Some(condition) = &rule.condition else {
                    continue;
                };
                match condition.evaluate(&env) {
                    Ok(true) => {
                        tracing::debug!(rule = %name, request_id = %request.id, "access monitoring rule matches");
                        for recipient in &rule.recipients {
                            if !recipients.contains(recipient) {
                                recipients.push(recipient.clone());
                            }
                        }
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(rule = %name, request_id = %request.id, %error, "failed to evaluate access monitoring rule; skipping it");
                    }
                }
            }
        });
        (!recipients.is_empty()).then_some(recipients)
    }

    fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.write().unwrap_or_else(PoisonError::into_inner))
    }
}

fn compile(rule: &AccessMonitoringRule) -> Rule {
    let condition = match Condition::parse(&rule.condition) {
        Ok(condition) => Some(condition),
        Err(error) => {
            tracing::warn!(rule = %rule.name, %error, "access monitoring rule has a condition that cannot be parsed; skipping it");
            None
        }
    };
    Rule {
        recipients: rule
            .notification
            .as_ref()
            .map(|n| n.recipients.clone())
            .unwrap_or_default(),
        condition,
    }
}
