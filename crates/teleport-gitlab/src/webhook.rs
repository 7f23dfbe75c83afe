//! The webhook route (`POST /webhook`) and reading one `Issue Hook` delivery: the
//! `X-Gitlab-Token` compared in constant time with the webhook secret, the event kind, and
//! from the body only which issue to look at, and only when a decision label was added.
//! Everything else about the decision is read back from GitLab's API with the plugin's own
//! token (see the `assess` module); the body is a trigger, not evidence.
//!
//! The runtime's inbound listener owns the socket, TLS, basic auth and the body limit; the
//! token is checked on the headers alone ([`token_check`]) before the body is read (401),
//! then the route reads the delivery. The answer tells GitLab whether to send it again:
//! 2xx done or ignored, 4xx never (forged or malformed), 503 later (GitLab or Teleport busy
//! or down; the poller, when on, sees the decision anyway).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::inbound::answer::{answer, failed};
use teleport_plugin_runtime::inbound::{HeaderCheck, PeerAddr};

use crate::apply::{Inbound, Seen};
use crate::decision::Verdict;

/// The path GitLab posts to, below `public_addr`.
pub const PATH: &str = "/webhook";
/// The header naming the event.
pub const EVENT_HEADER: &str = "X-Gitlab-Event";
/// The header carrying the webhook secret.
pub const TOKEN_HEADER: &str = "X-Gitlab-Token";
/// The event kind of issue changes.
pub const ISSUE_HOOK: &str = "Issue Hook";

/// The issue a delivery is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssueRef {
    /// The project.
    pub project_id: u64,
    /// The issue's number in it.
    pub iid: u64,
}

/// What a delivery asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A decision label was added to this issue: assess it.
    Assess(IssueRef),
    /// Nothing to do (another event, or no decision label added); answer 2xx so GitLab does
    /// not retry or disable the hook.
    Ignored(&'static str),
}

/// Why a delivery is refused.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Missing or wrong `X-Gitlab-Token`.
    #[error("missing or wrong X-Gitlab-Token")]
    Unauthorized,
    /// An `Issue Hook` whose body is not an issue event.
    #[error("the body is not a GitLab issue event: {0}")]
    BadBody(String),
}

impl DeliveryError {
    /// The HTTP status to answer with: 401 or 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::BadBody(_) => 400,
        }
    }
}

/// Whether `given` is the secret, in time independent of where they differ.
pub fn token_matches(secret: &Secret, given: Option<&[u8]>) -> bool {
    let Some(given) = given else {
        return false;
    };
    let expected = secret.expose().as_bytes();
    let mut differ = u8::from(expected.len() != given.len());
    for index in 0..expected.len().max(given.len()) {
        let a = expected.get(index).copied().unwrap_or(0);
        let b = given.get(index).copied().unwrap_or(0);
        differ |= std::hint::black_box(a ^ b);
    }
    differ == 0
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    object_kind: String,
    object_attributes: Attributes,
    #[serde(default)]
    changes: Changes,
}

#[derive(Deserialize)]
struct Attributes {
    iid: u64,
    project_id: u64,
}

#[derive(Default, Deserialize)]
struct Changes {
    #[serde(default)]
    labels: Option<LabelsChange>,
}

#[derive(Deserialize)]
struct LabelsChange {
    #[serde(default)]
    previous: Vec<HookLabel>,
    #[serde(default)]
    current: Vec<HookLabel>,
}

#[derive(Deserialize)]
struct HookLabel {
    #[serde(default)]
    id: u64,
    #[serde(default)]
    title: String,
}

/// Reads one delivery: `token` and `event` are the `X-Gitlab-Token` and `X-Gitlab-Event`
/// header values.
pub fn read_delivery(
    secret: &Secret,
    token: Option<&[u8]>,
    event: Option<&[u8]>,
    body: &[u8],
) -> Result<Delivery, DeliveryError> {
    if !token_matches(secret, token) {
        return Err(DeliveryError::Unauthorized);
    }
    if event != Some(ISSUE_HOOK.as_bytes()) {
        return Ok(Delivery::Ignored("not an issue event"));
    }
    let body: Body =
        serde_json::from_slice(body).map_err(|e| DeliveryError::BadBody(e.to_string()))?;
    if body.object_kind != "issue" {
        return Ok(Delivery::Ignored("not an issue event"));
    }
    let Some(labels) = body.changes.labels else {
        return Ok(Delivery::Ignored("no label change"));
    };
    let added_decision = labels.current.iter().any(|label| {
        let added = !labels
            .previous
            .iter()
            .any(|p| p.id == label.id && p.title == label.title);
        added && Verdict::of_label(&label.title).is_some()
    });
    if !added_decision {
        return Ok(Delivery::Ignored("no decision label added"));
    }
    Ok(Delivery::Assess(IssueRef {
        project_id: body.object_attributes.project_id,
        iid: body.object_attributes.iid,
    }))
}

