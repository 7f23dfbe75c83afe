//! Finding a request's message again: request messages carry Slack message `metadata`
//! naming the request, and `conversations.history` (with `include_all_metadata`) lists a
//! channel's messages with it. Channel names and user IDs are turned into the conversation
//! IDs history needs with `conversations.list` and `conversations.open`.
//!
//! The answers are read into small types of our own holding only what is used, so that a
//! message of any shape in the channel cannot make a lookup fail.

use std::collections::HashMap;

use hyper_util::client::legacy::connect::Connect;
use serde::Deserialize;
use serde_json::Value;
use slack_morphism::prelude::SlackMessageMetadata;

use super::{MessageRef, SlackApi, SlackError, content};

/// The `event_type` of request messages' metadata (Slack wants `snake_case`).
pub const REQUEST_EVENT_TYPE: &str = "teleport_access_request";

/// The `event_payload` key holding the request's ID.
pub const REQUEST_ID_KEY: &str = "request_id";

/// Messages asked for per history page (Slack recommends no more than 200).
const HISTORY_PAGE: u16 = 200;

/// Channels asked for per `conversations.list` page.
const CHANNELS_PAGE: u16 = 200;

/// One page of `conversations.history`: newest first.
#[derive(Clone, Debug, Default)]
pub struct HistoryPage {
    /// The page's messages.
    pub messages: Vec<HistoryMessage>,
    /// Where the next (older) page starts, when there is one.
    pub next_cursor: Option<String>,
}

/// A message as a lookup sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryMessage {
    /// The message's `ts`.
    pub ts: String,
    /// The request its metadata names, if it is a request message.
    pub request_id: Option<String>,
}

/// One page of `conversations.list`.
#[derive(Clone, Debug, Default)]
pub struct ChannelPage {
    /// `(id, name)` of each channel.
    pub channels: Vec<(String, String)>,
    /// The next page's cursor, when there is one.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct HistoryAnswer {
    #[serde(default)]
    messages: Vec<RawMessage>,
    #[serde(default)]
    has_more: bool,
    response_metadata: Option<Cursor>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    ts: String,
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    event_payload: Value,
}

#[derive(Deserialize)]
struct Cursor {
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct OpenAnswer {
    channel: ChannelRef,
}

#[derive(Deserialize)]
struct ChannelRef {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ListAnswer {
    #[serde(default)]
    channels: Vec<ChannelRef>,
    response_metadata: Option<Cursor>,
}

fn next(cursor: Option<Cursor>) -> Option<String> {
    cursor
        .and_then(|c| c.next_cursor)
        .filter(|cursor| !cursor.is_empty())
}

impl RawMessage {
    fn request_id(&self) -> Option<String> {
        let metadata = self.metadata.as_ref()?;
        if metadata.event_type != REQUEST_EVENT_TYPE {
            return None;
        }
        metadata
            .event_payload
            .get(REQUEST_ID_KEY)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl<H> SlackApi<H>
where
    H: Connect + Clone + Send + Sync + 'static,
{
    /// Post a request's root message, its metadata naming `request_id`.
    pub async fn post_request_message(
        &self,
        channel: &str,
        blocks: &[Value],
        text: &str,
        request_id: &str,
    ) -> Result<MessageRef, SlackError> {
        let payload = HashMap::from([(REQUEST_ID_KEY.to_owned(), request_id.to_owned())]);
        let metadata = SlackMessageMetadata {
            event_type: REQUEST_EVENT_TYPE.to_owned(),
            event_payload: Some(payload),
        };
        let content = content(Some(blocks), text)?.with_metadata(metadata);
        self.post(channel, None, content).await
    }

    /// One page of a conversation's root messages between `oldest` and `latest` (Slack
    /// timestamps, `"<secs>.<micros>"`), newest first, with their metadata.
    pub async fn history_page(
        &self,
        channel: &str,
        oldest: &str,
        latest: &str,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, SlackError> {
        let session = self.client.open_session(&self.token);
        let params = vec![
            ("channel", Some(channel.to_owned())),
            ("oldest", Some(oldest.to_owned())),
            ("latest", Some(latest.to_owned())),
            ("inclusive", Some("true".to_owned())),
            ("limit", Some(HISTORY_PAGE.to_string())),
            ("include_all_metadata", Some("true".to_owned())),
            ("cursor", cursor.map(str::to_owned)),
        ];
        let answer: HistoryAnswer = self
            .call(
                "conversations.history",
                session
                    .http_session_api
                    .http_get("conversations.history", &params, None),
            )
            .await?;
        let messages = answer
            .messages
            .iter()
            .map(|m| HistoryMessage {
                ts: m.ts.clone(),
                request_id: m.request_id(),
            })
            .collect();
        Ok(HistoryPage {
            messages,
            next_cursor: next(answer.response_metadata).filter(|_| answer.has_more),
        })
    }

    /// The ID of the direct-message conversation with `user` (`conversations.open`).
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        let session = self.client.open_session(&self.token);
        let body = serde_json::json!({ "users": user });
        let answer: OpenAnswer = self
            .call(
                "conversations.open",
                session
                    .http_session_api
                    .http_post("conversations.open", &body, None),
            )
            .await?;
        Ok(answer.channel.id)
    }

    /// One page of the workspace's channels, public and private, not archived.
    pub async fn channels_page(&self, cursor: Option<&str>) -> Result<ChannelPage, SlackError> {
        let session = self.client.open_session(&self.token);
        let params = vec![
            ("types", Some("public_channel,private_channel".to_owned())),
            ("exclude_archived", Some("true".to_owned())),
            ("limit", Some(CHANNELS_PAGE.to_string())),
            ("cursor", cursor.map(str::to_owned)),
        ];
        let answer: ListAnswer = self
            .call(
                "conversations.list",
                session
                    .http_session_api
                    .http_get("conversations.list", &params, None),
            )
            .await?;
        Ok(ChannelPage {
            channels: answer
                .channels
                .into_iter()
                .filter_map(|c| Some((c.id, c.name?)))
                .collect(),
            next_cursor: next(answer.response_metadata),
        })
    }
}
