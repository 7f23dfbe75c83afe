//! WatchEvents fan-out: per-stream bounded buffers, WatchKind filters, INIT/PUT/DELETE events.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::Stream;
use teleport_client::wire::proto::{Event, Operation, Watch, event::Resource};
use teleport_client::wire::types::{
    AccessRequestV3, Metadata, RequestState, ResourceHeader, WatchKind, WatchStatusSpecV1,
    WatchStatusV1,
};
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use crate::governance::{Availability, KIND_ACCESS_MONITORING_RULE};
use crate::shared::Shared;
use crate::state::{KIND_ACCESS_REQUEST, NAMESPACE, request_id, spec};
use teleport_client::wire::teleport::accessmonitoringrules::v1::AccessMonitoringRule;

/// One PUT event handed to a watch stream's transport, for latency measurements.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Which watch stream (ids count up from 1 over the testkit's life).
    pub watcher: u64,
    /// The request the PUT carried.
    pub request_id: String,
    /// When the stream yielded the event to tonic for writing.
    pub at: Instant,
}

/// The response stream type of WatchEvents.
pub(crate) type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;

/// An `access_request` WatchKind's filter (`Name`, and `Filter` keys `id`, `user`, `state`).
#[derive(Debug, Default)]
struct RequestMatcher {
    name: Option<String>,
    id: Option<String>,
    user: Option<String>,
    state: Option<i32>,
}

impl RequestMatcher {
    fn from_kind(kind: &WatchKind) -> Result<Self, Status> {
        let mut matcher = RequestMatcher {
            name: non_empty(&kind.name),
            ..Default::default()
        };
        for (key, value) in &kind.filter {
            match key.as_str() {
                "id" => matcher.id = non_empty(value),
                "user" => matcher.user = non_empty(value),
                "state" if value.is_empty() => {}
                "state" => {
                    let state = RequestState::from_str_name(value).ok_or_else(|| {
                        Status::invalid_argument(format!("unknown request state {value:?}"))
                    })?;
                    matcher.state = Some(state as i32).filter(|&s| s != 0);
                }
                other => {
                    return Err(Status::invalid_argument(format!(
                        "unknown access request filter key {other:?}"
                    )));
                }
            }
        }
        Ok(matcher)
    }

