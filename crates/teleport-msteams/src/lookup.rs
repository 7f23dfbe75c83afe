//! The opt-in look-up of a card already posted (`[msapi] lookup_posted`): after a takeover
//! of a lapsed lease, or a post whose answer was lost, the runtime asks whether the
//! request's card is already in the chat or channel before posting it again. The Bot
//! Framework cannot list a conversation, so the card is looked for through Graph, which
//! needs a permission Go's app registration never asked for: `Chat.Read.All` for people's
//! chats, `ChannelMessage.Read.All` for channels.
//!
//! Newest first, a page at a time, the card is the first message an app sent, created within
//! the window, whose adaptive card's title names the request exactly; the search stops there,
//! once the listing is older than the window, or after [`MAX_LOOKUP_PAGES`].

use std::time::SystemTime;

use teleport_plugin_runtime::messaging::PostWindow;
use teleport_plugin_runtime::service_error::ServiceError;
use time::OffsetDateTime;

use crate::client::messages::{ChatMessage, MessagesOf, MessagesPage};
use crate::client::{MsApi, MsApiError};
use crate::render;

/// The most pages one look-up reads (50 messages each).
pub const MAX_LOOKUP_PAGES: usize = 60;

/// A card the bot posted, found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundCard {
    /// The Graph message ID. For a message a bot sent, Teams gives the Graph chatMessage
    /// and the Bot Framework activity the same ID: both are the millisecond-timestamp
    /// string Graph's documented examples show and the connector answers a post with, and
    /// the Bot Framework names a channel thread by its root's ID in `<channel>;messageid=
    /// <id>` conversation IDs. (The docs show this rather than state it in one sentence.)
    /// So the card found is replaced with `PUT .../activities/{id}` like one this plugin
    /// recorded after posting.
    pub id: String,
    /// When it was created.
    pub created: OffsetDateTime,
}

/// The window's bounds as times Graph's are compared with.
fn bounds(window: &PostWindow) -> (OffsetDateTime, OffsetDateTime) {
    let at = |time: SystemTime| OffsetDateTime::from(time);
    (at(window.after), at(window.before))
}

/// `message`, when it is the request's card posted within `[after, before]`.
fn the_card(
    message: &ChatMessage,
    request_id: &str,
    after: OffsetDateTime,
    before: OffsetDateTime,
) -> Option<FoundCard> {
    let created = message.created()?;
    let posted_in_window = (after..=before).contains(&created);
    let names_request = || {
        message
            .adaptive_cards()
            .any(|card| render::request_id_of(&card) == Some(request_id))
    };
    (posted_in_window && message.is_live_from_an_app() && names_request()).then(|| FoundCard {
        id: message.id.clone(),
        created,
    })
}

/// Whether the listing after `page` can only be older than the window: a chat's is newest
/// first by creation, so its last message says; a channel's order is not documented (it
/// lists by latest activity), so only a page changed entirely before the window does.
fn past_the_window(of: MessagesOf<'_>, page: &[ChatMessage], after: OffsetDateTime) -> bool {
    if of.newest_created_first() {
        page.last()
            .and_then(ChatMessage::created)
            .is_some_and(|created| created < after)
    } else {
        !page.is_empty()
            && page
                .iter()
                .all(|m| m.last_modified().is_some_and(|changed| changed < after))
    }
}

/// A failed listing as the runtime's send policy sees it. A 403 is the missing permission:
/// logged as an error naming it, and permanent, so the card is posted as without a look-up
/// (rather than retried for ever, as a 403 of the plugin's own calls is).
fn refused(error: MsApiError, of: MessagesOf<'_>) -> ServiceError {
    if error.status() != Some(403) {
        return error.into();
    }
    let permission = of.permission();
    tracing::error!(
        permission,
        %error,
        "[msapi] lookup_posted is on but Microsoft Graph refused to list the messages: grant the app the application permission {permission} (admin consent), or turn lookup_posted off; the card is posted without looking, so it may show twice"
    );
    ServiceError::permanent(format!(
        "cannot look for a posted card: the app lacks the Graph permission {permission} ({error})"
    ))
}

/// Looks for the request's card in `of`, posted within `window`.
pub async fn find_card(
    api: &MsApi,
    of: MessagesOf<'_>,
    request_id: &str,
    window: &PostWindow,
) -> Result<Option<FoundCard>, ServiceError> {
    let (after, before) = bounds(window);
    let mut page: MessagesPage = api
        .messages_page(of, before)
        .await
        .map_err(|e| refused(e, of))?;
    for read in 1..=MAX_LOOKUP_PAGES {
        if let Some(found) = page
            .messages
            .iter()
            .find_map(|m| the_card(m, request_id, after, before))
        {
            return Ok(Some(found));
        }
        if past_the_window(of, &page.messages, after) {
            return Ok(None);
        }
        let Some(next) = page.next.take() else {
            return Ok(None);
        };
        if read == MAX_LOOKUP_PAGES {
            break;
        }
        page = api
            .next_messages_page(next)
            .await
            .map_err(|e| refused(e, of))?;
    }
    tracing::warn!(
        pages = MAX_LOOKUP_PAGES,
        "looked through the most messages a look-up reads without reaching the window's start; posting the card"
    );
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn message(id: &str, created: &str, title: &str) -> ChatMessage {
        let card =
            json!({ "type": "AdaptiveCard", "body": [{ "type": "TextBlock", "text": title }] });
        serde_json::from_value(json!({
            "id": id,
            "messageType": "message",
            "createdDateTime": created,
            "lastModifiedDateTime": created,
            "from": { "application": { "id": "bot" } },
            "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "content": card.to_string() }],
        }))
        .expect("a chatMessage")
    }

    const AFTER: OffsetDateTime = datetime!(2024-05-01 12:00 UTC);
    const BEFORE: OffsetDateTime = datetime!(2024-05-01 12:01 UTC);

    #[test]
    fn only_the_requests_card_within_the_window_matches() {
        let id = "3f1a2b4c-0000-4000-8000-000000000001";
        let title = render::title(id);
        let inside = message("17", "2024-05-01T12:00:30.000Z", &title);
        assert_eq!(
            the_card(&inside, id, AFTER, BEFORE),
            Some(FoundCard {
                id: "17".into(),
                created: datetime!(2024-05-01 12:00:30 UTC)
            })
        );
        let too_early = message("16", "2024-05-01T11:59:59.999Z", &title);
        assert_eq!(the_card(&too_early, id, AFTER, BEFORE), None);
        let other = message("18", "2024-05-01T12:00:30.000Z", &render::title("3f1a2b4c"));
        assert_eq!(the_card(&other, id, AFTER, BEFORE), None);
        let longer = message("19", "2024-05-01T12:00:30.000Z", &format!("{title}0"));
        assert_eq!(the_card(&longer, id, AFTER, BEFORE), None);
    }

    #[test]
    fn a_chat_is_past_the_window_at_its_first_older_message() {
        let chat = MessagesOf::Chat("19:chat");
        let newer = message("2", "2024-05-01T12:00:30.000Z", "x");
        let older = message("1", "2024-05-01T11:00:00.000Z", "x");
        assert!(!past_the_window(chat, std::slice::from_ref(&newer), AFTER));
        assert!(past_the_window(
            chat,
            &[newer.clone(), older.clone()],
            AFTER
        ));
        let channel = MessagesOf::Channel {
            team: "t",
            channel: "c",
        };
        assert!(!past_the_window(channel, &[newer, older.clone()], AFTER));
        assert!(past_the_window(channel, &[older], AFTER));
        assert!(!past_the_window(channel, &[], AFTER));
    }
}
