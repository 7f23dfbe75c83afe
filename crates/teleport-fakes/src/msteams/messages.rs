//! Graph's message listings, served from the activities the bot posted: a chat's messages
//! (`GET chats/{id}/messages`) and a channel's root messages (`GET teams/{team}/channels/
//! {id}/messages`), each card as Graph shows a bot's card — `from.application`, and an
//! attachment of type `application/vnd.microsoft.card.adaptive` whose `content` is the
//! card's JSON as a string.
//!
//! Only what the plugin's look-up needs, as documented: newest first by
//! `lastModifiedDateTime` (a chat's default, and a channel's order), or by `createdDateTime`
//! with `$orderby=createdDateTime desc` (chats only), where `$filter=createdDateTime lt <time>`
//! then applies (another filter is ignored); `$top` up to 50; further pages through an
//! absolute `@odata.nextLink`. A page holds at most the fake's page size, so tests page with
//! few cards; reads can be refused with 403, as for an app without the permission.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reqwest::Url;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::api::{GRAPH_SCOPE, MsError, Shared, ms_error};
use super::state::{MsActivity, MsState};

type Reply = Result<Response, MsError>;
type Params = Query<HashMap<String, String>>;

/// Graph's largest `$top` for message listings.
pub const MAX_TOP: usize = 50;
/// The page size when no `$top` is given.
const DEFAULT_TOP: usize = 20;

/// The order of a listing, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// By `lastModifiedDateTime`.
    Modified,
    /// By `createdDateTime`.
    Created,
}

/// A listing's query, as read from the request.
#[derive(Debug, PartialEq, Eq)]
struct Listing {
    order: Order,
    created_before: Option<SystemTime>,
    page: usize,
    /// The fake's own `$skiptoken`: by creation, the index of the activities to continue
    /// below; by modification, how many were listed already.
    skip: Option<usize>,
}

fn bad_request(message: &str) -> MsError {
    ms_error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// `createdDateTime lt <time>`, if that is the filter.
fn created_before(filter: &str) -> Option<SystemTime> {
    let rest = filter.trim().strip_prefix("createdDateTime")?.trim_start();
    let time = rest.strip_prefix("lt")?.trim();
    OffsetDateTime::parse(time, &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

impl Listing {
    /// Reads `$orderby`, `$filter`, `$top` and `$skiptoken`; `ordered` says whether
    /// `$orderby` is served (chats), `page_size` caps the page.
    fn read(
        params: &HashMap<String, String>,
        ordered: bool,
        page_size: usize,
    ) -> Result<Self, MsError> {
        let order = match params.get("$orderby").map(|o| o.trim()) {
            None => Order::Modified,
            Some(_) if !ordered => return Err(bad_request("$orderby is not supported here.")),
            Some("lastModifiedDateTime desc") => Order::Modified,
            Some("createdDateTime desc") => Order::Created,
            Some(_) => {
                return Err(bad_request(
                    "Only lastModifiedDateTime or createdDateTime, descending, can order messages.",
                ));
            }
        };
        // Graph applies a date filter only together with an order on the same property.
        let created_before = params
            .get("$filter")
            .filter(|_| order == Order::Created)
            .and_then(|f| created_before(f));
        let top = match params.get("$top") {
            None => DEFAULT_TOP,
            Some(top) => match top.trim().parse::<usize>() {
                Ok(top) if (1..=MAX_TOP).contains(&top) => top,
                _ => return Err(bad_request("$top must be between 1 and 50.")),
            },
        };
        let skip = match params.get("$skiptoken") {
            None => None,
            Some(token) => Some(
                token
                    .parse::<usize>()
                    .map_err(|_| bad_request("Invalid $skiptoken."))?,
            ),
        };
        Ok(Self {
            order,
            created_before,
            page: top.min(page_size.max(1)),
            skip,
        })
    }

    /// One page of `conversation`'s activities, and the `$skiptoken` of the next.
    fn page<'a>(
        &self,
        state: &'a MsState,
        conversation: &str,
    ) -> (Vec<&'a MsActivity>, Option<usize>) {
        let all = &state.activities;
        match self.order {
            Order::Created => {
                // The activities are in creation order: walk back from the filter's bound.
                let mut below = self.skip.unwrap_or_else(|| match self.created_before {
                    Some(bound) => all.partition_point(|a| a.created < bound),
                    None => all.len(),
                });
                below = below.min(all.len());
                let mut page = Vec::new();
                while below > 0 && page.len() < self.page {
                    below -= 1;
                    if all[below].conversation == conversation {
                        page.push(&all[below]);
                    }
                }
                let more = all[..below]
                    .iter()
                    .rev()
                    .any(|a| a.conversation == conversation);
                (page, more.then_some(below))
            }
            Order::Modified => {
                // Newest posted first among equal times: a stable sort of the reversed list.
                let mut listed: Vec<&MsActivity> = all
                    .iter()
                    .rev()
                    .filter(|a| a.conversation == conversation)
                    .collect();
                listed.sort_by_key(|a| std::cmp::Reverse(a.modified));
                let from = self.skip.unwrap_or(0).min(listed.len());
                let to = (from + self.page).min(listed.len());
                let next = (to < listed.len()).then_some(to);
                (listed[from..to].to_vec(), next)
            }
        }
    }
}

/// Graph's timestamp form: `2024-05-01T12:00:00.123Z`.
fn graph_time(time: SystemTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from(time)
        .format(&format)
        .unwrap_or_default()
}

/// A posted card as Graph lists it.
fn message_json(activity: &MsActivity, app_id: &str, place: &Value) -> Value {
    let card = activity.current();
    let attachment_id = format!("attachment-{}", activity.id);
    let mut message = json!({
        "id": activity.id,
        "replyToId": null,
        "etag": activity.id,
        "messageType": "message",
        "createdDateTime": graph_time(activity.created),
        "lastModifiedDateTime": graph_time(activity.modified),
        "lastEditedDateTime": (!activity.updates.is_empty()).then(|| graph_time(activity.modified)),
        "deletedDateTime": null,
        "subject": null,
        "importance": "normal",
        "from": {
            "application": {
                "id": app_id,
                "displayName": "TeleBot",
                "applicationIdentityType": "bot",
            },
            "device": null,
            "user": null,
        },
        "body": {
            "contentType": "html",
            "content": format!("<attachment id=\"{attachment_id}\"></attachment>"),
        },
        "attachments": [{
            "id": attachment_id,
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card.to_string(),
            "name": null,
            "thumbnailUrl": null,
        }],
        "mentions": [],
        "reactions": [],
    });
    if let (Some(message), Some(place)) = (message.as_object_mut(), place.as_object()) {
        message.extend(place.clone());
    }
    message
}

/// The absolute link to the page after this one: this request's URL with its query and
/// the next `$skiptoken`.
fn next_link(
    headers: &HeaderMap,
    uri: &OriginalUri,
    params: &HashMap<String, String>,
    skip: usize,
) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let mut url = Url::parse(&format!("http://{host}{}", uri.0.path())).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for key in ["$top", "$orderby", "$filter"] {
            if let Some(value) = params.get(key) {
                query.append_pair(key, value);
            }
        }
        query.append_pair("$skiptoken", &skip.to_string());
    }
    Some(url.into())
}

