//! A builder for access requests created by the test (as if a user ran `tsh request create`).

use std::time::SystemTime;

use prost_types::Timestamp;
use teleport_client::wire::types::{
    AccessRequestSpecV3, AccessRequestV3, AccessReviewThreshold, Metadata, ResourceId,
};
use teleport_client::wire::wrappers::{LabelValues, StringValues};

use crate::error::Result;
use crate::state::Caller;
use crate::testkit::Testkit;

/// An access request being put together; [`create`](Self::create) stores it and emits PUT.
#[must_use = "call .create()"]
pub struct NewRequest<'a> {
    testkit: &'a Testkit,
    request: AccessRequestV3,
}

impl Testkit {
    /// Creates a PENDING request by `user` for `roles` with a reason; emits PUT.
    pub fn create_request(
        &self,
        user: &str,
        roles: &[&str],
        reason: &str,
    ) -> Result<AccessRequestV3> {
        self.new_request(user, roles).reason(reason).create()
    }

    /// Starts a request by `user` for `roles` (may be empty when resources are added).
    pub fn new_request(&self, user: &str, roles: &[&str]) -> NewRequest<'_> {
        NewRequest {
            testkit: self,
            request: AccessRequestV3 {
                metadata: Some(Metadata::default()),
                spec: Some(AccessRequestSpecV3 {
                    user: user.to_owned(),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }
}

impl NewRequest<'_> {
    fn spec(&mut self) -> &mut AccessRequestSpecV3 {
        self.request.spec.get_or_insert_with(Default::default)
    }

    /// Uses a fixed id instead of a fresh UUID.
    pub fn id(mut self, id: &str) -> Self {
        self.request
            .metadata
            .get_or_insert_with(Default::default)
            .name = id.to_owned();
        self
    }

    /// `RequestReason`.
    pub fn reason(mut self, reason: &str) -> Self {
        self.spec().request_reason = reason.to_owned();
        self
    }

    /// `SuggestedReviewers`.
    pub fn suggested_reviewers(mut self, reviewers: &[&str]) -> Self {
        self.spec().suggested_reviewers = reviewers.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// Adds one `SystemAnnotations` key (e.g. `pagerduty_services`).
    pub fn system_annotation(mut self, key: &str, values: &[&str]) -> Self {
        let annotations = self
            .spec()
            .system_annotations
            .get_or_insert_with(LabelValues::default);
        annotations.values.insert(
            key.to_owned(),
            StringValues {
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            },
        );
        self
    }

    /// Adds a requested resource of this cluster (`kind` e.g. `node`, `name` its name).
    pub fn resource(mut self, kind: &str, name: &str) -> Self {
        let cluster_name = self.testkit.cluster_name().to_owned();
        self.spec().requested_resource_i_ds.push(ResourceId {
            cluster_name,
            kind: kind.to_owned(),
            name: name.to_owned(),
            sub_resource_name: String::new(),
        });
        self
    }

    /// Access expiry (`Spec.Expires`); plugin data created for the request expires an hour later.
    pub fn access_expires(mut self, at: SystemTime) -> Self {
        self.spec().expires = Some(Timestamp::from(at));
        self
    }

    /// The pending request's own TTL (`Metadata.Expires`).
    pub fn request_expires(mut self, at: SystemTime) -> Self {
        self.request
            .metadata
            .get_or_insert_with(Default::default)
            .expires = Some(Timestamp::from(at));
        self
    }

    /// `MaxDuration` (a timestamp on the wire).
    pub fn max_duration(mut self, until: SystemTime) -> Self {
        self.spec().max_duration = Some(Timestamp::from(until));
        self
    }

    /// Adds a review threshold; with any thresholds the default 1/1 no longer applies.
    pub fn threshold(mut self, name: &str, approve: u32, deny: u32) -> Self {
        self.spec().thresholds.push(AccessReviewThreshold {
            name: name.to_owned(),
            filter: String::new(),
            approve,
            deny,
        });
        self
    }

    /// `LoginHint`.
    pub fn login_hint(mut self, login: &str) -> Self {
        self.spec().login_hint = login.to_owned();
        self
    }

    /// Stores the request as PENDING and emits PUT; returns it in wire form.
    pub fn create(self) -> Result<AccessRequestV3> {
        let request = self.request;
        Ok(self
            .testkit
            .shared
            .mutate(|state| state.create_request(request, Caller::Admin))?)
    }
}
