//! The current identity, re-read from disk when tbot (or an operator) renews it.

use std::sync::Mutex;
use std::time::Duration;

use crate::credentials::{CredentialsSource, Identity};
use crate::error::CredentialsError;

/// Holds the identity in use and notices when its files change.
pub(crate) struct IdentityStore {
    source: CredentialsSource,
    state: Mutex<Loaded>,
}

struct Loaded {
    identity: Identity,
    /// The files' bytes when last loaded: a change means a renewal.
    raw: Vec<u8>,
}

/// What a refresh found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refresh {
    Unchanged,
    Renewed,
}

impl IdentityStore {
    pub(crate) fn load(source: CredentialsSource) -> Result<Self, CredentialsError> {
        let raw = read_raw(&source);
        let identity = source.load()?;
        Ok(Self {
            source,
            state: Mutex::new(Loaded { identity, raw }),
        })
    }

    pub(crate) fn current(&self) -> Identity {
        self.lock().identity.clone()
    }

    /// The identity a new connection should use: re-reads the files first so
    /// that a renewed certificate is picked up by the very next connection.
    pub(crate) fn current_for_connect(&self) -> Identity {
        if let Err(error) = self.refresh() {
            tracing::warn!(%error, "renewed credentials are not usable yet; keeping the previous ones");
        }
        self.current()
    }

    /// Re-reads the files; swaps the identity when they changed and are valid.
    pub(crate) fn refresh(&self) -> Result<Refresh, CredentialsError> {
        let raw = read_raw(&self.source);
        if raw == self.lock().raw {
            return Ok(Refresh::Unchanged);
        }
        let identity = self.source.load()?;
        tracing::info!(
            user = identity.username(),
            not_after = %identity.not_after(),
            "loaded renewed Teleport credentials"
        );
        let mut state = self.lock();
        state.identity = identity;
        state.raw = raw;
        Ok(Refresh::Renewed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        // A panic while holding this lock cannot leave it half-updated (both
        // fields are assigned after all fallible work), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn read_raw(source: &CredentialsSource) -> Vec<u8> {
    let mut raw = Vec::new();
    for path in source.files() {
        match std::fs::read(path) {
            Ok(bytes) => raw.extend(bytes),
            Err(_) => raw.extend(b"\0missing\0"),
        }
    }
    raw
}

/// When to start warning that a certificate is about to expire: in the last
/// third of its lifetime, but no earlier than a week before (a one-year
/// `tctl auth sign` certificate should not warn for four months).
pub fn expiry_warning_window(identity: &Identity) -> Duration {
    let lifetime: Duration = (identity.not_after() - identity.not_before())
        .try_into()
        .unwrap_or_default();
    (lifetime / 3).min(Duration::from_secs(7 * 24 * 3600))
}
