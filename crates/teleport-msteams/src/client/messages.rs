//! Reading the bot's cards back through Graph, for the opt-in look-up of a card posted by a
//! replica that died before recording it (`[msapi] lookup_posted`): one page of a chat's
//! messages (`GET chats/{id}/messages`, application permission `Chat.Read.All`) or of a
//! channel's root messages (`GET teams/{team}/channels/{id}/messages`,
//! `ChannelMessage.Read.All`) per call, read into lean types.
//!
//! What Graph v1.0 documents and this relies on: a page holds at most 50 messages (`$top`);
//! a chat lists newest first by `createdDateTime` when asked (`$orderby=createdDateTime
//! desc`; descending only) and then filters on `createdDateTime lt <time>` (a date filter
//! is applied only with an order on the same property); a channel takes no order or filter;
//! further pages come from the absolute `@odata.nextLink`, followed only under the
//! configured Graph base so the token never goes elsewhere. A card's attachment has
//! `contentType` `application/vnd.microsoft.card.adaptive` and the card's JSON as a string
//! in `content`.

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::client::activities::ADAPTIVE_CARD;
use crate::client::{MsApi, MsApiError, Service};

/// Graph's largest page of messages.
pub const MESSAGES_PAGE: usize = 50;

/// Whose messages to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagesOf<'a> {
    /// A chat (a person's chat with the bot), by chat ID.
    Chat(&'a str),
    /// A channel of a team.
    Channel {
        /// The team's (group's) ID.
        team: &'a str,
        /// The channel's ID (its conversation ID).
        channel: &'a str,
    },
}

impl MessagesOf<'_> {
    /// The application permission Graph wants for the listing.
    pub fn permission(&self) -> &'static str {
        match self {
            Self::Chat(_) => "Chat.Read.All",
            Self::Channel { .. } => "ChannelMessage.Read.All",
        }
    }

    /// Whether the listing is newest first by creation (chats, as asked); a channel's order
    /// is not documented.
    pub fn newest_created_first(&self) -> bool {
        matches!(self, Self::Chat(_))
    }
}

/// Who sent a message: only whether an application (a bot) did is read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Sender {
    /// The application, for a message a bot or app sent.
    #[serde(default)]
    pub application: Option<Value>,
}

/// An attachment: a card's type and its JSON (a string, as Graph documents it).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// `application/vnd.microsoft.card.adaptive` for an adaptive card.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The card.
    #[serde(default)]
    pub content: Option<Value>,
}

/// A listed message (`chatMessage`), with what the look-up reads.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Its ID (for a bot's message, also its Bot Framework activity ID).
    pub id: String,
    /// `message` for a message (not a system event).
    #[serde(default)]
    pub message_type: Option<String>,
    /// When it was created, RFC 3339.
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// When it last changed, RFC 3339.
    #[serde(default)]
    pub last_modified_date_time: Option<String>,
    /// Set once it was deleted.
    #[serde(default)]
    pub deleted_date_time: Option<String>,
    /// Who sent it.
    #[serde(default)]
    pub from: Option<Sender>,
    /// Its attachments.
    #[serde(default)]
    pub attachments: Option<Vec<Attachment>>,
}

fn parse_time(text: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text?, &Rfc3339).ok()
}

impl ChatMessage {
    /// `createdDateTime`, when readable.
    pub fn created(&self) -> Option<OffsetDateTime> {
        parse_time(self.created_date_time.as_deref())
    }

    /// `lastModifiedDateTime`, when readable (else its creation).
    pub fn last_modified(&self) -> Option<OffsetDateTime> {
        parse_time(self.last_modified_date_time.as_deref()).or_else(|| self.created())
    }

    /// Whether it is a live message an application sent (what a bot's card is).
    pub fn is_live_from_an_app(&self) -> bool {
        self.message_type.as_deref().is_none_or(|t| t == "message")
            && self.deleted_date_time.is_none()
            && self
                .from
                .as_ref()
                .is_some_and(|from| from.application.as_ref().is_some_and(Value::is_object))
    }

    /// Its adaptive cards, parsed (a card that is not JSON is skipped).
    pub fn adaptive_cards(&self) -> impl Iterator<Item = Value> + '_ {
        self.attachments
            .iter()
            .flatten()
            .filter(|a| a.content_type.as_deref() == Some(ADAPTIVE_CARD))
            .filter_map(|a| match a.content.as_ref()? {
                Value::String(json) => serde_json::from_str(json).ok(),
                card @ Value::Object(_) => Some(card.clone()),
                _ => None,
            })
    }
}

/// One page of a listing and the link to the next.
#[derive(Debug)]
pub struct MessagesPage {
    /// The page's messages, in the listing's order.
    pub messages: Vec<ChatMessage>,
    /// `@odata.nextLink`, checked to be under the Graph base.
    pub next: Option<Url>,
}

