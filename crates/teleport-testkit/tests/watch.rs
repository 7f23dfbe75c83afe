//! WatchEvents: INIT first, PUT/DELETE payloads, filters, refusals, closing and overflow.

use crate::common;

use std::sync::{Arc, Mutex};

use common::{WAIT, client, id_of, next, next_event, open_watch, watch, watch_kind};
use teleport_client::wire::proto::event::Resource;
use teleport_client::wire::proto::{Event, Watch};
use teleport_client::wire::types::{AccessRequestV3, RequestState, WatchKind};
use teleport_testkit::{GO_ZERO_SECONDS, Testkit, Verdict};
use tonic::Code;

fn put_request(event: Event) -> AccessRequestV3 {
    assert_eq!(event.r#type, 1, "expected PUT, got {event:?}");
    match event.resource {
        Some(Resource::AccessRequest(request)) => request,
        other => panic!("PUT without a request: {other:?}"),
    }
}

fn deleted_id(event: Event) -> String {
    assert_eq!(event.r#type, 2, "expected DELETE, got {event:?}");
    match event.resource {
        Some(Resource::ResourceHeader(header)) => {
            assert_eq!(header.kind, "access_request");
            assert_eq!(header.version, "v3");
            let metadata = header.metadata.unwrap();
            assert_eq!(metadata.namespace, "default");
            metadata.name
        }
        other => panic!("DELETE without a header: {other:?}"),
    }
}

#[tokio::test]
async fn init_then_put_on_create_and_review_then_delete_on_expiry() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let mut stream = bot
        .watch_events(watch(vec![watch_kind(&[])]))
        .await
        .unwrap()
        .into_inner();
    let init = next_event(&mut stream).await;
    assert_eq!(init.r#type, 0);
    let Some(Resource::WatchStatus(status)) = init.resource else {
        panic!("INIT must carry WatchStatus: {init:?}")
    };
    let kinds = status.spec.unwrap().kinds;
    assert_eq!(kinds.len(), 1);
    assert_eq!(kinds[0].kind, "access_request");
    assert_eq!(kit.watcher_count(), 1);

    let created = kit
        .new_request("alice", &["editor", "dba"])
        .reason("deploy hotfix")
        .suggested_reviewers(&["bob"])
        .system_annotation("pagerduty_services", &["db"])
        .resource("node", "db-1")
        .create()
        .unwrap();
    let id = id_of(&created);
    let put = put_request(next_event(&mut stream).await);
    assert_eq!(put, created, "the PUT carries the full request");
    let spec = put.spec.unwrap();
    assert_eq!(spec.user, "alice");
    assert_eq!(spec.roles, ["editor", "dba"]);
    assert_eq!(spec.state, RequestState::Pending as i32);
    assert_eq!(spec.request_reason, "deploy hotfix");
    assert_eq!(spec.suggested_reviewers, ["bob"]);
    assert_eq!(spec.requested_resource_i_ds[0].name, "db-1");
    assert_eq!(spec.requested_resource_i_ds[0].cluster_name, "example.com");
    assert!(
        spec.system_annotations
            .unwrap()
            .values
            .contains_key("pagerduty_services")
    );
    // Unset non-nullable timestamps travel as Go's year 1, never as 1970.
    assert_eq!(spec.expires.unwrap().seconds, GO_ZERO_SECONDS);
    assert!(spec.created.unwrap().seconds > 1_600_000_000);

    kit.review(&id, "bob", Verdict::Approve, "lgtm").unwrap();
    let reviewed = put_request(next_event(&mut stream).await);
    let spec = reviewed.spec.unwrap();
    assert_eq!(spec.state, RequestState::Approved as i32);
    assert_eq!(spec.reviews.len(), 1);
    assert_eq!(spec.resolve_reason, "lgtm");

    kit.expire(&id).unwrap();
    assert_eq!(deleted_id(next_event(&mut stream).await), id);
    assert!(kit.get_request(&id).is_none());
}

#[tokio::test]
async fn filters_select_puts_but_deletes_reach_everyone() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let mut by_user = open_watch(&mut bot, watch(vec![watch_kind(&[("user", "alice")])])).await;
    let mut by_state =
        open_watch(&mut bot, watch(vec![watch_kind(&[("state", "APPROVED")])])).await;

    let bobs = kit.create_request("bob", &["editor"], "").unwrap();
    let alices = kit.create_request("alice", &["editor"], "").unwrap();
    kit.approve(&id_of(&bobs), "ok").unwrap();
    kit.expire(&id_of(&bobs)).unwrap();

    // alice's watch: her PUT, then bob's DELETE (deletes are not filtered).
    assert_eq!(
        id_of(&put_request(next_event(&mut by_user).await)),
        id_of(&alices)
    );
    assert_eq!(deleted_id(next_event(&mut by_user).await), id_of(&bobs));
    // APPROVED watch: bob's approval, then the DELETE.
    let approved = put_request(next_event(&mut by_state).await);
    assert_eq!(id_of(&approved), id_of(&bobs));
    assert_eq!(approved.spec.unwrap().state, RequestState::Approved as i32);
    assert_eq!(deleted_id(next_event(&mut by_state).await), id_of(&bobs));

    // An id filter sees only that request.
    let mut by_id = open_watch(
        &mut bot,
        watch(vec![watch_kind(&[("id", &id_of(&alices))])]),
    )
    .await;
    kit.create_request("carol", &["editor"], "").unwrap();
    kit.deny(&id_of(&alices), "no").unwrap();
    assert_eq!(
        id_of(&put_request(next_event(&mut by_id).await)),
        id_of(&alices)
    );
}

#[tokio::test]
async fn bad_watches_are_refused_like_teleport() {
    let kit = common::kit().await;
    let bot = client(&kit, "access-plugin").await;
    let refused = |w: Watch| {
        let mut bot = bot.clone();
        async move { bot.watch_events(w).await.unwrap_err().code() }
    };
    assert_eq!(refused(watch(vec![])).await, Code::PermissionDenied);
    assert_eq!(
        refused(watch(vec![watch_kind(&[("requester", "x")])])).await,
        Code::InvalidArgument
    );
    assert_eq!(
        refused(watch(vec![watch_kind(&[("state", "MAYBE")])])).await,
        Code::InvalidArgument
    );
    // A kind the testkit does not serve (access monitoring rules are served, see
    // teleport-client's governance tests).
    let rules = WatchKind {
        kind: "access_list".into(),
        ..Default::default()
    };
    assert_eq!(
        refused(watch(vec![watch_kind(&[]), rules.clone()])).await,
        Code::InvalidArgument
    );

    // With partial success the unsupported kind is dropped and INIT lists what was granted.
    let partial = Watch {
        kinds: vec![watch_kind(&[]), rules.clone()],
        allow_partial_success: true,
    };
    let mut stream = bot
        .clone()
        .watch_events(partial)
        .await
        .unwrap()
        .into_inner();
    let Some(Resource::WatchStatus(status)) = next_event(&mut stream).await.resource else {
        panic!("INIT without status")
    };
    let granted: Vec<String> = status
        .spec
        .unwrap()
        .kinds
        .into_iter()
        .map(|k| k.kind)
        .collect();
    assert_eq!(granted, ["access_request"]);
    let only_rules = Watch {
        kinds: vec![rules],
        allow_partial_success: true,
    };
    assert_eq!(refused(only_rules).await, Code::InvalidArgument);
}

#[tokio::test]
async fn drop_watchers_ends_streams_with_unavailable_and_end_watchers_with_eof() {
    let kit = common::kit().await;
    let mut bot = client(&kit, "access-plugin").await;
    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    kit.drop_watchers();
    let status = next(&mut stream).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    kit.wait_for_watchers(0, WAIT).await.unwrap();

    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    kit.wait_for_watchers(1, WAIT).await.unwrap();
    kit.end_watchers();
    assert!(next(&mut stream).await.is_none(), "clean end of stream");
    kit.wait_for_watchers(0, WAIT).await.unwrap();

    // A client that goes away is unregistered too.
    let stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    kit.wait_for_watchers(1, WAIT).await.unwrap();
    drop(stream);
    kit.wait_for_watchers(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn a_client_that_falls_behind_is_closed_when_its_buffer_overflows() {
    let kit = Testkit::builder().watch_buffer(4).start().await.unwrap();
    let mut bot = client(&kit, "access-plugin").await;
    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    // Far more than the buffer plus what HTTP/2 windows can absorb, while nobody reads.
    let reason = "r".repeat(4096);
    for _ in 0..400 {
        kit.create_request("alice", &["editor"], &reason).unwrap();
        if kit.watcher_count() == 0 {
            break;
        }
    }
    kit.wait_for_watchers(0, WAIT).await.unwrap();
    // The client drains what was in flight and then sees the stream fail.
    let mut delivered = 0;
    let status = loop {
        match next(&mut stream).await {
            Some(Ok(_)) => delivered += 1,
            Some(Err(status)) => break status,
            None => panic!("overflow must end the stream with an error"),
        }
    };
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    assert!(status.message().contains("overflow"));
    assert!(delivered < 400, "delivered {delivered}");
}

#[tokio::test]
async fn each_put_written_to_a_stream_is_reported_to_the_delivery_hook() {
    let kit = common::kit().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    kit.on_put_delivered(move |d| {
        sink.lock()
            .unwrap()
            .push((d.watcher, d.request_id.clone(), d.at))
    });
    let mut bot = client(&kit, "access-plugin").await;
    let mut first = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    let mut second = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    let before = std::time::Instant::now();
    let created = kit.create_request("alice", &["editor"], "").unwrap();
    next_event(&mut first).await;
    next_event(&mut second).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0].0, seen[1].0, "one record per stream");
    assert!(
        seen.iter()
            .all(|(_, id, at)| *id == id_of(&created) && *at >= before)
    );
    kit.clear_put_hook();
}

#[tokio::test]
async fn year_one_timestamps_can_be_switched_off() {
    let kit = Testkit::builder()
        .go_zero_timestamps(false)
        .start()
        .await
        .unwrap();
    let created = kit.create_request("alice", &["editor"], "").unwrap();
    let spec = created.spec.unwrap();
    assert!(spec.expires.is_none() && spec.max_duration.is_none());
    assert!(spec.created.is_some());
}
