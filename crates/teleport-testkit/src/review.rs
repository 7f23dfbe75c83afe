//! SubmitAccessReview: authorization, Teleport's refusal rules, and threshold resolution.

use teleport_client::wire::types::{AccessRequestV3, AccessReview, RequestState};
use tonic::Status;

use crate::requests::not_found;
use crate::state::{Caller, State, request_state, spec, spec_mut};
use crate::timestamps;

impl State {
    /// Applies one review. `Caller::Admin` is the test reviewing on a user's behalf: the author
    /// must then be named and the reviewer-role check is skipped; every other rule holds. A
    /// review a plugin submits on its author's behalf needs the caller's `submit_for_users`
    /// and then passes the reviewer check as the author, never as the caller.
    pub(crate) fn submit_review(
        &mut self,
        request_id: &str,
        mut review: AccessReview,
        caller: Caller<'_>,
    ) -> Result<AccessRequestV3, Status> {
        let proposed = RequestState::try_from(review.proposed_state).unwrap_or(RequestState::None);
        if proposed == RequestState::Promoted {
            return Err(Status::invalid_argument(
                "promotion is not supported through SubmitAccessReview",
            ));
        }
        // A plugin reviewing for a person (Slack's buttons): the caller must be allowed to
        // submit for that author, and from then on the author, not the caller, is the
        // reviewer whose rights are checked.
        let on_behalf = review.submitted_on_behalf_of_author;
        if let (true, Caller::User(me)) = (on_behalf, caller) {
            may_submit_for(self, me, &review.author)?;
        }
        let reviewer = match caller {
            Caller::User(_) if on_behalf => Some(review.author.clone()),
            Caller::User(me) => Some(me.to_owned()),
            Caller::Admin => None,
        };
        let caller = if on_behalf { Caller::Admin } else { caller };
        match caller {
            Caller::User(me) if review.author.is_empty() => review.author = me.to_owned(),
            Caller::User(me) if review.author != me => {
                return Err(Status::permission_denied(format!(
                    "user {me:?} cannot submit reviews on behalf of {:?}",
                    review.author
                )));
            }
            Caller::Admin if review.author.is_empty() => {
                return Err(Status::invalid_argument("missing review author"));
            }
            _ => {}
        }
        if !review.roles.is_empty()
            || review
                .annotations
                .as_ref()
                .is_some_and(|a| !a.values.is_empty())
        {
            return Err(Status::unimplemented(
                "reviews that select roles or carry annotations are not supported",
            ));
        }
        if !matches!(proposed, RequestState::Approved | RequestState::Denied) {
            return Err(Status::invalid_argument(format!(
                "invalid state proposal: {} (expected approval/denial)",
                proposed.as_str_name()
            )));
        }
        let request = self
            .requests
            .get(request_id)
            .ok_or_else(|| not_found(request_id))?;
        let author = review.author.clone();
        if spec(request).user == author {
            return Err(Status::permission_denied(
                "reviewers cannot review their own requests",
            ));
        }
        if let Some(reviewer) = &reviewer {
            may_review(self, reviewer, request)?;
        }
        if spec(request).reviews.iter().any(|r| r.author == author) {
            // Teleport reports this as AccessDenied, not AlreadyExists.
            return Err(Status::permission_denied(format!(
                "user {author:?} has already reviewed this request"
            )));
        }
        if request_state(request) != RequestState::Pending {
            return Err(Status::permission_denied(format!(
                "the access request is already {}",
                request_state(request).as_str_name()
            )));
        }

        if timestamps::is_unset(review.created.as_ref()) {
            review.created = Some(timestamps::now());
        }
        let (need_approvals, need_denials) = thresholds(request);
        let updated = self.update_request(request_id, |request| {
            let spec = spec_mut(request);
            let reason = review.reason.clone();
            spec.reviews.push(review);
            let count = |state: RequestState| {
                spec.reviews
                    .iter()
                    .filter(|r| r.proposed_state == state as i32)
                    .count()
            };
            let resolved = if proposed == RequestState::Denied
                && count(RequestState::Denied) >= need_denials
            {
                Some(RequestState::Denied)
            } else if proposed == RequestState::Approved
                && count(RequestState::Approved) >= need_approvals
            {
                Some(RequestState::Approved)
            } else {
                None
            };
            if let Some(state) = resolved {
                spec.state = state as i32;
                spec.resolve_reason = reason;
            }
        });
        updated.ok_or_else(|| not_found(request_id))
    }
}