    fn matches(&self, request: &AccessRequestV3) -> bool {
        let id = request_id(request);
        let spec = spec(request);
        self.name.as_deref().is_none_or(|n| n == id)
            && self.id.as_deref().is_none_or(|i| i == id)
            && self.user.as_deref().is_none_or(|u| u == spec.user)
            && self.state.is_none_or(|s| s == spec.state)
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

struct Entry {
    id: u64,
    matchers: Vec<RequestMatcher>,
    /// Watches `access_monitoring_rule`.
    rules: bool,
    events: mpsc::Sender<Event>,
    /// Dropping it without sending ends the stream cleanly; sending ends it with that status.
    close: oneshot::Sender<Status>,
}

/// Every open watch stream.
pub(crate) struct Watchers {
    entries: Vec<Entry>,
    next_id: u64,
    buffer: usize,
}

impl Watchers {
    pub(crate) fn new(buffer: usize) -> Self {
        Watchers {
            entries: Vec::new(),
            next_id: 1,
            buffer: buffer.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Validates `watch` like Teleport and registers a stream whose first item is INIT, so
    /// every event emitted after this call reaches the stream.
    /// `rules` says whether this cluster serves `access_monitoring_rule` to the caller; a
    /// kind it does not serve is dropped under partial success (and named in the INIT's
    /// status only when granted), refused otherwise.
    pub(crate) fn register(
        &mut self,
        watch: &Watch,
        shared: &Arc<Shared>,
        rules: Availability,
    ) -> Result<EventStream, Status> {
        if watch.kinds.is_empty() {
            return Err(Status::permission_denied("can't setup global watch"));
        }
        let mut granted = Vec::new();
        let mut matchers = Vec::new();
        let mut watches_rules = false;
        for kind in &watch.kinds {
            if kind.kind == KIND_ACCESS_REQUEST {
                matchers.push(RequestMatcher::from_kind(kind)?);
                granted.push(kind.clone());
            } else if kind.kind == KIND_ACCESS_MONITORING_RULE && rules == Availability::Served {
                watches_rules = true;
                granted.push(kind.clone());
            } else if kind.kind == KIND_ACCESS_MONITORING_RULE
                && rules == Availability::PermissionDenied
                && !watch.allow_partial_success
            {
                return Err(Status::permission_denied(
                    "access denied to perform action \"read\" on \"access_monitoring_rule\"",
                ));
            } else if !watch.allow_partial_success {
                return Err(Status::invalid_argument(format!(
                    "resource type {:?} is not supported by this event stream",
                    kind.kind
                )));
            }
        }
        if granted.is_empty() {
            return Err(Status::invalid_argument(
                "none of the requested resources are supported by this event stream",
            ));
        }

        let id = self.next_id;
        self.next_id += 1;
        // One extra slot for INIT, so `buffer` counts only real events.
        let (events, receiver) = mpsc::channel(self.buffer + 1);
        let (close, closed) = oneshot::channel();
        let init = Event {
            r#type: Operation::Init as i32,
            resource: Some(Resource::WatchStatus(watch_status(granted))),
        };
        // Cannot fail: the channel is new and has room.
        let _ = events.try_send(init);
        self.entries.push(Entry {
            id,
            matchers,
            rules: watches_rules,
            events,
            close,
        });
        Ok(event_stream(
            id,
            receiver,
            closed,
            Registration {
                shared: Arc::clone(shared),
                id,
            },
        ))
    }

    /// PUT with the full request to every stream whose filters match.
    pub(crate) fn emit_put(&mut self, request: &AccessRequestV3) {
        let event = Event {
            r#type: Operation::Put as i32,
            resource: Some(Resource::AccessRequest(request.clone())),
        };
        self.send(&event, |entry| {
            entry.matchers.iter().any(|m| m.matches(request))
        });
    }

    /// DELETE with a resource header; Teleport does not filter deletes.
    pub(crate) fn emit_delete(&mut self, id: &str) {
        let header = ResourceHeader {
            kind: KIND_ACCESS_REQUEST.to_owned(),
            sub_kind: String::new(),
            version: "v3".to_owned(),
            metadata: Some(Metadata {
                name: id.to_owned(),
                namespace: NAMESPACE.to_owned(),
                ..Default::default()
            }),
        };
        let event = Event {
            r#type: Operation::Delete as i32,
            resource: Some(Resource::ResourceHeader(header)),
        };
        self.send(&event, |entry| !entry.matchers.is_empty());
    }

    /// PUT of an access monitoring rule to every stream watching rules.
    pub(crate) fn emit_rule_put(&mut self, rule: &AccessMonitoringRule) {
        let event = Event {
            r#type: Operation::Put as i32,
            resource: Some(Resource::AccessMonitoringRule(rule.clone())),
        };
        self.send(&event, |entry| entry.rules);
    }

    /// DELETE of an access monitoring rule: a resource header naming it.
    pub(crate) fn emit_rule_delete(&mut self, name: &str) {
        let header = ResourceHeader {
            kind: KIND_ACCESS_MONITORING_RULE.to_owned(),
            version: "v1".to_owned(),
            metadata: Some(Metadata {
                name: name.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = Event {
            r#type: Operation::Delete as i32,
            resource: Some(Resource::ResourceHeader(header)),
        };
        self.send(&event, |entry| entry.rules);
    }

    fn send(&mut self, event: &Event, wanted: impl Fn(&Entry) -> bool) {
        let mut kept = Vec::with_capacity(self.entries.len());
        for entry in self.entries.drain(..) {
            if !wanted(&entry) {
                kept.push(entry);
                continue;
            }
            match entry.events.try_send(event.clone()) {
                Ok(()) => kept.push(entry),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Teleport closes a watcher that falls behind instead of blocking writers.
                    tracing::debug!(
                        watcher = entry.id,
                        "watch buffer overflowed, closing stream"
                    );
                    let _ = entry.close.send(Status::unknown(
                        "watch buffer overflow: the client fell behind",
                    ));
                }
                // The stream is already gone.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        self.entries = kept;
    }

    /// Ends every stream: with `status`, or cleanly (EOF) when `None`.
    pub(crate) fn close_all(&mut self, status: Option<Status>) {
        for entry in self.entries.drain(..) {
            if let Some(status) = &status {
                let _ = entry.close.send(status.clone());
            }
        }
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.entries.retain(|e| e.id != id);
    }
}

fn watch_status(kinds: Vec<WatchKind>) -> WatchStatusV1 {
    WatchStatusV1 {
        kind: "watch_status".to_owned(),
        sub_kind: String::new(),
        version: "v1".to_owned(),
        metadata: Some(Metadata {
            name: "watch_status".to_owned(),
            namespace: NAMESPACE.to_owned(),
            ..Default::default()
        }),
        spec: Some(WatchStatusSpecV1 { kinds }),
    }
}

/// Unregisters its stream when tonic drops it (client gone, connection killed).
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let id = self.id;
        self.shared.mutate(|state| state.watchers.remove(id));
    }
}

struct StreamState {
    id: u64,
    events: mpsc::Receiver<Event>,
    closed: oneshot::Receiver<Status>,
    done: bool,
    registration: Registration,
}

fn event_stream(
    id: u64,
    events: mpsc::Receiver<Event>,
    closed: oneshot::Receiver<Status>,
    registration: Registration,
) -> EventStream {
    let state = StreamState {
        id,
        events,
        closed,
        done: false,
        registration,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        tokio::select! {
            // A close wins over buffered events: Teleport drops the backlog of a closed watcher.
            biased;
            closed = &mut st.closed => {
                st.done = true;
                closed.ok().map(|status| (Err(status), st))
            }
            event = st.events.recv() => {
                let event = event?;
                if let Some(Resource::AccessRequest(request)) = &event.resource {
                    st.registration.shared.record_delivery(&Delivery {
                        watcher: st.id,
                        request_id: request_id(request).to_owned(),
                        at: Instant::now(),
                    });
                }
                Some((Ok(event), st))
            }
        }
    }))
}
