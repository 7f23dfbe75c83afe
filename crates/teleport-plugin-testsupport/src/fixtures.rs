//! Requests as the tests build and read them.

use std::time::{SystemTime, UNIX_EPOCH};

use teleport_client::{AccessRequest, RequestState};
use teleport_testkit::Testkit;
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

/// Milliseconds since the Unix epoch, as leases and look-up windows are written.
pub fn unix_millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis()
}

/// The `claim` of a replica that was killed while working on a request: a lease held by
/// another replica that lapsed a second ago, so the next replica takes it over.
pub fn lapsed_lease() -> String {
    format!("dead-replica {}", unix_millis(SystemTime::now()) - 1_000)
}

/// The request's state (as the wire's `RequestState` number) and how many reviews it has.
pub fn state_and_reviews(kit: &Testkit, request_id: &str) -> (i32, usize) {
    let spec = kit
        .get_request(request_id)
        .expect("the request exists")
        .spec
        .expect("the request has a spec");
    (spec.state, spec.reviews.len())
}
