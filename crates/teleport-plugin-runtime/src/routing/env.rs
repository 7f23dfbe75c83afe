//! The view of an access request that rule conditions evaluate against.

use teleport_client::{AccessRequest, LabelValues};
use teleport_predicate::AccessRequestEnv;

/// `request` and its requester's `traits` as the condition language sees them (the fields
/// Go's plugins fill in; requested resources' labels are not looked up).
pub fn request_env(request: &AccessRequest, traits: &LabelValues) -> AccessRequestEnv {
    AccessRequestEnv {
        roles: request.roles.clone(),
        suggested_reviewers: request.suggested_reviewers.clone(),
        system_annotations: request.system_annotations.clone(),
        user: request.user.clone(),
        request_reason: request.request_reason.clone(),
        creation_time: request.created,
        // Go passes the request resource's expiry (its TTL), not the access expiry.
        expiry: request.resource_expires,
        user_traits: traits.clone(),
        requested_resource_labels: Vec::new(),
    }
}
