//! Watching access requests: INIT handshake, events, reconnects with backoff.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::backoff::DecorrelatedJitter;
use crate::client::{ACCESS_REQUEST_KIND, TeleportClient};
use crate::convert;
use crate::error::ClientError;
use crate::governance::ACCESS_MONITORING_RULE_KIND;
use crate::model::{WatchEvent, WatchedKinds};
use crate::wire::{proto, types};

/// How long Teleport gets to send the INIT event on a new watch (as in Go).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(15);
/// Events buffered between the stream and the consumer; a slow consumer
/// stops reading from Teleport (backpressure) rather than growing memory.
const BUFFER: usize = 256;

/// Options for [`TeleportClient::watch_access_requests`].
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Limit for the INIT event.
    pub init_timeout: Duration,
    /// Reconnect backoff: first delay.
    pub backoff_base: Duration,
    /// Reconnect backoff: longest delay.
    pub backoff_cap: Duration,
    /// Also watch access monitoring rules (`RulePut`/`RuleDelete`), with partial success so
    /// that a cluster without them, or a role that may not read them, still serves the
    /// access-request watch; each (re)connect then starts with
    /// [`WatchEvent::Confirmed`] saying whether rules are included.
    pub access_monitoring_rules: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            init_timeout: INIT_TIMEOUT,
            backoff_base: Duration::from_millis(20),
            backoff_cap: Duration::from_secs(5),
            access_monitoring_rules: false,
        }
    }
}

/// The stream of watch events. Connection problems become
/// [`WatchEvent::Reconnecting`] followed by a new [`WatchEvent::Init`]; any
/// other error (e.g. access denied) ends the stream with `Err`.
pub type WatchStream = ReceiverStream<Result<WatchEvent, ClientError>>;

impl TeleportClient {
    /// Watches all access requests (every state; PUT and DELETE), and access monitoring
    /// rules when [`WatchOptions::access_monitoring_rules`] is set.
    pub fn watch_access_requests(&self, options: WatchOptions) -> WatchStream {
        let (tx, rx) = mpsc::channel(BUFFER);
        let client = self.clone();
        tokio::spawn(async move { run_watch(client, options, tx).await });
        ReceiverStream::new(rx)
    }
}

enum Ended {
    /// The consumer went away.
    ConsumerGone,
    /// The stream broke in a way a reconnect may fix.
    Retry(String),
    /// A fatal error.
    Fatal(ClientError),
}

