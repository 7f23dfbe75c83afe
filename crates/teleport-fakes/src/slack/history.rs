//! The fake Slack's conversation reads, as Slack documents them: `conversations.history`
//! (root messages newest first, `oldest`/`latest`/`inclusive`, `limit` up to 999, cursor
//! paging with `has_more`, metadata only with `include_all_metadata`), `conversations.open`
//! (a user's DM; the fake's DM conversation ID is the user ID its posts already answer
//! with) and `conversations.list` (the configured channels, paged).
//!
//! History takes conversation IDs only, never names, as Slack does.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::api::{Outcome, Shared, is_user_id, message_json, reply};
use super::params::SlackCall;

/// Slack's default and largest `limit` for history.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 999;

/// `conversations.list`'s default page.
const DEFAULT_LIST_LIMIT: usize = 100;

/// `"<secs>.<micros>"` as microseconds; `None` for anything else.
fn ts_micros(ts: &str) -> Option<u128> {
    let (secs, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    if fraction.len() > 6 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let secs: u128 = secs.parse().ok()?;
    let micros: u128 = format!("{fraction:0<6}").parse().ok()?;
    Some(secs * 1_000_000 + micros)
}

fn limit_of(call: &SlackCall, default: usize) -> Result<usize, &'static str> {
    match call.str("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .map(|n| if n == 0 { default } else { n.min(MAX_LIMIT) })
            .map_err(|_| "invalid_limit"),
    }
}

fn is_true(call: &SlackCall, name: &str) -> bool {
    matches!(call.str(name).as_deref(), Some("true" | "1"))
}

pub(crate) async fn history(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(read_history(&shared, &call))
}

fn read_history(shared: &Shared, call: &SlackCall) -> Outcome {
    shared.check_token(call)?;
    let channel = call.str("channel").ok_or("channel_not_found")?;
    let state = shared.state();
    let known = state.channels.iter().any(|c| c.id == channel)
        || is_user_id(&channel)
        || (shared.accept_any_channel && !channel.starts_with('#'));
    if !known {
        return Err("channel_not_found");
    }
    let bound = |name: &str| -> Result<Option<u128>, &'static str> {
        call.str(name)
            .map(|ts| ts_micros(&ts).ok_or("invalid_ts_oldest"))
            .transpose()
    };
    let (oldest, latest) = (bound("oldest")?, bound("latest")?);
    let inclusive = is_true(call, "inclusive");
    // Our cursor: the `ts` of the last message handed out; the next page is older.
    let before = match call.str("cursor") {
        None => None,
        Some(cursor) => Some(
            cursor
                .strip_prefix("before:")
                .and_then(ts_micros)
                .ok_or("invalid_cursor")?,
        ),
    };
    let limit = limit_of(call, DEFAULT_LIMIT)?;
    let with_metadata = is_true(call, "include_all_metadata");
    let mut matching: Vec<(u128, Value)> = state
        .root_messages()
        .filter(|m| m.channel == channel)
        .filter_map(|m| Some((ts_micros(&m.ts)?, m)))
        .filter(|(ts, _)| {
            let after_oldest = oldest.is_none_or(|o| if inclusive { *ts >= o } else { *ts > o });
            let before_latest = latest.is_none_or(|l| if inclusive { *ts <= l } else { *ts < l });
            after_oldest && before_latest && before.is_none_or(|b| *ts < b)
        })
        .map(|(ts, m)| {
            let mut json = message_json(m);
            if !with_metadata && let Some(object) = json.as_object_mut() {
                object.remove("metadata");
            }
            (ts, json)
        })
        .collect();
    drop(state);
    matching.sort_by_key(|m| std::cmp::Reverse(m.0));
    let has_more = matching.len() > limit;
    matching.truncate(limit);
    let next_cursor = match matching.last() {
        Some((_, last)) if has_more => format!("before:{}", last["ts"].as_str().unwrap_or("")),
        _ => String::new(),
    };
    let messages: Vec<Value> = matching.into_iter().map(|(_, m)| m).collect();
    Ok(json!({
        "messages": messages,
        "has_more": has_more,
        "pin_count": 0,
        "response_metadata": { "next_cursor": next_cursor },
    }))
}

pub(crate) async fn open(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(shared.check_token(&call).and_then(|()| {
        let users = call.str("users").ok_or("users_list_not_supplied")?;
        if users.contains(',') {
            // A group DM: not something the plugin opens.
            return Err("not_implemented");
        }
        if !is_user_id(&users) {
            return Err("user_not_found");
        }
        Ok(json!({ "channel": { "id": users } }))
    }))
}

pub(crate) async fn list(State(shared): State<Arc<Shared>>, call: SlackCall) -> Response {
    reply(shared.check_token(&call).and_then(|()| {
        let start = match call.str("cursor") {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix("index:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or("invalid_cursor")?,
        };
        let limit = limit_of(&call, DEFAULT_LIST_LIMIT)?;
        let state = shared.state();
        let channels: Vec<Value> = state
            .channels
            .iter()
            .skip(start)
            .take(limit)
            .map(
                |c| json!({ "id": c.id, "name": c.name, "is_channel": true, "is_archived": false }),
            )
            .collect();
        let next = start + channels.len();
        let next_cursor = if next < state.channels.len() {
            format!("index:{next}")
        } else {
            String::new()
        };
        Ok(json!({ "channels": channels, "response_metadata": { "next_cursor": next_cursor } }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_timestamps_read_as_microseconds() {
        assert_eq!(ts_micros("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(ts_micros("1700000000.5"), Some(1_700_000_000_500_000));
        assert_eq!(ts_micros("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(ts_micros("soon"), None);
        assert_eq!(ts_micros("1.1234567"), None);
    }
}
