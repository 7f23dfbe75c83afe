//! Access-request operations with Teleport's semantics: create, delete, set state, filter, list.

use std::cmp::Ordering;

use teleport_client::wire::proto::{
    AccessRequestSort, ListAccessRequestsRequest, ListAccessRequestsResponse, RequestStateSetter,
};
use teleport_client::wire::types::{
    AccessRequestFilter, AccessRequestScope, AccessRequestV3, RequestState,
};
use tonic::Status;

use crate::review;
use crate::state::{
    Caller, KIND_ACCESS_REQUEST, NAMESPACE, Resolution, State, metadata_mut, new_revision,
    request_id, request_state, spec, spec_mut,
};
use crate::timestamps;

/// Page size when `Limit` is 0, and the largest accepted `Limit`.
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: i32 = 16_000;

impl State {
    /// CreateAccessRequestV2: fills id, created time and PENDING state, stores, emits PUT.
    pub(crate) fn create_request(
        &mut self,
        mut request: AccessRequestV3,
        caller: Caller<'_>,
    ) -> Result<AccessRequestV3, Status> {
        normalize_incoming(&mut request);
        request.kind = KIND_ACCESS_REQUEST.to_owned();
        if request.version.is_empty() {
            request.version = "v3".to_owned();
        }
        let metadata = metadata_mut(&mut request);
        if metadata.name.is_empty() {
            metadata.name = uuid::Uuid::new_v4().to_string();
        }
        metadata.namespace = NAMESPACE.to_owned();
        metadata.revision = new_revision();
        let id = metadata.name.clone();
        if self.requests.contains_key(&id) {
            return Err(Status::already_exists(format!(
                "access request {id:?} already exists"
            )));
        }
        let spec = spec_mut(&mut request);
        if spec.user.is_empty() {
            spec.user = caller
                .name()
                .ok_or_else(|| Status::invalid_argument("missing user"))?
                .to_owned();
        }
        if spec.roles.is_empty() && spec.requested_resource_i_ds.is_empty() {
            return Err(Status::invalid_argument(
                "access request must name at least one role or resource",
            ));
        }
        spec.state = RequestState::Pending as i32;
        spec.reviews.clear();
        spec.resolve_reason.clear();
        if spec.created.is_none() {
            spec.created = Some(timestamps::now());
        }
        self.requests.insert(id, request.clone());
        self.emit_put(&request);
        Ok(self.outgoing(&request))
    }

    /// DeleteAccessRequest (and test-side expiry): removes the request and emits DELETE.
    pub(crate) fn delete_request(&mut self, id: &str) -> Result<(), Status> {
        if self.requests.remove(id).is_none() {
            return Err(not_found(id));
        }
        self.watchers.emit_delete(id);
        Ok(())
    }

    /// SetAccessRequestState.
    pub(crate) fn set_request_state(
        &mut self,
        setter: RequestStateSetter,
        caller: Caller<'_>,
    ) -> Result<(), Status> {
        let state = RequestState::try_from(setter.state).unwrap_or(RequestState::None);
        match state {
            RequestState::Promoted => {
                return Err(Status::invalid_argument(
                    "promoting access requests is done by access-list owners, not SetAccessRequestState",
                ));
            }
            RequestState::None => {
                return Err(Status::invalid_argument("missing request state"));
            }
            _ => {}
        }
        let current = self
            .requests
            .get(&setter.id)
            .ok_or_else(|| not_found(&setter.id))?;
        if let Caller::User(name) = caller
            && spec(current).user == name
        {
            return Err(Status::permission_denied(
                "users cannot resolve their own access requests",
            ));
        }
        if request_state(current) == RequestState::Denied && state != RequestState::Denied {
            return Err(Status::invalid_argument(format!(
                "cannot set request state {} (already denied)",
                state.as_str_name()
            )));
        }
        if !setter.roles.is_empty() {
            let requested = &spec(current).roles;
            if let Some(extra) = setter.roles.iter().find(|r| !requested.contains(r)) {
                return Err(Status::invalid_argument(format!(
                    "role {extra:?} was not requested"
                )));
            }
        }
        self.resolutions.push(Resolution {
            request_id: setter.id.clone(),
            state,
            delegator: setter.delegator.clone(),
            reason: setter.reason.clone(),
            caller: caller.name().map(str::to_owned),
        });
        self.update_request(&setter.id, |request| {
            let spec = spec_mut(request);
            spec.state = state as i32;
            spec.resolve_reason = setter.reason;
            if setter.annotations.is_some() {
                spec.resolve_annotations = setter.annotations;
            }
            if !setter.roles.is_empty() {
                spec.roles = setter.roles;
            }
            if !timestamps::is_unset(setter.assume_start_time.as_ref()) {
                spec.assume_start_time = setter.assume_start_time;
            }
        });
        Ok(())
    }