async fn run_watch(
    client: TeleportClient,
    options: WatchOptions,
    tx: mpsc::Sender<Result<WatchEvent, ClientError>>,
) {
    let mut backoff = DecorrelatedJitter::new(options.backoff_base, options.backoff_cap);
    let mut attempt = 0u32;
    // Servers before v13 know no partial success and refuse an unknown kind outright; then
    // rules are left out for the rest of this watch.
    let mut with_rules = options.access_monitoring_rules;
    loop {
        let mut initialized = false;
        match watch_once(&client, &options, with_rules, &tx, &mut initialized).await {
            Ended::ConsumerGone => return,
            Ended::Fatal(error) if with_rules && refuses_kind(&error) => {
                tracing::warn!(%error, "this Teleport refuses to watch access monitoring rules; watching access requests only");
                with_rules = false;
            }
            Ended::Fatal(error) => {
                let _ = tx.send(Err(error)).await;
                return;
            }
            Ended::Retry(reason) => {
                if initialized {
                    backoff.reset();
                    attempt = 0;
                }
                attempt += 1;
                let delay = backoff.next_delay();
                tracing::warn!(%reason, attempt, ?delay, "Teleport watch broke; reconnecting");
                if tx
                    .send(Ok(WatchEvent::Reconnecting { reason, attempt }))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The error of a server that does not know a requested kind (and has no partial success).
fn refuses_kind(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Unimplemented { .. }
            | ClientError::Other {
                code: tonic::Code::InvalidArgument,
                ..
            }
    )
}

async fn watch_once(
    client: &TeleportClient,
    options: &WatchOptions,
    with_rules: bool,
    tx: &mpsc::Sender<Result<WatchEvent, ClientError>>,
    initialized: &mut bool,
) -> Ended {
    const METHOD: &str = "WatchEvents";
    let kind = |name: &str| types::WatchKind {
        kind: name.to_owned(),
        ..Default::default()
    };
    let mut kinds = vec![kind(ACCESS_REQUEST_KIND)];
    if with_rules {
        kinds.push(kind(ACCESS_MONITORING_RULE_KIND));
    }
    let request = proto::Watch {
        kinds,
        allow_partial_success: with_rules,
    };
    let opened = tokio::time::timeout(
        options.init_timeout,
        client.auth_client().watch_events(request),
    )
    .await;
    let mut stream = match opened {
        Err(_) => {
            return Ended::Retry(format!(
                "no answer to the watch within {:?}",
                options.init_timeout
            ));
        }
        Ok(Err(status)) => return classify(ClientError::from_status(METHOD, status)),
        Ok(Ok(response)) => response.into_inner(),
    };

    match tokio::time::timeout(options.init_timeout, stream.next()).await {
        Err(_) => return Ended::Retry(format!("no INIT event within {:?}", options.init_timeout)),
        Ok(None) => return Ended::Retry("the watch closed before its INIT event".into()),
        Ok(Some(Err(status))) => return classify(ClientError::from_status(METHOD, status)),
        Ok(Some(Ok(event))) if event.r#type == proto::Operation::Init as i32 => {
            if options.access_monitoring_rules {
                let confirmed = WatchedKinds {
                    access_monitoring_rules: with_rules
                        && confirms(&event, ACCESS_MONITORING_RULE_KIND),
                };
                if tx.send(Ok(WatchEvent::Confirmed(confirmed))).await.is_err() {
                    return Ended::ConsumerGone;
                }
            }
        }
        Ok(Some(Ok(event))) => {
            return Ended::Retry(format!(
                "expected an INIT event first, got operation {}",
                event.r#type
            ));
        }
    }
    *initialized = true;
    if tx.send(Ok(WatchEvent::Init)).await.is_err() {
        return Ended::ConsumerGone;
    }

    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(event) => event,
            Err(status) => return classify(ClientError::from_status(METHOD, status)),
        };
        let Some(event) = to_watch_event(event) else {
            continue;
        };
        if tx.send(Ok(event)).await.is_err() {
            return Ended::ConsumerGone;
        }
    }
    Ended::Retry("the watch stream ended".into())
}

/// Whether an INIT event's watch status lists `kind` (v12 servers send no status: then
/// nothing optional is confirmed).
pub(crate) fn confirms(init: &proto::Event, kind: &str) -> bool {
    match &init.resource {
        Some(proto::event::Resource::WatchStatus(status)) => status
            .spec
            .as_ref()
            .is_some_and(|spec| spec.kinds.iter().any(|k| k.kind == kind)),
        _ => false,
    }
}

/// Only errors that a reconnect cannot fix (the plugin's role, the server's
/// version) end the watch; anything else — including a stream the server
/// closed because the consumer lagged — is retried.
fn classify(error: ClientError) -> Ended {
    match error {
        ClientError::AccessDenied { .. } | ClientError::Unimplemented { .. } => Ended::Fatal(error),
        ClientError::Other {
            code: tonic::Code::InvalidArgument,
            ..
        } => Ended::Fatal(error),
        other => Ended::Retry(other.to_string()),
    }
}

/// Turns a wire event into a plugin event; `None` for anything not about access requests
/// or access monitoring rules.
pub(crate) fn to_watch_event(event: proto::Event) -> Option<WatchEvent> {
    use proto::event::Resource;
    match (proto::Operation::try_from(event.r#type), event.resource) {
        (Ok(proto::Operation::Put), Some(Resource::AccessRequest(request))) => {
            Some(WatchEvent::Put(Box::new(convert::access_request(request))))
        }
        (Ok(proto::Operation::Put), Some(Resource::AccessMonitoringRule(rule))) => Some(
            WatchEvent::RulePut(Box::new(convert::access_monitoring_rule(rule))),
        ),
        (Ok(proto::Operation::Delete), Some(Resource::ResourceHeader(header)))
            if header.kind == ACCESS_MONITORING_RULE_KIND =>
        {
            Some(WatchEvent::RuleDelete(
                header.metadata.unwrap_or_default().name,
            ))
        }
        (Ok(proto::Operation::Delete), Some(Resource::ResourceHeader(header)))
            if header.kind == ACCESS_REQUEST_KIND || header.kind.is_empty() =>
        {
            Some(WatchEvent::Delete(header.metadata.unwrap_or_default().name))
        }
        (op, resource) => {
            tracing::debug!(
                ?op,
                has_resource = resource.is_some(),
                "ignoring watch event"
            );
            None
        }
    }
}
