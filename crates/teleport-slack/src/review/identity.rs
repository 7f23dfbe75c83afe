//! Who clicked: a Slack user mapped to a Teleport user as Go does — the one user whose
//! `slack_user_id_trait` holds the Slack user ID, else (only with
//! `allow_email_username_match`) the user named by the Slack profile's e-mail — cached for
//! 10 minutes like Go's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use teleport_client::{ClientError, TeleportClient};

use crate::client::{HttpsSlackConnector, SlackApi, SlackError};
use crate::config::ReviewConfig;

/// How long a mapping is reused, as Go's cache.
const CACHE_TTL: Duration = Duration::from_secs(600);

/// Why a clicker maps to no Teleport user (or the lookup failed).
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// Nobody matches: the clicker may review nothing.
    #[error("no Teleport user has trait {trait_name:?} = this Slack user ID{email}")]
    NoMatch {
        /// The configured trait.
        trait_name: String,
        /// Why the e-mail fallback did not help, when it is allowed.
        email: &'static str,
    },
    /// Several users match: ambiguous, so nobody is chosen.
    #[error("{0} Teleport users have trait {1:?} = this Slack user ID")]
    Ambiguous(usize, String),
    /// Teleport could not be asked.
    #[error("cannot look up Teleport users: {0}")]
    Teleport(#[from] ClientError),
    /// Slack could not be asked for the e-mail.
    #[error("cannot look up the Slack user's e-mail: {0}")]
    Slack(#[from] SlackError),
}

/// Maps Slack user IDs to Teleport user names.
pub struct UserMapper {
    config: ReviewConfig,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl UserMapper {
    /// A mapper following `[review]`.
    pub fn new(config: ReviewConfig) -> Self {
        Self {
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The Teleport user name for `slack_user`. Failures are not cached, so a user who was
    /// just given the trait can retry at once.
    pub async fn teleport_user(
        &self,
        teleport: &TeleportClient,
        slack: &SlackApi<HttpsSlackConnector>,
        slack_user: &str,
    ) -> Result<String, MappingError> {
        if let Some(name) = self.cached(slack_user) {
            return Ok(name);
        }
        let name = self.resolve(teleport, slack, slack_user).await?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(slack_user.to_owned(), (name.clone(), Instant::now()));
        Ok(name)
    }

    fn cached(&self, slack_user: &str) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(slack_user)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(name, _)| name.clone())
    }

    async fn resolve(
        &self,
        teleport: &TeleportClient,
        slack: &SlackApi<HttpsSlackConnector>,
        slack_user: &str,
    ) -> Result<String, MappingError> {
        let trait_name = &self.config.slack_user_id_trait;
        if !trait_name.is_empty() && !slack_user.is_empty() {
            // Matched here rather than with ListUsers' trait filter: the listing is then
            // right on every Teleport version, whether or not it knows the filter.
            let mut matches: Vec<String> = teleport
                .list_users()
                .await?
                .into_iter()
                .filter(|user| {
                    user.traits
                        .get(trait_name)
                        .is_some_and(|values| values.iter().any(|v| v == slack_user))
                })
                .map(|user| user.name)
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches.remove(0)),
                n => return Err(MappingError::Ambiguous(n, trait_name.clone())),
            }
        }
        let no_match = |email| MappingError::NoMatch {
            trait_name: trait_name.clone(),
            email,
        };
        if !self.config.allow_email_username_match {
            return Err(no_match(""));
        }
        let Some(email) = slack.user_email(slack_user).await? else {
            return Err(no_match(", and the Slack profile has no e-mail"));
        };
        match teleport.get_user(&email).await {
            Ok(user) => Ok(user.name),
            Err(ClientError::NotFound { .. }) => Err(no_match(
                ", and no Teleport user is named by the Slack e-mail",
            )),
            Err(err) => Err(err.into()),
        }
    }
}
