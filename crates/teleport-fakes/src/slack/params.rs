//! Reads a Slack Web API call's arguments the way Slack does: query string, JSON or form body.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::api::slack_error;

/// Arguments of one Web API call plus the token it presented.
#[derive(Debug, Default)]
pub(super) struct SlackCall {
    /// Bearer token from `Authorization`, or the `token` argument.
    pub token: Option<String>,
    /// All arguments, later sources winning: query string, then body.
    pub args: Map<String, Value>,
}

impl SlackCall {
    /// A string argument; numbers are accepted too because form bodies have no types.
    pub(super) fn str(&self, name: &str) -> Option<String> {
        match self.args.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A JSON argument (an object in a JSON body, or JSON-encoded in a form or query).
    pub(super) fn json(&self, name: &str) -> Result<Option<Value>, &'static str> {
        match self.args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| "invalid_arguments"),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// The `blocks` argument as a JSON value; a JSON-encoded string is decoded first.
    pub(super) fn blocks(&self) -> Result<Option<Value>, &'static str> {
        match self.args.get("blocks") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| "invalid_blocks_format"),
            Some(other) => Ok(Some(other.clone())),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for SlackCall {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut call = SlackCall::default();
        if let Some(query) = request.uri().query() {
            merge_form(&mut call.args, query.as_bytes())
                .map_err(|_| slack_error("invalid_arguments").into_response())?;
        }
        call.token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();

        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !body.is_empty() {
            let parsed = if content_type.starts_with("application/json") {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(map)) => {
                        call.args.extend(map);
                        Ok(())
                    }
                    _ => Err(()),
                }
            } else {
                merge_form(&mut call.args, &body)
            };
            parsed.map_err(|_| slack_error("invalid_arguments").into_response())?;
        }
        if call.token.is_none() {
            call.token = call.str("token");
        }
        Ok(call)
    }
}

fn merge_form(args: &mut Map<String, Value>, raw: &[u8]) -> Result<(), ()> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).map_err(|_| ())?;
    args.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    Ok(())
}
