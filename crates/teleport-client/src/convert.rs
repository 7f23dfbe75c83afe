//! Conversions between the prost wire types and the plugin-facing model.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::model::{
    AccessList, AccessListOwner, AccessMonitoringRule, AccessRequest, AccessReview,
    AutomaticReview, ClusterInfo, LabelValues, RequestFilter, RequestState, ResourceId, Role,
    RuleNotification, User,
};
use crate::wire::teleport::accesslist::v1 as accesslist;
use crate::wire::teleport::accessmonitoringrules::v1 as amr;
use crate::wire::{proto, types, wrappers};

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) as Unix seconds: Teleport sends it
/// for non-nullable timestamps that were never set.
pub const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Reads a timestamp; absent and Go's zero time are both "unset".
pub fn timestamp(ts: Option<&prost_types::Timestamp>) -> Option<OffsetDateTime> {
    let ts = ts?;
    if ts.seconds <= GO_ZERO_TIME_SECONDS {
        return None;
    }
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// Writes a timestamp; unset stays absent (never Timestamp{0,0}, which Go reads as 1970).
pub fn to_timestamp(time: Option<OffsetDateTime>) -> Option<prost_types::Timestamp> {
    let time = time?;
    Some(prost_types::Timestamp {
        seconds: time.unix_timestamp(),
        nanos: i32::try_from(time.nanosecond()).unwrap_or(0),
    })
}

/// Reads a request state enum value, tolerating unknown values.
pub fn request_state(value: i32) -> RequestState {
    match types::RequestState::try_from(value) {
        Ok(types::RequestState::None) => RequestState::None,
        Ok(types::RequestState::Pending) => RequestState::Pending,
        Ok(types::RequestState::Approved) => RequestState::Approved,
        Ok(types::RequestState::Denied) => RequestState::Denied,
        Ok(types::RequestState::Promoted) => RequestState::Promoted,
        Err(_) => RequestState::Unknown(value),
    }
}

/// Writes a request state enum value.
pub fn to_request_state(state: RequestState) -> i32 {
    let wire = match state {
        RequestState::None => types::RequestState::None,
        RequestState::Pending => types::RequestState::Pending,
        RequestState::Approved => types::RequestState::Approved,
        RequestState::Denied => types::RequestState::Denied,
        RequestState::Promoted => types::RequestState::Promoted,
        RequestState::Unknown(value) => return value,
    };
    wire as i32
}

/// Reads `wrappers.LabelValues`.
pub fn label_values(values: Option<wrappers::LabelValues>) -> LabelValues {
    values
        .map(|v| v.values.into_iter().map(|(k, v)| (k, v.values)).collect())
        .unwrap_or_default()
}

/// Writes `wrappers.LabelValues`; empty stays absent.
pub fn to_label_values(values: &LabelValues) -> Option<wrappers::LabelValues> {
    if values.is_empty() {
        return None;
    }
    Some(wrappers::LabelValues {
        values: values
            .iter()
            .map(|(k, v)| (k.clone(), wrappers::StringValues { values: v.clone() }))
            .collect(),
    })
}

/// Reads an access request.
pub fn access_request(wire: types::AccessRequestV3) -> AccessRequest {
    let metadata = wire.metadata.unwrap_or_default();
    let spec = wire.spec.unwrap_or_default();
    AccessRequest {
        id: metadata.name,
        user: spec.user,
        roles: spec.roles,
        state: request_state(spec.state),
        created: timestamp(spec.created.as_ref()),
        access_expires: timestamp(spec.expires.as_ref()),
        resource_expires: timestamp(metadata.expires.as_ref())
            .or_else(|| timestamp(spec.resource_expiry.as_ref())),
        request_reason: spec.request_reason,
        resolve_reason: spec.resolve_reason,
        resolve_annotations: label_values(spec.resolve_annotations),
        system_annotations: label_values(spec.system_annotations),
        reviews: spec.reviews.into_iter().map(access_review).collect(),
        suggested_reviewers: spec.suggested_reviewers,
        resources: spec
            .requested_resource_i_ds
            .into_iter()
            .map(|r| ResourceId {
                cluster: r.cluster_name,
                kind: r.kind,
                name: r.name,
                sub_resource: r.sub_resource_name,
            })
            .collect(),
        max_duration: timestamp(spec.max_duration.as_ref()),
        promoted_access_list: spec.access_list.map(|l| l.title).filter(|t| !t.is_empty()),
    }
}

/// Reads a review.
pub fn access_review(wire: types::AccessReview) -> AccessReview {
    AccessReview {
        author: wire.author,
        proposed_state: request_state(wire.proposed_state),
        reason: wire.reason,
        created: timestamp(wire.created.as_ref()),
    }
}

/// Reads a Ping response.
pub fn cluster_info(wire: proto::PingResponse) -> ClusterInfo {
    ClusterInfo {
        cluster_name: wire.cluster_name,
        server_version: wire.server_version,
        advanced_access_workflows: wire
            .server_features
            .is_some_and(|f| f.advanced_access_workflows),
        proxy_public_addr: wire.proxy_public_addr,
    }
}

/// Reads a user.
pub fn user(wire: types::UserV2) -> User {
    let spec = wire.spec.unwrap_or_default();
    User {
        name: wire.metadata.unwrap_or_default().name,
        roles: spec.roles,
        traits: label_values(spec.traits),
    }
}

/// Reads a role.
pub fn role(wire: types::RoleV6) -> Role {
    let allow = wire.spec.unwrap_or_default().allow.unwrap_or_default();
    Role {
        name: wire.metadata.unwrap_or_default().name,
        logins: allow.logins,
        request_annotations: label_values(allow.request.and_then(|r| r.annotations)),
    }
}

/// Writes a request filter.
pub fn to_filter(filter: &RequestFilter) -> types::AccessRequestFilter {
    types::AccessRequestFilter {
        id: filter.id.clone().unwrap_or_default(),
        user: filter.user.clone().unwrap_or_default(),
        state: filter.state.map(to_request_state).unwrap_or(0),
        ..Default::default()
    }
}

/// Reads one plugin's entry out of a `GetPluginData` answer.
pub fn plugin_entry(seq: proto::PluginDataSeq, plugin: &str) -> Option<BTreeMap<String, String>> {
    seq.plugin_data
        .into_iter()
        .filter_map(|d| d.spec)
        .find_map(|mut spec| spec.entries.remove(plugin))
        .map(|entry| entry.data.into_iter().collect())
}

/// Every resource's entry of `plugin` in a listing, by resource name.
pub fn plugin_entries(
    seq: proto::PluginDataSeq,
    plugin: &str,
) -> Vec<(String, BTreeMap<String, String>)> {
    seq.plugin_data
        .into_iter()
        .filter_map(|d| {
            let name = d.metadata?.name;
            let entry = d.spec?.entries.remove(plugin)?;
            Some((name, entry.data.into_iter().collect()))
        })
        .collect()
}

/// Reads an access monitoring rule.
pub fn access_monitoring_rule(wire: amr::AccessMonitoringRule) -> AccessMonitoringRule {
    let spec = wire.spec.unwrap_or_default();
    AccessMonitoringRule {
        name: wire.metadata.unwrap_or_default().name,
        subjects: spec.subjects,
        states: spec.states,
        condition: spec.condition,
        notification: spec.notification.map(|n| RuleNotification {
            name: n.name,
            recipients: n.recipients,
        }),
        automatic_review: spec.automatic_review.map(|r| AutomaticReview {
            integration: r.integration,
            decision: r.decision,
        }),
        desired_state: spec.desired_state,
    }
}

/// Reads an access list.
pub fn access_list(wire: accesslist::AccessList) -> AccessList {
    let spec = wire.spec.unwrap_or_default();
    let audit = spec.audit.unwrap_or_default();
    let start = audit
        .notifications
        .and_then(|n| n.start)
        .unwrap_or_default();
    AccessList {
        name: wire
            .header
            .and_then(|h| h.metadata)
            .map(|m| m.name)
            .unwrap_or_default(),
        title: spec.title,
        owners: spec.owners.into_iter().map(access_list_owner).collect(),
        next_audit_date: timestamp(audit.next_audit_date.as_ref()),
        notification_start: time::Duration::new(start.seconds, start.nanos),
    }
}

/// Reads an access-list owner.
pub fn access_list_owner(wire: accesslist::AccessListOwner) -> AccessListOwner {
    AccessListOwner {
        name: wire.name,
        description: wire.description,
    }
}
