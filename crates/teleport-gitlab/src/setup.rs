//! Start-up provisioning of the project: the four `Teleport: …` labels and, in webhook mode,
//! the project hook — idempotent across restarts and across replicas starting together.
//!
//! Labels: a label whose name reduces to the same key (`teleport : approved` in any case
//! and spacing) is reused, as the Go plugin did; GitLab refuses a second label of the same
//! name, so concurrent creation cannot make two. Hooks carry no such guarantee, so after
//! creating one the plugin lists again and the oldest hook with its URL wins: a replica
//! whose hook lost deletes it, and surplus hooks left by earlier races are deleted too.

use crate::client::{GitlabApi, GitlabError, HookSpec, Label};

/// The labels the plugin sets, by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelKey {
    /// Waiting for a decision.
    Pending,
    /// Approved (set by a person to approve, or by the plugin when approved elsewhere).
    Approved,
    /// Denied.
    Denied,
    /// Expired or deleted before a decision.
    Expired,
}

impl LabelKey {
    /// All four, in the order they are set up.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Approved, Self::Denied, Self::Expired];

    /// `pending`, `approved`, …: what a label name reduces to.
    pub fn key(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }

    /// The name the plugin creates: `Teleport: Pending`, ….
    pub fn default_name(self) -> &'static str {
        match self {
            Self::Pending => "Teleport: Pending",
            Self::Approved => "Teleport: Approved",
            Self::Denied => "Teleport: Denied",
            Self::Expired => "Teleport: Expired",
        }
    }

    /// The Go plugin's colours.
    pub fn color(self) -> &'static str {
        match self {
            Self::Pending => "#FFECDB",
            Self::Approved => "#428BCA",
            Self::Denied => "#D9534F",
            Self::Expired => "#7F8C8D",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::Pending => "Teleport access request waiting for a decision",
            Self::Approved => "Add to approve the Teleport access request",
            Self::Denied => "Add to deny the Teleport access request",
            Self::Expired => "Teleport access request expired before a decision",
        }
    }
}

/// `Teleport: Approved`, `teleport : approved`, … → `approved`; `None` for other labels.
pub fn reduce(name: &str) -> Option<String> {
    let (prefix, rest) = name.split_once(':')?;
    if !prefix.trim().eq_ignore_ascii_case("teleport") {
        return None;
    }
    let key = rest.trim().to_lowercase();
    (!key.is_empty()).then_some(key)
}

/// The names of the plugin's labels in this project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelNames {
    /// Waiting for a decision.
    pub pending: String,
    /// Approved.
    pub approved: String,
    /// Denied.
    pub denied: String,
    /// Expired.
    pub expired: String,
}

impl Default for LabelNames {
    fn default() -> Self {
        Self {
            pending: LabelKey::Pending.default_name().to_owned(),
            approved: LabelKey::Approved.default_name().to_owned(),
            denied: LabelKey::Denied.default_name().to_owned(),
            expired: LabelKey::Expired.default_name().to_owned(),
        }
    }
}

impl LabelNames {
    /// The name for `key`.
    pub fn get(&self, key: LabelKey) -> &str {
        match key {
            LabelKey::Pending => &self.pending,
            LabelKey::Approved => &self.approved,
            LabelKey::Denied => &self.denied,
            LabelKey::Expired => &self.expired,
        }
    }

    fn set(&mut self, key: LabelKey, name: String) {
        match key {
            LabelKey::Pending => self.pending = name,
            LabelKey::Approved => self.approved = name,
            LabelKey::Denied => self.denied = name,
            LabelKey::Expired => self.expired = name,
        }
    }
}

/// The existing label to use for `key`: the plugin's own name if present, else the oldest
/// that reduces to the key.
fn existing_for(labels: &[Label], key: LabelKey) -> Option<&Label> {
    labels
        .iter()
        .find(|l| l.name == key.default_name())
        .or_else(|| {
            labels
                .iter()
                .filter(|l| reduce(&l.name).as_deref() == Some(key.key()))
                .min_by_key(|l| l.id)
        })
}

