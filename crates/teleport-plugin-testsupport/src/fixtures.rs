//! Requests as the tests build and read them.

use teleport_client::{AccessRequest, RequestState};
use teleport_testkit::wire::types::AccessRequestV3;

/// The ID (metadata name) of a request the testkit created.
pub fn request_id(request: &AccessRequestV3) -> String {
    request.metadata.as_ref().expect("metadata").name.clone()
}

/// A pending request as plugins see it, with everything not given left empty.
pub fn access_request(id: &str, user: &str, roles: &[&str], reason: &str) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        user: user.into(),
        roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        state: RequestState::Pending,
        request_reason: reason.into(),
        ..Default::default()
    }
}

/// Plugin data as a record's codec reads it, from `(key, value)` pairs.
pub fn plugin_data(pairs: &[(&str, &str)]) -> teleport_client::PluginDataMap {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}
