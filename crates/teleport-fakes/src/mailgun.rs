//! Fake Mailgun messages API on loopback: `POST /v3/{domain}/messages` with basic auth, and
//! the events API as far as accepted mails go: `GET /v3/{domain}/events`.
//!
//! The form fields are recorded as sent (`from`, `to`, `subject`, `text`, `html`, `h:*`
//! headers, `o:*` options), with the wall-clock time of acceptance. Every accepted mail is an
//! `accepted` event at that time, its `Message-Id` header (without brackets) under
//! `message.headers.message-id`; the events API filters by `message-id`, `event`,
//! `recipient`, `begin`/`end` (Unix seconds; `end` before `begin` lists newest first) and
//! `limit`, as documented. Calls are counted as `"messages"`, `"events"` and `"domains"`
//! (the start-up check) for fault injection; faults on every call hit all three.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Multipart, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;

use crate::control::{Control, Fault, FaultLayer, WaitTimeout, fault_layer};
use crate::server::LoopbackServer;

/// One accepted message, as its form fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailgunMessage {
    /// The sending domain from the URL.
    pub domain: String,
    /// Every form field in order (`from`, `to`, `h:In-Reply-To`, ...).
    pub fields: Vec<(String, String)>,
    /// The ID the fake answered with (with angle brackets, as Mailgun does).
    pub id: String,
    /// When the fake accepted it: Unix milliseconds, wall clock (its `accepted` event's time).
    pub accepted_at_millis: u64,
}

impl MailgunMessage {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How to start a [`FakeMailgun`].
#[derive(Clone, Debug)]
pub struct FakeMailgunOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The sending domain that exists.
    pub domain: String,
    /// The private API key accepted (user `api`).
    pub api_key: String,
}

impl Default for FakeMailgunOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            domain: "mail.example.com".to_owned(),
            api_key: "key-fake".to_owned(),
        }
    }
}

struct Shared {
    options: FakeMailgunOptions,
    api_key: Mutex<String>,
    messages: Mutex<Vec<MailgunMessage>>,
    control: Arc<Control>,
}

impl Shared {
    fn messages(&self) -> MutexGuard<'_, Vec<MailgunMessage>> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Mailgun. Dropping it stops the server.
pub struct FakeMailgun {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeMailgun {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeMailgunOptions) -> Self {
        let listen = options.listen;
        let shared = Arc::new(Shared {
            api_key: Mutex::new(options.api_key.clone()),
            options,
            messages: Mutex::new(Vec::new()),
            control: Arc::new(Control::new()),
        });
        let layer = FaultLayer {
            control: shared.control.clone(),
            // The start-up check and the events look-up are faulted apart from sends.
            method_of: |request: &Request| {
                let path = request.uri().path();
                if path.starts_with("/v3/domains/") {
                    "domains".to_owned()
                } else if path.ends_with("/events") {
                    "events".to_owned()
                } else {
                    "messages".to_owned()
                }
            },
            render: render_fault,
        };
        let router = Router::new()
            .route("/v3/{domain}/messages", post(send_message))
            .route("/v3/domains/{domain}", get(get_domain))
            .route("/v3/{domain}/events", get(list_events))
            .layer(from_fn_with_state(layer, fault_layer))
            .with_state(shared.clone());
        match LoopbackServer::start(listen, router).await {
            Ok(server) => Self { shared, server },
            Err(err) => panic!("fake mailgun: cannot listen on {listen}: {err}"),
        }
    }

    /// The API base (what `[mailgun] api_base` holds): `http://127.0.0.1:PORT/v3`.
    pub fn api_base(&self) -> String {
        format!("http://{}/v3", self.server.local_addr())
    }

    /// Accept `key` from now on (the old one gets 401).
    pub fn set_api_key(&self, key: &str) {
        *self
            .shared
            .api_key
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = key.to_owned();
    }

    /// Fault injection and call counts (`"messages"`, `"events"`, `"domains"`).
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// Takes `message` as if it had been sent through the API now (a mail sent by a plugin
    /// that is gone, say): it is listed and has its `accepted` event. Its `id` is set from its
    /// `h:Message-Id` field when empty.
    pub fn accept(&self, mut message: MailgunMessage) {
        {
            let mut messages = self.shared.messages();
            if message.id.is_empty() {
                message.id = message
                    .field("h:Message-Id")
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("<{}.fake@{}>", messages.len() + 1, message.domain));
            }
            message.accepted_at_millis = unix_millis_now();
            messages.push(message);
        }
        self.shared.control.notify_changed();
    }

    /// Accepted messages in order.
    pub fn messages(&self) -> Vec<MailgunMessage> {
        self.shared.messages().clone()
    }

    /// Wait until `check` returns `Some` for the accepted messages.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[MailgunMessage]) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.messages()))
            .await
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn render_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::ServerError { status } => error(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Injected server error",
        ),
    }
}

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .is_some_and(|pair| pair == format!("api:{key}"))
}

/// Mailgun's answer to a wrong key (401) or a domain the key does not own (404).
fn refusal(shared: &Shared, headers: &HeaderMap, domain: &str) -> Option<Response> {
    let key = shared
        .api_key
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if !authorized(headers, &key) {
        return Some((StatusCode::UNAUTHORIZED, "Forbidden").into_response());
    }
    if domain != shared.options.domain {
        return Some(error(StatusCode::NOT_FOUND, "Domain not found"));
    }
    None
}

