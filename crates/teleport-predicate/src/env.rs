//! What a condition can see of an access request: the fields Teleport's access monitoring
//! rules expose as `access_request.spec.*` and `user.traits`.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::value::{Dict, Set};

/// The request (and its requester) a condition is evaluated against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRequestEnv {
    /// `access_request.spec.roles`
    pub roles: Vec<String>,
    /// `access_request.spec.suggested_reviewers`
    pub suggested_reviewers: Vec<String>,
    /// `access_request.spec.system_annotations`
    pub system_annotations: BTreeMap<String, Vec<String>>,
    /// `access_request.spec.user`
    pub user: String,
    /// `access_request.spec.request_reason`
    pub request_reason: String,
    /// `access_request.spec.creation_time` (unset reads as Go's zero time, year 1)
    pub creation_time: Option<OffsetDateTime>,
    /// `access_request.spec.expiry` (unset reads as Go's zero time)
    pub expiry: Option<OffsetDateTime>,
    /// `user.traits`: the requester's traits.
    pub user_traits: BTreeMap<String, Vec<String>>,
    /// The labels of each requested resource, for `access_request.spec.resource_labels_union`
    /// and `..._intersection`.
    pub requested_resource_labels: Vec<BTreeMap<String, String>>,
}

impl AccessRequestEnv {
    pub(crate) fn labels_union(&self) -> Dict {
        let mut union = Dict::new();
        for labels in &self.requested_resource_labels {
            for (key, value) in labels {
                union.entry(key.clone()).or_default().insert(value.clone());
            }
        }
        union
    }

    /// Labels every requested resource carries with the same value (none without resources).
    pub(crate) fn labels_intersection(&self) -> Dict {
        let Some((first, rest)) = self.requested_resource_labels.split_first() else {
            return Dict::new();
        };
        first
            .iter()
            .filter(|(key, value)| rest.iter().all(|labels| labels.get(*key) == Some(value)))
            .map(|(key, value)| (key.clone(), Set::from([value.clone()])))
            .collect()
    }
}

pub(crate) fn dict(map: &BTreeMap<String, Vec<String>>) -> Dict {
    map.iter()
        .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
        .collect()
}

/// Go's zero `time.Time`, what an unset time reads as.
pub(crate) fn go_zero_time() -> OffsetDateTime {
    // 0001-01-01T00:00:00Z; the constant is in range, so the fallback is never taken.
    OffsetDateTime::from_unix_timestamp(-62_135_596_800).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