/// The 403 an app without the read permission gets.
fn refused(permission: &str) -> MsError {
    ms_error(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!("The application lacks the permission this listing needs ({permission})."),
    )
}

/// What a listing request carries besides its path.
struct ListRequest {
    headers: HeaderMap,
    uri: OriginalUri,
    params: HashMap<String, String>,
}

/// Lists `conversation` for a request already authorised and found.
fn list(
    shared: &Shared,
    request: &ListRequest,
    conversation: &str,
    place: &Value,
    ordered: bool,
) -> Reply {
    let listing = Listing::read(&request.params, ordered, shared.message_page_size)?;
    let state = shared.state();
    let (page, next) = listing.page(&state, conversation);
    let value: Vec<Value> = page
        .into_iter()
        .map(|activity| message_json(activity, &shared.app_id, place))
        .collect();
    drop(state);
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#chatMessages",
        "@odata.count": value.len(),
        "value": value,
    });
    if let Some(link) =
        next.and_then(|skip| next_link(&request.headers, &request.uri, &request.params, skip))
    {
        body["@odata.nextLink"] = Value::String(link);
    }
    Ok(Json(body).into_response())
}

/// `GET chats/{id}/messages`: `Chat.Read.All`.
pub(crate) async fn chat_messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(chat): Path<String>,
    Query(params): Params,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    if shared.message_reads_denied() {
        return Err(refused("Chat.Read.All"));
    }
    if !shared.state().chat_known(&chat) {
        return Err(ms_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Chat not found.",
        ));
    }
    let place = json!({ "chatId": chat, "channelIdentity": null });
    let request = ListRequest {
        headers,
        uri,
        params,
    };
    list(&shared, &request, &chat, &place, true)
}

/// `GET teams/{team}/channels/{id}/messages`: `ChannelMessage.Read.All`.
pub(crate) async fn channel_messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path((team, channel)): Path<(String, String)>,
    Query(params): Params,
) -> Reply {
    shared.authorize(&headers, GRAPH_SCOPE)?;
    if shared.message_reads_denied() {
        return Err(refused("ChannelMessage.Read.All"));
    }
    let known = shared
        .state()
        .teams
        .iter()
        .any(|t| t.group_id == team && t.channels.contains(&channel));
    if !known {
        return Err(ms_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Channel not found.",
        ));
    }
    let place = json!({
        "chatId": null,
        "channelIdentity": { "teamId": team, "channelId": channel },
    });
    let request = ListRequest {
        headers,
        uri,
        params,
    };
    list(&shared, &request, &channel, &place, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_plugins_query_is_read_as_documented() {
        let listing = Listing::read(
            &params(&[
                ("$orderby", "createdDateTime desc"),
                ("$filter", "createdDateTime lt 2024-05-01T12:00:00.000Z"),
                ("$top", "50"),
            ]),
            true,
            3,
        )
        .expect("a valid query");
        assert_eq!(listing.order, Order::Created);
        assert_eq!(listing.page, 3);
        let bound = OffsetDateTime::parse("2024-05-01T12:00:00Z", &Rfc3339).unwrap();
        assert_eq!(listing.created_before, Some(SystemTime::from(bound)));
        assert_eq!(
            graph_time(SystemTime::from(bound)),
            "2024-05-01T12:00:00.000Z"
        );
    }

    #[test]
    fn a_filter_without_its_order_is_ignored_and_bad_queries_are_refused() {
        let ignored = Listing::read(
            &params(&[("$filter", "createdDateTime lt 2024-05-01T12:00:00Z")]),
            true,
            50,
        )
        .expect("valid");
        assert_eq!(
            (ignored.order, ignored.created_before),
            (Order::Modified, None)
        );
        assert_eq!(ignored.page, DEFAULT_TOP);
        assert!(Listing::read(&params(&[("$top", "51")]), true, 50).is_err());
        assert!(Listing::read(&params(&[("$orderby", "createdDateTime asc")]), true, 50).is_err());
        assert!(
            Listing::read(&params(&[("$orderby", "createdDateTime desc")]), false, 50).is_err()
        );
        assert!(Listing::read(&params(&[("$skiptoken", "x")]), true, 50).is_err());
    }
}