/// `GET /v3/domains/{domain}`: the domain's details, for the key that owns it.
async fn get_domain(
    State(shared): State<Arc<Shared>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&shared, &headers, &domain) {
        return refused;
    }
    Json(json!({ "domain": { "name": domain, "state": "active" } })).into_response()
}

async fn send_message(
    State(shared): State<Arc<Shared>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Some(refused) = refusal(&shared, &headers, &domain) {
        return refused;
    }
    let mut fields = Vec::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                match field.text().await {
                    Ok(value) => fields.push((name, value)),
                    Err(_) => return error(StatusCode::BAD_REQUEST, "unreadable form field"),
                }
            }
            Ok(None) => break,
            Err(_) => return error(StatusCode::BAD_REQUEST, "expected a multipart form"),
        }
    }
    let mut message = MailgunMessage {
        domain: domain.clone(),
        fields,
        id: String::new(),
        accepted_at_millis: unix_millis_now(),
    };
    for required in ["from", "to"] {
        if message.field(required).is_none() {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("{required} parameter is missing"),
            );
        }
    }
    if message.field("text").is_none() && message.field("html").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "Need at least one of 'text' or 'html' parameters specified",
        );
    }
    let id = {
        let mut messages = shared.messages();
        let id = message
            .field("h:Message-Id")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("<{}.fake@{domain}>", messages.len() + 1));
        message.id = id.clone();
        messages.push(message);
        id
    };
    shared.control.notify_changed();
    Json(json!({ "id": id, "message": "Queued. Thank you." })).into_response()
}

fn unix_millis_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn without_brackets(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(id)
}

/// A time bound of the events API: Unix seconds, fractions allowed. (Mailgun also takes RFC
/// 2822 dates; the plugins send seconds.)
/// `Err` names the parameter that is not a time.
fn seconds<'a>(query: &HashMap<String, String>, name: &'a str) -> Result<Option<f64>, &'a str> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|secs| secs.is_finite())
            .map(Some)
            .ok_or(name),
    }
}

/// `GET /v3/{domain}/events`: the `accepted` events of the mails sent to `domain`, filtered
/// as Mailgun's events API filters them, oldest first (newest first when `end` is before
/// `begin`, or with `ascending=no`). One page; `paging` names the pages next to it by the
/// same query and the fake's own `page` offset, where Mailgun has opaque URLs.
async fn list_events(
    State(shared): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&shared, &headers, &domain) {
        return refused;
    }
    let (begin, end) = match (seconds(&query, "begin"), seconds(&query, "end")) {
        (Ok(begin), Ok(end)) => (begin, end),
        (Err(name), _) | (_, Err(name)) => {
            return error(StatusCode::BAD_REQUEST, &format!("invalid {name}"));
        }
    };
    let descending = match (begin, end) {
        (Some(begin), Some(end)) => end < begin,
        _ => query.get("ascending").map(String::as_str) == Some("no"),
    };
    let (low, high) = match (begin, end) {
        (Some(begin), Some(end)) => (begin.min(end), begin.max(end)),
        (Some(begin), None) if descending => (f64::MIN, begin),
        (Some(begin), None) => (begin, f64::MAX),
        (None, Some(end)) => (f64::MIN, end),
        (None, None) => (f64::MIN, f64::MAX),
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(limit)) if (1..=300).contains(&limit) => limit,
        Some(_) => return error(StatusCode::BAD_REQUEST, "limit must be from 1 to 300"),
    };
    let offset = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0);
    let wanted_id = query.get("message-id").map(|id| without_brackets(id));
    let wanted_recipient = query.get("recipient");
    // Only `accepted` events exist here: a mail the fake took is accepted and nothing more.
    let accepted_only = query.get("event").is_none_or(|e| e == "accepted");

    let mut events: Vec<(f64, serde_json::Value)> = shared
        .messages()
        .iter()
        .enumerate()
        .filter(|_| accepted_only)
        .filter(|(_, m)| m.domain == domain)
        .filter(|(_, m)| wanted_id.is_none_or(|id| without_brackets(&m.id) == id))
        .filter(|(_, m)| {
            wanted_recipient
                .is_none_or(|r| m.field("to").is_some_and(|to| to.eq_ignore_ascii_case(r)))
        })
        .map(|(index, m)| (index, m, m.accepted_at_millis as f64 / 1000.0))
        .filter(|(_, _, at)| (low..=high).contains(at))
        .map(|(index, m, at)| {
            let header = |name: &str| m.field(name).unwrap_or_default().to_owned();
            let event = json!({
                "event": "accepted",
                "id": format!("fake-event-{index}"),
                "timestamp": at,
                "log-level": "info",
                "recipient": header("to"),
                "message": {
                    "headers": {
                        "message-id": without_brackets(&m.id),
                        "from": header("from"),
                        "to": header("to"),
                        "subject": header("subject"),
                    },
                },
            });
            (at, event)
        })
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    if descending {
        events.reverse();
    }
    let items: Vec<serde_json::Value> = events
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, event)| event)
        .collect();
    let filters: Vec<&str> = raw
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
        .collect();
    let page = |at: usize| {
        let mut pairs = filters.clone();
        let offset = format!("page={at}");
        pairs.push(&offset);
        format!("/v3/{domain}/events?{}", pairs.join("&"))
    };
    Json(json!({
        "paging": {
            "next": page(offset + items.len()),
            "previous": page(offset.saturating_sub(limit)),
        },
        "items": items,
    }))
    .into_response()
}