    /// Requests matching a filter, sorted by id. `caller` resolves the `Scope` field.
    pub(crate) fn matching_requests(
        &self,
        filter: &AccessRequestFilter,
        caller: Caller<'_>,
    ) -> Vec<AccessRequestV3> {
        self.requests
            .values()
            .filter(|r| self.filter_matches(filter, r, caller))
            .map(|r| self.outgoing(r))
            .collect()
    }

    fn filter_matches(
        &self,
        filter: &AccessRequestFilter,
        request: &AccessRequestV3,
        caller: Caller<'_>,
    ) -> bool {
        let spec = spec(request);
        let id_ok = filter.id.is_empty() || filter.id == request_id(request);
        let user_ok = filter.user.is_empty() || filter.user == spec.user;
        let state_ok = filter.state == RequestState::None as i32 || filter.state == spec.state;
        let keywords_ok = filter.search_keywords.iter().all(|keyword| {
            let keyword = keyword.to_lowercase();
            [request_id(request), &spec.user, &spec.request_reason]
                .into_iter()
                .chain(spec.roles.iter().map(String::as_str))
                .any(|field| field.to_lowercase().contains(&keyword))
        });
        let scope_ok = match (AccessRequestScope::try_from(filter.scope), caller) {
            (Ok(AccessRequestScope::MyRequests), Caller::User(me)) => spec.user == me,
            (Ok(AccessRequestScope::NeedsReview), Caller::User(me)) => {
                request_state(request) == RequestState::Pending
                    && spec.user != me
                    && !spec.reviews.iter().any(|r| r.author == me)
                    && review::may_review(self, me, request).is_ok()
            }
            (Ok(AccessRequestScope::Reviewed), Caller::User(me)) => {
                spec.reviews.iter().any(|r| r.author == me)
            }
            _ => true,
        };
        id_ok && user_ok && state_ok && keywords_ok && scope_ok
    }

    /// ListAccessRequests: sorted, paged by `StartKey`/`NextKey` (both request ids).
    pub(crate) fn list_requests(
        &self,
        list: &ListAccessRequestsRequest,
        caller: Caller<'_>,
    ) -> Result<ListAccessRequestsResponse, Status> {
        let limit = match list.limit {
            0 => DEFAULT_PAGE,
            n if !(0..=MAX_PAGE).contains(&n) => {
                return Err(Status::invalid_argument(format!(
                    "limit {n} is out of range (1..={MAX_PAGE})"
                )));
            }
            n => n as usize,
        };
        let filter = list.filter.clone().unwrap_or_default();
        let mut all = self.matching_requests(&filter, caller);
        let sort = AccessRequestSort::try_from(list.sort).unwrap_or(AccessRequestSort::Default);
        all.sort_by(|a, b| compare(sort, a, b));
        if list.descending {
            all.reverse();
        }
        let start = if list.start_key.is_empty() {
            0
        } else {
            match all.iter().position(|r| request_id(r) == list.start_key) {
                Some(index) => index,
                // The start request vanished: with id order the position is still defined.
                None if sort == AccessRequestSort::Default => all
                    .iter()
                    .position(|r| {
                        let ord = request_id(r).cmp(list.start_key.as_str());
                        if list.descending {
                            ord == Ordering::Less
                        } else {
                            ord == Ordering::Greater
                        }
                    })
                    .unwrap_or(all.len()),
                None => all.len(),
            }
        };
        let page: Vec<AccessRequestV3> = all.iter().skip(start).take(limit).cloned().collect();
        let next_key = all
            .get(start + limit)
            .map(|r| request_id(r).to_owned())
            .unwrap_or_default();
        Ok(ListAccessRequestsResponse {
            access_requests: page,
            next_key,
        })
    }
}

fn compare(sort: AccessRequestSort, a: &AccessRequestV3, b: &AccessRequestV3) -> Ordering {
    let (sa, sb) = (spec(a), spec(b));
    let primary = match sort {
        AccessRequestSort::Default => Ordering::Equal,
        AccessRequestSort::Created => {
            let key = |s: &teleport_client::wire::types::AccessRequestSpecV3| {
                s.created.map(|t| (t.seconds, t.nanos))
            };
            key(sa).cmp(&key(sb))
        }
        AccessRequestSort::State => sa.state.cmp(&sb.state),
        AccessRequestSort::User => sa.user.cmp(&sb.user),
    };
    primary.then_with(|| request_id(a).cmp(request_id(b)))
}

pub(crate) fn not_found(id: &str) -> Status {
    Status::not_found(format!("access request {id:?} is not found"))
}

/// Year-1 timestamps from Go clients become "unset".
fn normalize_incoming(request: &mut AccessRequestV3) {
    if let Some(metadata) = request.metadata.as_mut() {
        timestamps::normalize(&mut metadata.expires);
    }
    let spec = spec_mut(request);
    for ts in [
        &mut spec.created,
        &mut spec.expires,
        &mut spec.max_duration,
        &mut spec.session_ttl,
        &mut spec.assume_start_time,
        &mut spec.resource_expiry,
    ] {
        timestamps::normalize(ts);
    }
}
