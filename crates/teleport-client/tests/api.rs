//! The typed API: watch, listing with fallbacks, plugin data CAS, reviews, users, roles.

use crate::support;

use futures::StreamExt;
use support::{Env, USER, WAIT};
use teleport_client::{
    ClientError, PluginDataMap, RequestFilter, RequestState, ReviewSubmission, WatchEvent,
    WatchOptions,
};
use teleport_testkit::Method;
use tonic::Code;

async fn next(stream: &mut teleport_client::WatchStream) -> WatchEvent {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("no error")
}

#[tokio::test]
async fn watch_gives_init_put_delete_and_recovers_from_drops_and_restarts() {
    let env = Env::new().await;
    let client = env.client();
    let mut stream = client.watch_access_requests(WatchOptions::default());
    assert_eq!(next(&mut stream).await, WatchEvent::Init);

    let id = env
        .kit
        .create_request("alice", &["dev"], "why")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let WatchEvent::Put(request) = next(&mut stream).await else {
        panic!("expected PUT")
    };
    assert_eq!(request.id, id);
    assert_eq!(request.state, RequestState::Pending);
    assert_eq!(request.request_reason, "why");
    env.kit.expire(&id).unwrap();
    assert_eq!(next(&mut stream).await, WatchEvent::Delete(id));

    env.kit.drop_watchers();
    assert!(matches!(
        next(&mut stream).await,
        WatchEvent::Reconnecting { attempt: 1, .. }
    ));
    assert_eq!(next(&mut stream).await, WatchEvent::Init);

    env.kit.stop().await;
    assert!(matches!(
        next(&mut stream).await,
        WatchEvent::Reconnecting { .. }
    ));
    env.kit.restart().await.unwrap();
    loop {
        match next(&mut stream).await {
            WatchEvent::Reconnecting { .. } => continue,
            WatchEvent::Init => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let id = env
        .kit
        .create_request("bob", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    assert!(matches!(next(&mut stream).await, WatchEvent::Put(r) if r.id == id));
}

#[tokio::test]
async fn watch_ends_with_an_error_when_access_is_denied() {
    let env = Env::new().await;
    env.kit
        .reject(Method::WatchEvents, Code::PermissionDenied, None);
    let client = env.client();
    let mut stream = client.watch_access_requests(WatchOptions::default());
    let item = tokio::time::timeout(WAIT, stream.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(item, Err(ClientError::AccessDenied { .. })),
        "{item:?}"
    );
}

#[tokio::test]
async fn listing_pages_and_falls_back_on_older_servers() {
    let env = Env::new().await;
    for n in 0..1500 {
        env.kit
            .create_request(&format!("u{n}"), &["dev"], "")
            .unwrap();
    }
    let client = env.client();
    let all = client
        .list_access_requests(&RequestFilter::pending())
        .await
        .unwrap();
    assert_eq!(all.len(), 1500);
    assert_eq!(
        env.kit.call_count(Method::ListAccessRequests),
        2,
        "two pages of 1000"
    );

    env.kit
        .reject(Method::ListAccessRequests, Code::Unimplemented, None);
    let client = env.client();
    assert_eq!(
        client
            .list_access_requests(&RequestFilter::default())
            .await
            .unwrap()
            .len(),
        1500
    );
    assert_eq!(env.kit.call_count(Method::GetAccessRequestsV2), 1);

    env.kit
        .reject(Method::GetAccessRequestsV2, Code::Unimplemented, None);
    let client = env.client();
    assert_eq!(
        client
            .list_access_requests(&RequestFilter::default())
            .await
            .unwrap()
            .len(),
        1500
    );
    assert_eq!(env.kit.call_count(Method::GetAccessRequests), 1);
    // The working method is remembered.
    client
        .list_access_requests(&RequestFilter::default())
        .await
        .unwrap();
    assert_eq!(env.kit.call_count(Method::GetAccessRequests), 2);
    assert_eq!(env.kit.call_count(Method::GetAccessRequestsV2), 2);

    let one = &all[7];
    let found = client.get_access_request(&one.id).await.unwrap().unwrap();
    assert_eq!(found.user, one.user);
    assert!(
        client
            .get_access_request("no-such-id")
            .await
            .unwrap()
            .is_none()
    );
}

fn map(pairs: &[(&str, &str)]) -> PluginDataMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[tokio::test]
async fn plugin_data_compare_and_swap() {
    let env = Env::new().await;
    let client = env.client();
    let id = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    assert_eq!(client.get_plugin_data("slack", &id).await.unwrap(), None);

    // Create only if absent.
    let empty = map(&[("user", ""), ("messages", "")]);
    client
        .update_plugin_data(
            "slack",
            &id,
            map(&[("user", "alice"), ("messages", "C1/1")]),
            empty.clone(),
        )
        .await
        .unwrap();
    let second = client
        .update_plugin_data("slack", &id, map(&[("user", "mallory")]), empty)
        .await;
    assert!(
        matches!(second, Err(ClientError::CompareFailed { .. })),
        "{second:?}"
    );

    // Update with the right expectation; "" deletes a key.
    let stored = client.get_plugin_data("slack", &id).await.unwrap().unwrap();
    assert_eq!(stored, map(&[("user", "alice"), ("messages", "C1/1")]));
    client
        .update_plugin_data("slack", &id, map(&[("messages", "")]), stored)
        .await
        .unwrap();
    assert_eq!(
        client.get_plugin_data("slack", &id).await.unwrap().unwrap(),
        map(&[("user", "alice")])
    );

    // Other plugins' entries are separate.
    assert_eq!(client.get_plugin_data("email", &id).await.unwrap(), None);
    let missing = client
        .update_plugin_data(
            "slack",
            "no-such-request",
            map(&[("a", "b")]),
            PluginDataMap::new(),
        )
        .await;
    assert!(
        matches!(missing, Err(ClientError::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn reviews_state_changes_users_and_roles() {
    let env = Env::new().await;
    env.kit.add_reviewer(USER, &["dev"]);
    env.kit.add_role("dev", &["root", "{{internal.logins}}"]);
    let client = env.client();

    let id = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let review = ReviewSubmission {
        request_id: id.clone(),
        author: USER.into(),
        proposed_state: RequestState::Approved,
        reason: "alice is on call".into(),
    };
    let updated = client.submit_review(&review).await.unwrap();
    assert_eq!(updated.state, RequestState::Approved);
    assert_eq!(updated.reviews.len(), 1);
    assert_eq!(updated.reviews[0].author, USER);
    assert!(
        updated.reviews[0].created.is_some(),
        "the server stamps the review time"
    );
    let again = client.submit_review(&review).await.unwrap_err();
    assert!(
        matches!(
            again,
            ClientError::AlreadyExists { .. } | ClientError::AccessDenied { .. }
        ),
        "{again:?}"
    );

    let id2 = env
        .kit
        .create_request("alice", &["dev"], "")
        .unwrap()
        .metadata
        .unwrap()
        .name;
    let other_author = client
        .submit_review(&ReviewSubmission {
            request_id: id2.clone(),
            author: "someone-else".into(),
            ..review.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(other_author, ClientError::AccessDenied { .. }),
        "{other_author:?}"
    );

    client
        .set_request_state(&teleport_client::StateChange {
            request_id: id2.clone(),
            state: RequestState::Denied,
            delegator: "jira:lead@example.com".into(),
            reason: "not now".into(),
            annotations: Default::default(),
        })
        .await
        .unwrap();
    let resolution = env.kit.resolutions().last().cloned().unwrap();
    assert_eq!(resolution.delegator, "jira:lead@example.com");
    assert_eq!(resolution.reason, "not now");

    let user = client.get_user(USER).await.unwrap();
    assert_eq!(user.name, USER);
    assert!(
        user.roles.iter().any(|r| r == "access-plugin-reviewer"),
        "{user:?}"
    );
    env.kit
        .reject(Method::UsersGetUser, Code::Unimplemented, None);
    assert_eq!(client.get_user(USER).await.unwrap().name, USER);
    assert_eq!(
        env.kit.call_count(Method::GetUser),
        1,
        "legacy fallback used"
    );
    assert!(matches!(
        client.get_user("nobody").await,
        Err(ClientError::NotFound { .. })
    ));

    let role = client.get_role("dev").await.unwrap();
    assert_eq!(role.logins, ["root", "{{internal.logins}}"]);
}
