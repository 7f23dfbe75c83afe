//! SubmitAccessReview and SetAccessRequestState with Teleport's rules.

use crate::common;

use common::{client, id_of, next_event, open_watch, watch, watch_kind};
use teleport_client::wire::proto::RequestStateSetter;
use teleport_client::wire::proto::auth_service_client::AuthServiceClient;
use teleport_client::wire::types::{
    AccessRequestV3, AccessReview, AccessReviewSubmission, RequestState,
};
use teleport_testkit::{GO_ZERO_SECONDS, Method, Verdict, role_resource};
use tonic::transport::Channel;
use tonic::{Code, Status};

async fn submit(
    client: &mut AuthServiceClient<Channel>,
    id: &str,
    author: &str,
    state: RequestState,
    reason: &str,
) -> Result<AccessRequestV3, Status> {
    let review = AccessReview {
        author: author.into(),
        proposed_state: state as i32,
        reason: reason.into(),
        ..Default::default()
    };
    client
        .submit_access_review(AccessReviewSubmission {
            request_id: id.into(),
            review: Some(review),
        })
        .await
        .map(|r| r.into_inner())
}

fn state_of(request: &AccessRequestV3) -> RequestState {
    RequestState::try_from(request.spec.as_ref().unwrap().state).unwrap()
}

#[tokio::test]
async fn one_approval_resolves_by_default_and_the_put_shows_it() {
    let kit = common::kit().await;
    kit.add_reviewer("pagerduty", &["editor"]);
    let mut bot = client(&kit, "pagerduty").await;
    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    let id = id_of(&kit.create_request("alice", &["editor"], "on call").unwrap());
    next_event(&mut stream).await; // the creation PUT

    // Author left empty: the server fills in the caller.
    let updated = submit(
        &mut bot,
        &id,
        "",
        RequestState::Approved,
        "alice is on call",
    )
    .await
    .unwrap();
    assert_eq!(state_of(&updated), RequestState::Approved);
    let spec = updated.spec.as_ref().unwrap();
    assert_eq!(spec.resolve_reason, "alice is on call");
    assert_eq!(spec.reviews[0].author, "pagerduty");
    let created = spec.reviews[0].created.unwrap();
    assert!(created.seconds > 1_600_000_000 && created.seconds != GO_ZERO_SECONDS);

    let Some(teleport_client::wire::proto::event::Resource::AccessRequest(put)) =
        next_event(&mut stream).await.resource
    else {
        panic!("review must emit a PUT")
    };
    assert_eq!(put, updated);
    assert_eq!(kit.call_count(Method::SubmitAccessReview), 1);
}

#[tokio::test]
async fn thresholds_need_enough_reviews() {
    let kit = common::kit().await;
    for reviewer in ["bob", "carol", "dave"] {
        kit.add_reviewer(reviewer, &["*"]);
    }
    let id = id_of(
        &kit.new_request("alice", &["editor"])
            .threshold("two", 2, 2)
            .create()
            .unwrap(),
    );
    let mut bob = client(&kit, "bob").await;
    let mut carol = client(&kit, "carol").await;
    let mut dave = client(&kit, "dave").await;
    let after_one = submit(&mut bob, &id, "bob", RequestState::Approved, "")
        .await
        .unwrap();
    assert_eq!(state_of(&after_one), RequestState::Pending);
    let after_deny = submit(&mut carol, &id, "carol", RequestState::Denied, "no")
        .await
        .unwrap();
    assert_eq!(
        state_of(&after_deny),
        RequestState::Pending,
        "one denial of two needed"
    );
    let after_two = submit(&mut dave, &id, "dave", RequestState::Approved, "ok")
        .await
        .unwrap();
    assert_eq!(state_of(&after_two), RequestState::Approved);
    assert_eq!(after_two.spec.unwrap().reviews.len(), 3);

    // Denial threshold reached first wins.
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    let denied = submit(&mut bob, &id, "bob", RequestState::Denied, "not now")
        .await
        .unwrap();
    assert_eq!(state_of(&denied), RequestState::Denied);
    assert_eq!(denied.spec.unwrap().resolve_reason, "not now");
}

