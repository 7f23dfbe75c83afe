//! The requested resources' names as the Go messaging plugins show and store them: a
//! resource with a friendly name as `<kind>/<friendly name>` (a node as `node/web-1`, an
//! Okta group as `user_group/Engineering`), any other as Teleport's `/<cluster>/<kind>/<name>`.
//!
//! Go looks the names up with `ListResources` (the plugin's `search_as_roles` and
//! `preview_as_roles`), once per cluster and kind, for kinds `node`, `app`, `user_group` and
//! `identity_center_account`, and names a resource by Go's `types.FriendlyName`: an
//! Okta-imported resource's Okta name, else a server's hostname. We look up the first three;
//! an Identity Center account is neither Okta-imported nor a server, so Go never finds a
//! friendly name for it and shows its ID, as we do without the call. A request naming none
//! of those kinds costs no call. Go fails the whole event when the lookup fails, so its
//! message is not sent; here a refused or failed lookup falls back to the IDs with a warning
//! (a connection problem is retried like any Teleport call), so the message always goes out.
//! Names are kept a few minutes in a small cache: requests for the same hosts arrive in bursts.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use teleport_client::{AccessRequest, ClientError, ResourceId, TeleportClient};

/// The kinds whose friendly names are looked up.
const LOOKED_UP: [&str; 3] = ["node", "app", "user_group"];
/// Names kept at most; past it the cache drops what expired, else starts over.
const CACHE_CAPACITY: usize = 1024;
/// How long a looked-up name (or its absence) is believed.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// (cluster, kind, name) of a requested resource.
type Key = (String, String, String);

/// Looks friendly names up, through a small cache.
pub(crate) struct ResourceNames {
    client: TeleportClient,
    cache: Mutex<HashMap<Key, (Option<String>, Instant)>>,
}

impl ResourceNames {
    pub(crate) fn new(client: TeleportClient) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The names to show and store for `request`'s resources, in the request's order;
    /// `None` when no resource is of a looked-up kind (no call made: the IDs stand).
    pub(crate) async fn names(
        &self,
        request: &AccessRequest,
    ) -> Result<Option<Vec<String>>, ClientError> {
        if !request
            .resources
            .iter()
            .any(|r| LOOKED_UP.contains(&r.kind.as_str()))
        {
            return Ok(None);
        }
        let mut found: HashMap<Key, Option<String>> = HashMap::new();
        let mut missing: Vec<&ResourceId> = Vec::new();
        for resource in request
            .resources
            .iter()
            .filter(|r| LOOKED_UP.contains(&r.kind.as_str()))
        {
            match self.cached(&key(resource)) {
                Some(name) => {
                    found.insert(key(resource), name);
                }
                None => missing.push(resource),
            }
        }
        // One call per cluster and kind, as Go (a leaf cluster's names are asked of this
        // cluster too: Go does the same, and finds none).
        let mut groups: Vec<((&str, &str), Vec<String>)> = Vec::new();
        for resource in missing {
            let group = (resource.cluster.as_str(), resource.kind.as_str());
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, names)) => names.push(resource.name.clone()),
                None => groups.push((group, vec![resource.name.clone()])),
            }
        }
        for ((cluster, kind), names) in groups {
            let listed = match self.client.resources_named(kind, &names).await {
                Ok(listed) => listed,
                Err(error) if error.is_connection_problem() => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "cannot look up the requested resources' names; showing their IDs (does the plugin's role allow listing them, with review_requests.preview_as_roles?)");
                    return Ok(None);
                }
            };
            for name in names {
                let friendly = listed
                    .iter()
                    .find(|r| r.kind == kind && r.name == name)
                    .and_then(|r| r.friendly_name.clone());
                let key = (cluster.to_owned(), kind.to_owned(), name);
                self.remember(key.clone(), friendly.clone());
                found.insert(key, friendly);
            }
        }
        Ok(Some(
            request
                .resources
                .iter()
                // Go matches on cluster/kind/name: a resource with a sub-resource keeps its ID.
                .map(|resource| match found.get(&key(resource)) {
                    Some(Some(friendly)) if resource.sub_resource.is_empty() => {
                        format!("{}/{friendly}", resource.kind)
                    }
                    _ => resource.to_string(),
                })
                .collect(),
        ))
    }

    fn cached(&self, key: &Key) -> Option<Option<String>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(name, _)| name.clone())
    }

    fn remember(&self, key: Key, name: Option<String>) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key, (name, Instant::now()));
    }
}

fn key(resource: &ResourceId) -> Key {
    (
        resource.cluster.clone(),
        resource.kind.clone(),
        resource.name.clone(),
    )
}