/// Approvals and denials needed. Without thresholds Teleport's default is one of each; with
/// several, every approval threshold must be met and any denial threshold suffices. `Filter`
/// predicates are not evaluated (every review counts toward every threshold).
fn thresholds(request: &AccessRequestV3) -> (usize, usize) {
    let list = &spec(request).thresholds;
    if list.is_empty() {
        return (1, 1);
    }
    let approvals = list.iter().map(|t| t.approve.max(1)).max().unwrap_or(1);
    let denials = list.iter().map(|t| t.deny.max(1)).min().unwrap_or(1);
    (approvals as usize, denials as usize)
}

/// The reviewer check: `me` is a known user whose roles' `allow.review_requests.roles`
/// cover every requested role (globs with `*`), with none matched by a `deny` rule.
/// `where` predicates are not evaluated.
pub(crate) fn may_review(state: &State, me: &str, request: &AccessRequestV3) -> Result<(), Status> {
    let user = state.users.get(me).ok_or_else(|| {
        Status::permission_denied(format!(
            "user {me:?} is unknown to the testkit (register reviewers with add_reviewer)"
        ))
    })?;
    let mut allow = Vec::new();
    let mut deny = Vec::new();
    for role_name in user.spec.iter().flat_map(|s| &s.roles) {
        let Some(spec) = state.roles.get(role_name).and_then(|r| r.spec.as_ref()) else {
            continue;
        };
        let patterns = |conditions: &Option<teleport_client::wire::types::RoleConditions>| {
            conditions
                .iter()
                .filter_map(|c| c.review_requests.as_ref())
                .flat_map(|r| r.roles.clone())
                .collect::<Vec<_>>()
        };
        allow.extend(patterns(&spec.allow));
        deny.extend(patterns(&spec.deny));
    }
    for role in &spec(request).roles {
        let allowed = allow.iter().any(|p| glob_match(p, role));
        let denied = deny.iter().any(|p| glob_match(p, role));
        if !allowed || denied {
            return Err(Status::permission_denied(format!(
                "user {me:?} cannot review requests for role {role:?}"
            )));
        }
    }
    Ok(())
}

/// The on-behalf check: `me` holds a role whose `allow.review_requests.submit_for_users`
/// matches `author` (globs with `*`), and none whose `deny` does.
fn may_submit_for(state: &State, me: &str, author: &str) -> Result<(), Status> {
    let refused = || {
        Status::permission_denied(format!(
            "user {me:?} cannot submit reviews on behalf of {author:?}"
        ))
    };
    if author.is_empty() {
        return Err(Status::invalid_argument("missing review author"));
    }
    let user = state.users.get(me).ok_or_else(refused)?;
    let (mut allowed, mut denied) = (false, false);
    for role_name in user.spec.iter().flat_map(|s| &s.roles) {
        let Some(spec) = state.roles.get(role_name).and_then(|r| r.spec.as_ref()) else {
            continue;
        };
        let matches = |conditions: &Option<teleport_client::wire::types::RoleConditions>| {
            conditions
                .iter()
                .filter_map(|c| c.review_requests.as_ref())
                .flat_map(|r| &r.submit_for_users)
                .any(|pattern| glob_match(pattern, author))
        };
        allowed |= matches(&spec.allow);
        denied |= matches(&spec.deny);
    }
    if allowed && !denied {
        Ok(())
    } else {
        Err(refused())
    }
}

/// `*` matches any run of characters; everything else is literal.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*` at all
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*", ""));
        assert!(glob_match("dev", "dev"));
        assert!(!glob_match("dev", "devops"));
        assert!(glob_match("dev-*", "dev-db"));
        assert!(!glob_match("dev-*", "prod-db"));
        assert!(glob_match("*-admin", "db-admin"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c-y-b"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
