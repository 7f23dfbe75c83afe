//! GetPluginData / UpdatePluginData with Teleport's compare-and-swap rules.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use prost_types::Timestamp;
use teleport_client::wire::types::{
    Metadata, PluginDataFilter, PluginDataSpecV3, PluginDataUpdateParams, PluginDataV3,
};
use tonic::Status;

use crate::requests::not_found;
use crate::state::{KIND_ACCESS_LIST, KIND_ACCESS_REQUEST, NAMESPACE, State, spec};
use crate::timestamps;

/// Access-list plugin data lives two weeks past its last update, like Teleport's.
const ACCESS_LIST_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
/// Access-request plugin data outlives the request's access expiry by an hour.
const AFTER_REQUEST_EXPIRY: Duration = Duration::from_secs(3600);

fn check_kind(kind: &str) -> Result<(), Status> {
    if kind == KIND_ACCESS_REQUEST || kind == KIND_ACCESS_LIST {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "unsupported resource kind {kind:?} for plugin data"
        )))
    }
}

impl State {
    /// GetPluginData: 0 or 1 objects per resource (all resources of the kind when `Resource`
    /// is empty); an absent entry is an empty list, never NOT_FOUND. Objects carry every
    /// plugin's entry; `Plugin` only requires that plugin's entry to exist.
    pub(crate) fn get_plugin_data(
        &self,
        filter: &PluginDataFilter,
    ) -> Result<Vec<PluginDataV3>, Status> {
        check_kind(&filter.kind)?;
        let has_plugin = |data: &PluginDataV3| {
            filter.plugin.is_empty()
                || data
                    .spec
                    .as_ref()
                    .is_some_and(|s| s.entries.contains_key(&filter.plugin))
        };
        if !filter.resource.is_empty() {
            // One resource is a key read, as in Teleport's backend: a scan here would make
            // every benchmark with thousands of records measure the test server.
            let key = (filter.kind.clone(), filter.resource.clone());
            return Ok(self
                .plugin_data
                .get(&key)
                .filter(|data| has_plugin(data))
                .cloned()
                .into_iter()
                .collect());
        }
        Ok(self
            .plugin_data
            .iter()
            .filter(|((kind, _), _)| *kind == filter.kind)
            .map(|(_, data)| data)
            .filter(|data| has_plugin(data))
            .cloned()
            .collect())
    }

    /// UpdatePluginData: create-on-first-write, `Expect` CAS, `Set` with "" deleting keys.
    pub(crate) fn update_plugin_data(
        &mut self,
        params: PluginDataUpdateParams,
    ) -> Result<(), Status> {
        check_kind(&params.kind)?;
        if params.resource.is_empty() {
            return Err(Status::invalid_argument("missing resource name"));
        }
        if params.plugin.is_empty() {
            return Err(Status::invalid_argument("missing plugin name"));
        }
        if params.set.is_empty() {
            return Err(Status::invalid_argument("missing parameter set"));
        }
        let key = (params.kind.clone(), params.resource.clone());
        let existing = self.plugin_data.get(&key);
        // The request must exist only when its plugin data is first created; existing data
        // stays writable after the request is gone, as in Teleport.
        let expires = match params.kind.as_str() {
            KIND_ACCESS_REQUEST if existing.is_none() => {
                let request = self
                    .requests
                    .get(&params.resource)
                    .ok_or_else(|| not_found(&params.resource))?;
                spec(request)
                    .expires
                    .as_ref()
                    .filter(|ts| !timestamps::is_unset(Some(ts)))
                    .and_then(timestamps::to_system)
                    .map(|at| Timestamp::from(at + AFTER_REQUEST_EXPIRY))
            }
            KIND_ACCESS_REQUEST => None,
            _ => Some(Timestamp::from(SystemTime::now() + ACCESS_LIST_TTL)),
        };
        let current = existing
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.entries.get(&params.plugin))
            .map(|e| &e.data);
        check_expect(&params.expect, current)?;

        let data = self.plugin_data.entry(key).or_insert_with(|| PluginDataV3 {
            kind: "plugin_data".to_owned(),
            sub_kind: params.kind.clone(),
            version: "v3".to_owned(),
            metadata: Some(Metadata {
                name: params.resource.clone(),
                namespace: NAMESPACE.to_owned(),
                expires,
                ..Default::default()
            }),
            spec: Some(PluginDataSpecV3::default()),
        });
        if params.kind == KIND_ACCESS_LIST
            && let Some(metadata) = data.metadata.as_mut()
        {
            metadata.expires = expires;
        }
        let entries = &mut data.spec.get_or_insert_with(Default::default).entries;
        let entry = entries.entry(params.plugin.clone()).or_default();
        for (k, v) in params.set {
            if v.is_empty() {
                entry.data.remove(&k);
            } else {
                entry.data.insert(k, v);
            }
        }
        if entry.data.is_empty() {
            entries.remove(&params.plugin);
        }
        Ok(())
    }

    /// Test-side seeding of one plugin's entry, bypassing CAS (e.g. data a Go plugin left).
    pub(crate) fn put_plugin_data(
        &mut self,
        kind: &str,
        resource: &str,
        plugin: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), Status> {
        let mut set: BTreeMap<String, String> = self
            .plugin_data
            .get(&(kind.to_owned(), resource.to_owned()))
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.entries.get(plugin))
            .map(|e| e.data.keys().map(|k| (k.clone(), String::new())).collect())
            .unwrap_or_default();
        set.extend(data);
        if set.is_empty() {
            return Ok(());
        }
        self.update_plugin_data(PluginDataUpdateParams {
            kind: kind.to_owned(),
            resource: resource.to_owned(),
            plugin: plugin.to_owned(),
            set,
            expect: BTreeMap::new(),
        })
    }
}

/// Teleport's CAS: an empty `Expect` checks nothing; with no entry yet every expected value
/// must be ""; otherwise each expected key must equal the stored value ("" ≙ absent).
fn check_expect(
    expect: &BTreeMap<String, String>,
    current: Option<&BTreeMap<String, String>>,
) -> Result<(), Status> {
    let mismatch = match current {
        _ if expect.is_empty() => None,
        None => expect.iter().find(|(_, v)| !v.is_empty()),
        Some(stored) => expect
            .iter()
            .find(|(k, v)| stored.get(*k).map_or("", String::as_str) != v.as_str()),
    };
    match mismatch {
        None => Ok(()),
        Some((key, _)) => Err(Status::failed_precondition(format!(
            "plugin data expectation mismatch on key {key:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::check_expect;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cas_rules() {
        let stored = map(&[("a", "1")]);
        assert!(check_expect(&map(&[]), Some(&stored)).is_ok());
        assert!(check_expect(&map(&[("a", "")]), None).is_ok());
        assert!(check_expect(&map(&[("a", "1")]), None).is_err());
        assert!(check_expect(&map(&[("a", "1"), ("b", "")]), Some(&stored)).is_ok());
        assert!(check_expect(&map(&[("a", "2")]), Some(&stored)).is_err());
        assert!(check_expect(&map(&[("a", "")]), Some(&stored)).is_err());
    }
}
