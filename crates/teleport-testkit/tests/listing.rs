//! Listing requests (paged, streamed, legacy), creating and deleting them, users and roles.

use crate::common;

use common::{client, id_of, next_event, open_watch, watch, watch_kind};
use teleport_client::wire::proto::{
    AccessRequestSort, GetRoleRequest, GetUserRequest, ListAccessRequestsRequest, RequestId,
};
use teleport_client::wire::teleport::users::v1::GetUserRequest as UsersGetUserRequest;
use teleport_client::wire::types::{AccessRequestFilter, AccessRequestV3, RequestState};
use teleport_testkit::{GO_ZERO_SECONDS, IdentityRequest, Method, user_resource};
use tonic::Code;

fn ids(requests: &[AccessRequestV3]) -> Vec<String> {
    requests.iter().map(id_of).collect()
}

#[tokio::test]
async fn list_pages_by_next_key_in_id_order() {
    let kit = common::kit().await;
    let mut expected: Vec<String> = (0..25)
        .map(|_| id_of(&kit.create_request("alice", &["editor"], "").unwrap()))
        .collect();
    expected.sort();
    let mut bot = client(&kit, "access-plugin").await;

    let mut pages = Vec::new();
    let mut start_key = String::new();
    loop {
        let page = bot
            .list_access_requests(ListAccessRequestsRequest {
                limit: 10,
                start_key: start_key.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages.push(ids(&page.access_requests));
        if page.next_key.is_empty() {
            break;
        }
        start_key = page.next_key;
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(pages.concat(), expected);

    // Limit 0 means 1000; too large is refused.
    let all = bot
        .list_access_requests(ListAccessRequestsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.access_requests.len(), 25);
    assert!(all.next_key.is_empty());
    let too_big = ListAccessRequestsRequest {
        limit: 16_001,
        ..Default::default()
    };
    assert_eq!(
        bot.list_access_requests(too_big).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    // Descending order.
    let descending = bot
        .list_access_requests(ListAccessRequestsRequest {
            sort: AccessRequestSort::Default as i32,
            descending: true,
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(ids(&descending.access_requests), reversed[..3]);
    assert_eq!(descending.next_key, reversed[3]);
}

#[tokio::test]
async fn filters_by_id_user_and_state() {
    let kit = common::kit().await;
    let alices = kit.create_request("alice", &["editor"], "").unwrap();
    let bobs = kit.create_request("bob", &["editor"], "").unwrap();
    kit.approve(&id_of(&bobs), "ok").unwrap();
    let mut bot = client(&kit, "access-plugin").await;
    let list = |filter: AccessRequestFilter| {
        let mut bot = bot.clone();
        async move {
            let page = bot
                .list_access_requests(ListAccessRequestsRequest {
                    filter: Some(filter),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            ids(&page.access_requests)
        }
    };
    let pending = AccessRequestFilter {
        state: RequestState::Pending as i32,
        ..Default::default()
    };
    assert_eq!(list(pending).await, [id_of(&alices)]);
    let by_user = AccessRequestFilter {
        user: "bob".into(),
        ..Default::default()
    };
    assert_eq!(list(by_user).await, [id_of(&bobs)]);
    let by_id = AccessRequestFilter {
        id: id_of(&alices),
        ..Default::default()
    };
    assert_eq!(list(by_id.clone()).await, [id_of(&alices)]);

    // The legacy unary listing filters the same way.
    let legacy = bot.get_access_requests(by_id).await.unwrap().into_inner();
    assert_eq!(ids(&legacy.access_requests), [id_of(&alices)]);
}

#[tokio::test]
async fn unimplemented_list_falls_back_to_the_v2_stream() {
    let kit = common::kit().await;
    for _ in 0..3 {
        kit.create_request("alice", &["editor"], "").unwrap();
    }
    kit.reject(Method::ListAccessRequests, Code::Unimplemented, Some(1));
    let mut bot = client(&kit, "access-plugin").await;
    let status = bot
        .list_access_requests(ListAccessRequestsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    let mut stream = bot
        .get_access_requests_v2(AccessRequestFilter::default())
        .await
        .unwrap()
        .into_inner();
    let mut streamed = Vec::new();
    while let Some(request) = stream.message().await.unwrap() {
        streamed.push(request);
    }
    assert_eq!(ids(&streamed), ids(&kit.requests()));

    // The rejection was for one call only; every call was counted.
    bot.list_access_requests(ListAccessRequestsRequest::default())
        .await
        .unwrap();
    assert_eq!(kit.call_count(Method::ListAccessRequests), 2);
    assert_eq!(kit.call_count(Method::GetAccessRequestsV2), 1);

    kit.reject(Method::Ping, Code::Unavailable, None);
    for _ in 0..3 {
        let code = bot
            .ping(teleport_client::wire::proto::PingRequest {})
            .await
            .unwrap_err()
            .code();
        assert_eq!(code, Code::Unavailable);
    }
    kit.clear_rejections();
    bot.ping(teleport_client::wire::proto::PingRequest {})
        .await
        .unwrap();
}

#[tokio::test]
async fn create_over_grpc_fills_server_fields_and_delete_emits_delete() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    let mut alice = client(&kit, "alice").await;
    let year_one = prost_types::Timestamp {
        seconds: GO_ZERO_SECONDS,
        nanos: 0,
    };
    let draft = AccessRequestV3 {
        spec: Some(teleport_client::wire::types::AccessRequestSpecV3 {
            roles: vec!["editor".into()],
            state: RequestState::Approved as i32, // ignored: new requests are pending
            created: Some(year_one),              // Go's "unset"
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = alice
        .create_access_request_v2(draft)
        .await
        .unwrap()
        .into_inner();
    let id = id_of(&created);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let spec = created.spec.as_ref().unwrap();
    assert_eq!(spec.user, "alice");
    assert_eq!(spec.state, RequestState::Pending as i32);
    assert!(spec.created.unwrap().seconds > 1_600_000_000);
    assert_eq!(
        (created.kind.as_str(), created.version.as_str()),
        ("access_request", "v3")
    );
    next_event(&mut stream).await;

    // A role-less, resource-less request is refused.
    let empty = alice
        .create_access_request_v2(AccessRequestV3::default())
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);

    bot.delete_access_request(RequestId { id: id.clone() })
        .await
        .unwrap();
    assert_eq!(next_event(&mut stream).await.r#type, 2);
    let again = bot
        .delete_access_request(RequestId { id })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
}

#[tokio::test]
async fn users_and_roles() {
    let kit = common::kit().await;
    kit.put_user(user_resource(
        "alice",
        &["editor"],
        &[("logins", &["alice", "root"])],
    ));
    kit.add_role("editor", &["{{internal.logins}}", "deploy"]);
    let identity = kit
        .issue_identity(&IdentityRequest::new("access-plugin"))
        .unwrap();
    let mut auth = kit.auth_client(&identity).await.unwrap();
    let mut users = kit.users_client(&identity).await.unwrap();

    let legacy = auth
        .get_user(GetUserRequest {
            name: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let modern = users
        .get_user(UsersGetUserRequest {
            name: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(legacy, modern);
    let spec = modern.spec.unwrap();
    assert_eq!(spec.roles, ["editor"]);
    assert_eq!(
        spec.traits.unwrap().values["logins"].values,
        ["alice", "root"]
    );
    assert_eq!(spec.expires.unwrap().seconds, GO_ZERO_SECONDS);

    let role = auth
        .get_role(GetRoleRequest {
            name: "editor".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        role.spec.unwrap().allow.unwrap().logins,
        ["{{internal.logins}}", "deploy"]
    );

    let missing = |name: &str| GetUserRequest {
        name: name.into(),
        ..Default::default()
    };
    assert_eq!(
        auth.get_user(missing("nobody")).await.unwrap_err().code(),
        Code::NotFound
    );
    let missing_v1 = UsersGetUserRequest {
        name: "nobody".into(),
        ..Default::default()
    };
    assert_eq!(
        users.get_user(missing_v1).await.unwrap_err().code(),
        Code::NotFound
    );
    let no_role = GetRoleRequest {
        name: "nope".into(),
    };
    assert_eq!(
        auth.get_role(no_role).await.unwrap_err().code(),
        Code::NotFound
    );
}