/// Finds or creates the four labels in `project`.
pub async fn setup_labels(api: &GitlabApi, project: u64) -> Result<LabelNames, GitlabError> {
    let existing = api.labels(project).await?;
    let mut names = LabelNames::default();
    for key in LabelKey::ALL {
        if let Some(label) = existing_for(&existing, key) {
            tracing::debug!(label = %label.name, "using the existing GitLab label");
            names.set(key, label.name.clone());
            continue;
        }
        match api
            .create_label(project, key.default_name(), key.color(), key.description())
            .await
        {
            Ok(label) => {
                tracing::info!(label = %label.name, "created the GitLab label");
                names.set(key, label.name);
            }
            // Another replica created it meanwhile.
            Err(GitlabError::Conflict { .. }) => {
                tracing::debug!(label = key.default_name(), "the label already exists");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(names)
}

/// `url` without `user:password@`, for logs.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                let _ = parsed.set_username("***");
                let _ = parsed.set_password(None);
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// Whether two hook URLs post to the same place. Credentials are left out: GitLab may show
/// a hook's URL with its user and password masked, and a hook whose password changed is
/// still ours (it is updated, not duplicated).
fn same_url(a: &str, b: &str) -> bool {
    let place = |url: &str| match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => url.trim_end_matches('/').to_owned(),
    };
    place(a) == place(b)
}

/// Makes sure exactly one hook of `project` posts to `spec.url`, with the current secret and
/// issue events; returns its ID.
pub async fn setup_hook(
    api: &GitlabApi,
    project: u64,
    spec: &HookSpec,
) -> Result<u64, GitlabError> {
    let shown = redacted(&spec.url);
    let mut created = None;
    // A few rounds: one to create, one to see whether another replica's hook came first,
    // and one more if a hook is deleted by someone between the listing and the update.
    for _ in 0..3 {
        let mut ours: Vec<u64> = api
            .hooks(project)
            .await?
            .into_iter()
            .filter(|h| same_url(&h.url, &spec.url))
            .map(|h| h.id)
            .collect();
        ours.sort_unstable();
        let Some(&keep) = ours.first() else {
            let hook = api.create_hook(project, spec).await?;
            tracing::info!(hook_id = hook.id, url = %shown, "registered the GitLab webhook");
            created = Some(hook.id);
            continue;
        };
        for &surplus in &ours[1..] {
            if created == Some(surplus) {
                tracing::info!(
                    hook_id = surplus,
                    kept = keep,
                    "another replica registered the webhook first; removing ours"
                );
            } else {
                tracing::warn!(hook_id = surplus, kept = keep, url = %shown, "removing a second GitLab webhook to the same URL");
            }
            match api.delete_hook(project, surplus).await {
                Ok(()) | Err(GitlabError::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        if created == Some(keep) {
            return Ok(keep);
        }
        match api.update_hook(project, keep, spec).await {
            Ok(_) => {
                tracing::info!(hook_id = keep, url = %shown, "GitLab webhook is registered");
                return Ok(keep);
            }
            Err(GitlabError::NotFound { .. }) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(GitlabError::Unexpected {
        reason: format!("the webhook to {shown} kept disappearing while it was set up"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_reduce_like_go() {
        assert_eq!(reduce("Teleport: Approved").as_deref(), Some("approved"));
        assert_eq!(reduce("  teleport :DENIED ").as_deref(), Some("denied"));
        assert_eq!(
            reduce("Teleport: Pending review").as_deref(),
            Some("pending review")
        );
        assert_eq!(reduce("teleporter: approved"), None);
        assert_eq!(reduce("approved"), None);
        assert_eq!(reduce("Teleport:"), None);
    }

    #[test]
    fn the_plugins_own_name_wins_then_the_oldest() {
        let label = |id, name: &str| Label {
            id,
            name: name.into(),
            color: String::new(),
        };
        let labels = [
            label(9, "teleport : pending"),
            label(3, "TELEPORT: PENDING"),
            label(12, "Teleport: Denied"),
            label(2, "teleport: denied"),
        ];
        assert_eq!(
            existing_for(&labels, LabelKey::Pending).map(|l| l.id),
            Some(3)
        );
        assert_eq!(
            existing_for(&labels, LabelKey::Denied).map(|l| l.id),
            Some(12)
        );
        assert_eq!(existing_for(&labels, LabelKey::Expired), None);
    }

    #[test]
    fn credentials_in_hook_urls_are_not_shown() {
        assert_eq!(
            redacted("https://user:pw@plugin.example.com/webhook"),
            "https://***@plugin.example.com/webhook"
        );
        assert_eq!(
            redacted("https://plugin.example.com/webhook"),
            "https://plugin.example.com/webhook"
        );
    }
}