/// The listener's check before any body is read: every call but `GET /status` must carry
/// the secret in `X-Gitlab-Token`, or is answered 401.
pub fn token_check(secret: Secret) -> HeaderCheck {
    Arc::new(move |request: &Request| {
        if request.uri().path() == "/status" {
            return None;
        }
        let given = request
            .headers()
            .get(TOKEN_HEADER)
            .map(HeaderValue::as_bytes);
        if token_matches(&secret, given) {
            return None;
        }
        let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
        tracing::warn!(?peer, path = %request.uri().path(), present = given.is_some(), "webhook call refused: missing or wrong X-Gitlab-Token");
        Some(answer(StatusCode::UNAUTHORIZED, "unauthorized"))
    })
}

/// The plugin's routes for the runtime's listener, with `secret` the webhook secret.
pub fn routes(inbound: Arc<Inbound>, secret: Secret) -> Router {
    Router::new()
        .route(PATH, post(on_webhook))
        .with_state(Arc::new((inbound, secret)))
}

async fn on_webhook(
    State(state): State<Arc<(Arc<Inbound>, Secret)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (inbound, secret) = state.as_ref();
    let delivery = read_delivery(
        secret,
        headers.get(TOKEN_HEADER).map(HeaderValue::as_bytes),
        headers.get(EVENT_HEADER).map(HeaderValue::as_bytes),
        &body,
    );
    let issue = match delivery {
        Err(DeliveryError::Unauthorized) => {
            return answer(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        Err(error @ DeliveryError::BadBody(_)) => {
            tracing::info!(%error, "webhook refused");
            return answer(StatusCode::BAD_REQUEST, "malformed webhook");
        }
        Ok(Delivery::Ignored(why)) => {
            tracing::debug!(why, "webhook delivery ignored");
            return answer(StatusCode::OK, "ignored");
        }
        Ok(Delivery::Assess(issue)) => issue,
    };
    if issue.project_id != inbound.project_id() {
        // Only a holder of the secret gets here; still, the plugin decides in its project only.
        tracing::warn!(
            gitlab_project_id = issue.project_id,
            "webhook delivery about another project ignored"
        );
        return answer(StatusCode::OK, "ignored");
    }
    match inbound.on_issue(issue.iid).await {
        Ok(Seen::Applied) => answer(StatusCode::OK, "applied"),
        Ok(Seen::Nothing | Seen::Ignored) => answer(StatusCode::OK, "ignored"),
        Ok(Seen::AlreadyDone) => answer(StatusCode::OK, "nothing to do"),
        Ok(Seen::Gone) => answer(StatusCode::OK, "request gone"),
        Err(error) => failed(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly() {
        let secret = Secret::new("s3cret");
        assert!(token_matches(&secret, Some(b"s3cret")));
        assert!(!token_matches(&secret, Some(b"s3cre")));
        assert!(!token_matches(&secret, Some(b"s3cret!")));
        assert!(!token_matches(&secret, Some(b"S3cret")));
        assert!(!token_matches(&secret, Some(b"")));
        assert!(!token_matches(&secret, None));
    }

    fn body(previous: &str, current: &str) -> Vec<u8> {
        format!(
            r#"{{"object_kind":"issue","object_attributes":{{"id":9,"iid":3,"project_id":42,"action":"update"}},
               "changes":{{"labels":{{"previous":{previous},"current":{current}}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn only_added_decision_labels_lead_to_an_assessment() {
        let secret = Secret::new("s");
        let read = |body: &[u8]| read_delivery(&secret, Some(b"s"), Some(b"Issue Hook"), body);
        let pending = r#"[{"id":1,"title":"Teleport: Pending"}]"#;
        let approved =
            r#"[{"id":1,"title":"Teleport: Pending"},{"id":2,"title":"teleport: approved"}]"#;
        assert_eq!(
            read(&body(pending, approved)).unwrap(),
            Delivery::Assess(IssueRef {
                project_id: 42,
                iid: 3
            })
        );
        assert_eq!(
            read(&body(approved, pending)).unwrap(),
            Delivery::Ignored("no decision label added"),
            "a removal decides nothing"
        );
        let bug = r#"[{"id":1,"title":"Teleport: Pending"},{"id":5,"title":"bug"}]"#;
        assert!(matches!(
            read(&body(pending, bug)).unwrap(),
            Delivery::Ignored(_)
        ));
        let no_change = br#"{"object_kind":"issue","object_attributes":{"iid":3,"project_id":42},"changes":{}}"#;
        assert_eq!(
            read(no_change).unwrap(),
            Delivery::Ignored("no label change")
        );
        assert_eq!(read(b"{not json").unwrap_err().status(), 400);
    }

    #[test]
    fn token_first_then_event() {
        let secret = Secret::new("s");
        let body = body("[]", r#"[{"id":2,"title":"Teleport: Denied"}]"#);
        let wrong = read_delivery(&secret, Some(b"x"), Some(b"Issue Hook"), &body);
        assert_eq!(wrong.unwrap_err().status(), 401);
        let missing = read_delivery(&secret, None, Some(b"Issue Hook"), b"garbage");
        assert_eq!(
            missing.unwrap_err().status(),
            401,
            "the token is checked before the body"
        );
        let push = read_delivery(&secret, Some(b"s"), Some(b"Push Hook"), b"{}");
        assert_eq!(push.unwrap(), Delivery::Ignored("not an issue event"));
    }
}