#[derive(Deserialize)]
struct PageBody {
    #[serde(default)]
    value: Vec<ChatMessage>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// Graph's form of a time in a filter: UTC with milliseconds.
fn filter_time(time: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

impl MsApi {
    /// The first page of `of`'s messages: for a chat, those created before `created_before`,
    /// newest first.
    pub async fn messages_page(
        &self,
        of: MessagesOf<'_>,
        created_before: OffsetDateTime,
    ) -> Result<MessagesPage, MsApiError> {
        let top = MESSAGES_PAGE.to_string();
        let (segments, query) = match of {
            MessagesOf::Chat(chat) => (
                vec!["chats", chat, "messages"],
                vec![
                    ("$orderby", "createdDateTime desc".to_owned()),
                    (
                        "$filter",
                        format!("createdDateTime lt {}", filter_time(created_before)),
                    ),
                    ("$top", top),
                ],
            ),
            MessagesOf::Channel { team, channel } => (
                vec!["teams", team, "channels", channel, "messages"],
                vec![("$top", top)],
            ),
        };
        let url = Self::url(&self.endpoints.graph, &segments, false);
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.read_page(url, &query).await
    }

    /// The page `next` (a previous page's `@odata.nextLink`) names.
    pub async fn next_messages_page(&self, next: Url) -> Result<MessagesPage, MsApiError> {
        self.read_page(next, &[]).await
    }

    async fn read_page(
        &self,
        url: Url,
        query: &[(&str, &str)],
    ) -> Result<MessagesPage, MsApiError> {
        let body: Option<PageBody> = self
            .call(
                Service::Graph,
                Method::GET,
                url,
                query,
                None,
                StatusCode::OK,
            )
            .await?;
        let body = body.ok_or_else(|| MsApiError::Decode {
            service: "Microsoft Graph",
            message: "an empty answer for a list of messages".into(),
        })?;
        let next = match body.next_link {
            Some(link) => Some(self.under_graph(&link)?),
            None => None,
        };
        Ok(MessagesPage {
            messages: body.value,
            next,
        })
    }

    /// `link` when it is under the configured Graph base: the bearer token goes nowhere
    /// else.
    fn under_graph(&self, link: &str) -> Result<Url, MsApiError> {
        under(&self.endpoints.graph, link).ok_or_else(|| MsApiError::Decode {
            service: "Microsoft Graph",
            message: "an @odata.nextLink outside the configured graph_url".into(),
        })
    }
}

/// `link` when it has `base`'s scheme, host and port and a path under `base`'s.
fn under(base: &Url, link: &str) -> Option<Url> {
    let prefix = base.path().trim_end_matches('/');
    Url::parse(link).ok().filter(|url| {
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
            && url
                .path()
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn next_links_are_followed_only_under_the_graph_base() {
        let base = Url::parse("https://graph.microsoft.com/v1.0").unwrap();
        let next = "https://graph.microsoft.com/v1.0/chats/19:a@thread.v2/messages?$skiptoken=x";
        assert_eq!(under(&base, next).map(String::from).as_deref(), Some(next));
        for elsewhere in [
            "https://graph.example.com/v1.0/chats/x/messages",
            "http://graph.microsoft.com/v1.0/chats/x/messages",
            "https://graph.microsoft.com:8443/v1.0/chats/x/messages",
            "https://graph.microsoft.com/beta/chats/x/messages",
            "https://graph.microsoft.com/v1.0evil/x",
            "not a url",
        ] {
            assert!(under(&base, elsewhere).is_none(), "{elsewhere}");
        }
    }

    #[test]
    fn filter_times_are_utc_with_milliseconds() {
        assert_eq!(
            filter_time(datetime!(2024-05-01 14:00:00.123456 +2)),
            "2024-05-01T12:00:00.123Z"
        );
    }

    #[test]
    fn a_bots_card_is_read_from_its_string_content() {
        let message: ChatMessage = serde_json::from_value(serde_json::json!({
            "id": "1616964509832",
            "messageType": "message",
            "createdDateTime": "2021-03-28T20:48:29.832Z",
            "lastModifiedDateTime": null,
            "deletedDateTime": null,
            "from": { "application": { "id": "app", "applicationIdentityType": "bot" }, "user": null },
            "attachments": [
                { "contentType": "reference", "content": null },
                { "contentType": ADAPTIVE_CARD, "content": "{\"type\":\"AdaptiveCard\",\"body\":[]}" },
            ],
        }))
        .expect("a chatMessage");
        assert!(message.is_live_from_an_app());
        assert_eq!(
            message.created(),
            Some(datetime!(2021-03-28 20:48:29.832 UTC))
        );
        assert_eq!(message.last_modified(), message.created());
        let cards: Vec<Value> = message.adaptive_cards().collect();
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0]["type"], "AdaptiveCard");

        let by_a_person: ChatMessage = serde_json::from_value(serde_json::json!({
            "id": "1", "from": { "application": null, "user": { "id": "u" } },
            "attachments": null,
        }))
        .expect("a chatMessage");
        assert!(!by_a_person.is_live_from_an_app());
        assert_eq!(by_a_person.adaptive_cards().count(), 0);
    }
}
