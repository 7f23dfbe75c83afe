//! Shared helpers for the testkit's integration tests: start, dial, read events with timeouts.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use teleport_client::wire::proto::auth_service_client::AuthServiceClient;
use teleport_client::wire::proto::{Event, Watch};
use teleport_client::wire::types::{AccessRequestV3, WatchKind};
use teleport_testkit::{IdentityRequest, Testkit};
use tonic::Streaming;
use tonic::transport::Channel;

/// Generous bound for anything that should happen "soon".
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) async fn kit() -> Testkit {
    Testkit::start().await.expect("testkit starts")
}

/// A raw AuthService client authenticated as `user`.
pub(crate) async fn client(kit: &Testkit, user: &str) -> AuthServiceClient<Channel> {
    let identity = kit.issue_identity(&IdentityRequest::new(user)).unwrap();
    kit.auth_client(&identity).await.expect("mTLS connect")
}

pub(crate) fn id_of(request: &AccessRequestV3) -> String {
    request.metadata.as_ref().unwrap().name.clone()
}

pub(crate) fn watch_kind(filter: &[(&str, &str)]) -> WatchKind {
    WatchKind {
        kind: "access_request".into(),
        filter: filter
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

pub(crate) fn watch(kinds: Vec<WatchKind>) -> Watch {
    Watch {
        kinds,
        allow_partial_success: false,
    }
}

/// The next stream item within [`WAIT`]; `None` at a clean end of stream.
pub(crate) async fn next(stream: &mut Streaming<Event>) -> Option<Result<Event, tonic::Status>> {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("an event within the timeout")
        .transpose()
}

pub(crate) async fn next_event(stream: &mut Streaming<Event>) -> Event {
    next(stream)
        .await
        .expect("stream still open")
        .expect("event, not error")
}

/// Opens a watch and consumes its INIT event; returns the stream.
pub(crate) async fn open_watch(
    client: &mut AuthServiceClient<Channel>,
    w: Watch,
) -> Streaming<Event> {
    let mut stream = client.watch_events(w).await.unwrap().into_inner();
    let init = next_event(&mut stream).await;
    assert_eq!(init.r#type, 0, "first event must be INIT");
    stream
}