#[tokio::test]
async fn review_refusals() {
    let kit = common::kit().await;
    kit.add_reviewer("bob", &["editor"]);
    kit.add_reviewer("alice", &["*"]);
    kit.add_user("mallory", &["editor"]);
    let mut bob = client(&kit, "bob").await;
    let mut alice = client(&kit, "alice").await;
    let mut mallory = client(&kit, "mallory").await;
    let mut stranger = client(&kit, "stranger").await;
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    let code = |r: Result<AccessRequestV3, Status>| r.unwrap_err().code();

    // Author must be the caller.
    assert_eq!(
        code(submit(&mut bob, &id, "carol", RequestState::Approved, "").await),
        Code::PermissionDenied
    );
    // No reviewing one's own request.
    assert_eq!(
        code(submit(&mut alice, &id, "alice", RequestState::Approved, "").await),
        Code::PermissionDenied
    );
    // Reviewers need review rights over every requested role; unknown users have none.
    assert_eq!(
        code(submit(&mut mallory, &id, "", RequestState::Approved, "").await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(submit(&mut stranger, &id, "", RequestState::Approved, "").await),
        Code::PermissionDenied
    );
    let dba = id_of(&kit.create_request("carol", &["editor", "dba"], "").unwrap());
    assert_eq!(
        code(submit(&mut bob, &dba, "", RequestState::Approved, "").await),
        Code::PermissionDenied
    );
    // Promotion is not a review; role sub-selection is unimplemented.
    assert_eq!(
        code(submit(&mut bob, &id, "", RequestState::Promoted, "").await),
        Code::InvalidArgument
    );
    let with_roles = AccessReviewSubmission {
        request_id: id.clone(),
        review: Some(AccessReview {
            proposed_state: RequestState::Approved as i32,
            roles: vec!["editor".into()],
            ..Default::default()
        }),
    };
    assert_eq!(
        bob.submit_access_review(with_roles)
            .await
            .unwrap_err()
            .code(),
        Code::Unimplemented
    );
    // Missing request.
    assert_eq!(
        code(submit(&mut bob, "nope", "", RequestState::Approved, "").await),
        Code::NotFound
    );

    // A threshold of two keeps the request open for a duplicate attempt.
    let open = id_of(
        &kit.new_request("carol", &["editor"])
            .threshold("t", 2, 2)
            .create()
            .unwrap(),
    );
    submit(&mut bob, &open, "", RequestState::Approved, "")
        .await
        .unwrap();
    let duplicate = submit(&mut bob, &open, "", RequestState::Denied, "")
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::PermissionDenied, "as Teleport");
    assert!(
        duplicate
            .message()
            .contains("has already reviewed this request"),
        "{}",
        duplicate.message()
    );

    // Resolved requests take no more reviews.
    kit.deny(&id, "closed").unwrap();
    assert_eq!(
        code(submit(&mut bob, &id, "", RequestState::Approved, "").await),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn deny_rules_and_globs_in_reviewer_roles() {
    let kit = common::kit().await;
    let mut role = role_resource("prod-reviewer", &[], &["prod-*"]);
    role.spec
        .as_mut()
        .unwrap()
        .deny
        .as_mut()
        .unwrap()
        .review_requests = Some(teleport_client::wire::types::AccessReviewConditions {
        roles: vec!["prod-root".into()],
        ..Default::default()
    });
    kit.put_role(role);
    kit.add_user("bob", &["prod-reviewer"]);
    let mut bob = client(&kit, "bob").await;
    let ok = id_of(&kit.create_request("alice", &["prod-db"], "").unwrap());
    let denied = id_of(&kit.create_request("alice", &["prod-root"], "").unwrap());
    submit(&mut bob, &ok, "", RequestState::Approved, "")
        .await
        .unwrap();
    let status = submit(&mut bob, &denied, "", RequestState::Approved, "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn test_side_reviews_follow_the_same_rules() {
    let kit = common::kit().await;
    let id = id_of(
        &kit.new_request("alice", &["editor"])
            .threshold("t", 2, 1)
            .create()
            .unwrap(),
    );
    let first = kit.review(&id, "bob", Verdict::Approve, "one").unwrap();
    assert_eq!(state_of(&first), RequestState::Pending);
    assert_eq!(
        kit.review(&id, "bob", Verdict::Approve, "again")
            .unwrap_err()
            .code(),
        Some(Code::PermissionDenied)
    );
    assert_eq!(
        kit.review(&id, "alice", Verdict::Approve, "me")
            .unwrap_err()
            .code(),
        Some(Code::PermissionDenied)
    );
    let second = kit.review(&id, "carol", Verdict::Approve, "two").unwrap();
    assert_eq!(state_of(&second), RequestState::Approved);
}

#[tokio::test]
async fn set_access_request_state_rules_and_the_recorded_delegator() {
    let kit = common::kit().await;
    let mut jira = client(&kit, "jira-plugin").await;
    let mut stream = open_watch(&mut jira, watch(vec![watch_kind(&[])])).await;
    let id = id_of(&kit.create_request("alice", &["editor"], "").unwrap());
    next_event(&mut stream).await;
    let setter = |id: &str, state: RequestState| RequestStateSetter {
        id: id.into(),
        state: state as i32,
        delegator: "jira:bob@example.com".into(),
        reason: "approved in Jira".into(),
        ..Default::default()
    };

    let code = jira
        .set_access_request_state(setter(&id, RequestState::Promoted))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::InvalidArgument);
    let code = jira
        .set_access_request_state(setter("nope", RequestState::Approved))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let mut alice = client(&kit, "alice").await;
    let code = alice
        .set_access_request_state(setter(&id, RequestState::Approved))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::PermissionDenied);

    jira.set_access_request_state(setter(&id, RequestState::Approved))
        .await
        .unwrap();
    let Some(teleport_client::wire::proto::event::Resource::AccessRequest(put)) =
        next_event(&mut stream).await.resource
    else {
        panic!("state change must emit a PUT")
    };
    assert_eq!(state_of(&put), RequestState::Approved);
    assert_eq!(put.spec.unwrap().resolve_reason, "approved in Jira");
    let resolution = kit.resolutions().pop().unwrap();
    assert_eq!(resolution.request_id, id);
    assert_eq!(resolution.delegator, "jira:bob@example.com");
    assert_eq!(resolution.caller.as_deref(), Some("jira-plugin"));

    // Denied is final.
    kit.deny(&id, "revoked").unwrap();
    let code = jira
        .set_access_request_state(setter(&id, RequestState::Approved))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::InvalidArgument);
    assert_eq!(
        kit.approve(&id, "x").unwrap_err().code(),
        Some(Code::InvalidArgument)
    );
}
