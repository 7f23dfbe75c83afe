//! The per-request message state kept in Teleport plugin data, in the Go
//! plugins' keys and encodings so that state written by a Go plugin is read
//! and continued after an upgrade (and the other way round).
//!
//! Go keys: `user`, `roles` (comma-joined), `request_reason`, `reviews_count`
//! ("" for 0), `resolution` (`""|APPROVED|DENIED|EXPIRED|PROMOTED`),
//! `resolve_reason`, and the plugin's message list (`messages` =
//! `channel/id,...` for chat plugins, `email_threads` for e-mail), and the newer Go
//! keys kept in [`GoRequestData`].
//! Our additions, which Go plugins ignore: `claim` (the lease of the replica
//! working on the request), `recipients`, `sent_to`, `failed_to` (broadcast
//! progress per recipient), `review_cursor`, `synced`, `requester_notified` and
//! `post_unsure_since` and `post_unsure_until` (see [`MessageState::post_unsure_since`]).
//!
//! A record with a `resolution` and no `synced` is a Go plugin's finished work: Go records
//! the resolution and updates its messages in the same handling, and never again, so that
//! record is done (nothing edited, nobody notified a second time). Ours always says how far
//! the update got: `synced` is [`UNSYNCED`] from the moment we record a resolution until
//! every message shows it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use teleport_client::PluginDataMap;

use crate::messaging::go_data::{self, GoRequestData};
use crate::record::{Lease, RecordCodec, Resolution, unix_millis};

/// How a plugin's sent-message references are stored.
pub trait MessageCodec {
    /// A reference to one sent message (channel + id, e-mail thread, ...).
    type Message: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static;
    /// The plugin-data key holding the comma-joined list (`messages`).
    const MESSAGES_KEY: &'static str;
    /// Encodes one reference; must not contain a comma.
    fn encode(message: &Self::Message) -> String;
    /// Decodes one reference.
    fn decode(text: &str) -> Option<Self::Message>;
    /// Reads a single message stored under the Go plugins' legacy keys.
    fn decode_legacy(_data: &PluginDataMap) -> Option<Self::Message> {
        None
    }
}

/// The message state of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageState<M> {
    /// The requester.
    pub user: String,
    /// The requested roles.
    pub roles: Vec<String>,
    /// The request reason.
    pub request_reason: String,
    /// The newer Go keys (resources, annotations, ...), as stored.
    pub go: GoRequestData,
    /// How many reviews have been relayed to every message.
    pub reviews_count: usize,
    /// The final status, once decided.
    pub resolution: Option<Resolution>,
    /// The reason given with the resolution.
    pub resolve_reason: String,
    /// Every message sent for the request.
    pub messages: Vec<M>,
    /// The lease of the replica currently working on the request.
    pub claim: Option<Lease>,
    /// The resolved recipients the broadcast must reach; `None` when not yet
    /// computed (or written by a Go plugin, which broadcasts in one go).
    pub recipients: Option<Vec<String>>,
    /// Recipients the broadcast reached.
    pub sent_to: Vec<String>,
    /// Recipients the broadcast gave up on (permanent errors).
    pub failed_to: Vec<String>,
    /// For the review being relayed (`reviews_count`), how many messages already got it.
    pub review_cursor: usize,
    /// The resolution every message has been updated to.
    pub synced: Option<Resolution>,
    /// The requester has been told the decision.
    pub requester_notified: bool,
    /// A post of the request failed without saying whether the service took it (a timeout,
    /// a dropped connection, a 5xx without `Retry-After`), the first time since this moment:
    /// until the broadcast is done, every post looks first for a message posted since then.
    /// Written only on that failure path, so the normal path pays nothing for it.
    pub post_unsure_since: Option<SystemTime>,
    /// With `post_unsure_since`: the latest moment those posts can have landed, when each of
    /// them ended knowably — the service answered (an error), or a lease taken over had run
    /// out — so the look-up searches that span only, not everything posted since. `None`
    /// while a post that got no answer (a timeout, a dropped connection) may still land: the
    /// span then reaches to the look-up itself. A record without this key (written before
    /// it existed) reads as `None`, the wider search.
    pub post_unsure_until: Option<SystemTime>,
}

const KEYS: [&str; 12] = [
    "user",
    "roles",
    "request_reason",
    "reviews_count",
    "resolution",
    "resolve_reason",
    "claim",
    "recipients",
    "sent_to",
    "failed_to",
    "review_cursor",
    "synced",
];
const REQUESTER_NOTIFIED: &str = "requester_notified";
const POST_UNSURE_SINCE: &str = "post_unsure_since";
const POST_UNSURE_UNTIL: &str = "post_unsure_until";

impl<M> MessageState<M> {
    /// A fresh state for a request.
    pub fn new(user: &str, roles: &[String], request_reason: &str) -> Self {
        Self {
            user: user.to_owned(),
            roles: roles.to_vec(),
            request_reason: request_reason.to_owned(),
            go: GoRequestData::default(),
            reviews_count: 0,
            resolution: None,
            resolve_reason: String::new(),
            messages: Vec::new(),
            claim: None,
            recipients: None,
            sent_to: Vec::new(),
            failed_to: Vec::new(),
            review_cursor: 0,
            synced: None,
            requester_notified: false,
            post_unsure_since: None,
            post_unsure_until: None,
        }
    }

    /// Takes in posts that may have landed from `since` until `until` (`None`: a post that
    /// may still land): the unsure span widens to cover them, and stays open once any of
    /// them is.
    pub fn mark_post_unsure(&mut self, since: SystemTime, until: Option<SystemTime>) {
        match self.post_unsure_since {
            None => self.post_unsure_until = until,
            Some(_) => {
                self.post_unsure_until = self.post_unsure_until.zip(until).map(|(a, b)| a.max(b));
            }
        }
        self.post_unsure_since = Some(self.post_unsure_since.map_or(since, |s| s.min(since)));
    }

    /// The unsure mark as one value (`post_unsure_since`, `post_unsure_until`), to keep or
    /// to tell whether a change touched it.
    pub fn unsure_span(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (self.post_unsure_since, self.post_unsure_until)
    }

    /// Puts back a mark [`unsure_span`](Self::unsure_span) kept.
    pub fn set_unsure_span(&mut self, (since, until): (Option<SystemTime>, Option<SystemTime>)) {
        (self.post_unsure_since, self.post_unsure_until) = (since, until);
    }

    /// Forgets the unsure span (every recipient has its message).
    pub fn clear_post_unsure(&mut self) {
        self.post_unsure_since = None;
        self.post_unsure_until = None;
    }

    /// Whether every recipient has been handled. A state without a recipient
    /// list counts as broadcast when it has messages (a Go plugin's record).
    pub fn broadcast_done(&self) -> bool {
        match &self.recipients {
            Some(all) => all
                .iter()
                .all(|r| self.sent_to.contains(r) || self.failed_to.contains(r)),
            None => !self.messages.is_empty(),
        }
    }

    /// Recipients still waiting for the broadcast.
    pub fn unsent_recipients(&self) -> Vec<String> {
        self.recipients
            .iter()
            .flatten()
            .filter(|r| !self.sent_to.contains(r) && !self.failed_to.contains(r))
            .cloned()
            .collect()
    }
}

/// Encodes and decodes [`MessageState`] for one plugin (see [`RecordCodec`]).
pub struct StateCodec<C>(std::marker::PhantomData<C>);

impl<C: MessageCodec> StateCodec<C> {
    /// Every key with "" for empty values: written as `set` it describes the
    /// whole record, and as `expect` it is a full compare-and-swap guard.
    pub fn encode(state: &MessageState<C::Message>) -> PluginDataMap {
        let mut map = PluginDataMap::new();
        map.insert("user".into(), state.user.clone());
        map.insert("roles".into(), state.roles.join(","));
        map.insert("request_reason".into(), state.request_reason.clone());
        state.go.encode_into(&mut map);
        map.insert("reviews_count".into(), count(state.reviews_count));
        map.insert(
            "resolution".into(),
            state
                .resolution
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
        );
        map.insert("resolve_reason".into(), state.resolve_reason.clone());
        map.insert(
            C::MESSAGES_KEY.into(),
            state
                .messages
                .iter()
                .map(C::encode)
                .collect::<Vec<_>>()
                .join(","),
        );
        map.insert(
            "claim".into(),
            state.claim.as_ref().map(Lease::encode).unwrap_or_default(),
        );
        map.insert(
            "recipients".into(),
            state
                .recipients
                .as_ref()
                .map(|r| list_or_marker(r))
                .unwrap_or_default(),
        );
        map.insert("sent_to".into(), state.sent_to.join(","));
        map.insert("failed_to".into(), state.failed_to.join(","));
        map.insert("review_cursor".into(), count(state.review_cursor));
        map.insert(
            "synced".into(),
            match (state.synced, state.resolution) {
                (Some(synced), _) => synced.as_str().to_owned(),
                (None, Some(_)) => UNSYNCED.to_owned(),
                (None, None) => String::new(),
            },
        );
        map.insert(
            REQUESTER_NOTIFIED.into(),
            if state.requester_notified {
                "true".into()
            } else {
                String::new()
            },
        );
        map.insert(
            POST_UNSURE_SINCE.into(),
            state
                .post_unsure_since
                .map(|since| unix_millis(since).to_string())
                .unwrap_or_default(),
        );
        map.insert(
            POST_UNSURE_UNTIL.into(),
            state
                .post_unsure_since
                .and(state.post_unsure_until)
                .map(|until| unix_millis(until).to_string())
                .unwrap_or_default(),
        );
        map
    }

    /// The encoding of "no record": every key empty. As `expect` it makes an
    /// update succeed only if nothing was stored yet.
    pub fn empty_record() -> PluginDataMap {
        KEYS.iter()
            .chain(&go_data::KEYS)
            .chain([
                &C::MESSAGES_KEY,
                &REQUESTER_NOTIFIED,
                &POST_UNSURE_SINCE,
                &POST_UNSURE_UNTIL,
            ])
            .map(|k| ((*k).to_owned(), String::new()))
            .collect()
    }

    /// Decodes stored data (ours or a Go plugin's).
    pub fn decode(data: &PluginDataMap) -> MessageState<C::Message> {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("");
        let mut messages: Vec<C::Message> =
            split(get(C::MESSAGES_KEY)).filter_map(C::decode).collect();
        if messages.is_empty() {
            messages.extend(C::decode_legacy(data));
        }
        let resolution = Resolution::parse(get("resolution"));
        // A resolution without `synced` is the Go plugin's finished work (see the module doc).
        let go_finished = resolution.is_some() && get("synced").is_empty();
        MessageState {
            user: get("user").to_owned(),
            roles: split(get("roles")).map(str::to_owned).collect(),
            request_reason: get("request_reason").to_owned(),
            go: GoRequestData::decode(data),
            reviews_count: get("reviews_count").parse().unwrap_or(0),
            resolution,
            resolve_reason: get("resolve_reason").to_owned(),
            messages,
            claim: Lease::decode(get("claim")),
            recipients: match get("recipients") {
                "" => None,
                NO_RECIPIENTS => Some(Vec::new()),
                list => Some(split(list).map(str::to_owned).collect()),
            },
            sent_to: split(get("sent_to")).map(str::to_owned).collect(),
            failed_to: split(get("failed_to")).map(str::to_owned).collect(),
            review_cursor: get("review_cursor").parse().unwrap_or(0),
            synced: if go_finished {
                resolution
            } else {
                Resolution::parse(get("synced"))
            },
            requester_notified: go_finished || get(REQUESTER_NOTIFIED) == "true",
            post_unsure_since: from_unix_millis(get(POST_UNSURE_SINCE)),
            post_unsure_until: from_unix_millis(get(POST_UNSURE_SINCE))
                .and(from_unix_millis(get(POST_UNSURE_UNTIL))),
        }
    }
}

// The inherent functions above, for the runtime's leased-record helper.
impl<C: MessageCodec> RecordCodec for StateCodec<C> {
    type Record = MessageState<C::Message>;

    fn encode(state: &Self::Record) -> PluginDataMap {
        StateCodec::<C>::encode(state)
    }

    fn decode(data: &PluginDataMap) -> Self::Record {
        StateCodec::<C>::decode(data)
    }

    fn empty_record() -> PluginDataMap {
        StateCodec::<C>::empty_record()
    }

    fn lease(state: &mut Self::Record) -> &mut Option<Lease> {
        &mut state.claim
    }
}

/// Stored under `synced` while a resolution we recorded is not yet shown in every message.
const UNSYNCED: &str = "-";

/// Stored for an empty recipient list, which "" (= absent) could not express.
const NO_RECIPIENTS: &str = "-";

fn list_or_marker(list: &[String]) -> String {
    if list.is_empty() {
        NO_RECIPIENTS.to_owned()
    } else {
        list.join(",")
    }
}

/// A time stored as [`unix_millis`]; `None` when empty or unreadable.
fn from_unix_millis(stored: &str) -> Option<SystemTime> {
    let millis = stored.parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

fn count(n: usize) -> String {
    if n == 0 { String::new() } else { n.to_string() }
}

fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Message references of chat plugins: `channel/id` (Slack `channel/ts`,
/// Mattermost `channel/post`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelMessage {
    /// The channel (or DM channel) ID.
    pub channel: String,
    /// The message ID (Slack timestamp, Mattermost post ID).
    pub id: String,
}

/// The Go chat plugins' encoding of a [`ChannelMessage`], for [`ChannelMessageCodec`] and
/// the codecs of records that reuse it.
impl ChannelMessage {
    /// The plugin-data key the Go chat plugins keep the list under.
    pub const MESSAGES_KEY: &'static str = "messages";
    /// The Go plugins' legacy single-message key for the channel.
    pub const LEGACY_CHANNEL_KEY: &'static str = "channel_id";

    /// The message `id` in `channel`.
    pub fn new(channel: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            id: id.into(),
        }
    }

    /// `channel/id`.
    pub fn encode(&self) -> String {
        format!("{}/{}", self.channel, self.id)
    }

    /// Reads `channel/id`, split at the first `/` (either side may be empty).
    pub fn decode(text: &str) -> Option<Self> {
        let (channel, id) = text.split_once('/')?;
        Some(Self {
            channel: channel.to_owned(),
            id: id.to_owned(),
        })
    }

    /// Reads a message stored under the Go plugins' legacy keys: the channel
    /// under `channel_id` and the message ID under `id_key` (Slack `timestamp`,
    /// Mattermost `postID`); `None` unless both are present and non-empty.
    pub fn decode_legacy(data: &PluginDataMap, id_key: &str) -> Option<Self> {
        let non_empty = |key: &str| data.get(key).filter(|value| !value.is_empty()).cloned();
        Some(Self {
            channel: non_empty(Self::LEGACY_CHANNEL_KEY)?,
            id: non_empty(id_key)?,
        })
    }
}

/// A bot that keeps the Go chat plugins' `channel/id` references ([`ChannelMessage`]) under
/// `messages`: implementing this (usually with its defaults) is its whole [`MessageCodec`].
pub trait ChannelMessageCodec {
    /// The Go plugin's legacy single-message key for the message ID, read with
    /// `channel_id` (Slack `timestamp`, Mattermost `postID`); `None` when it had none.
    const LEGACY_ID_KEY: Option<&'static str> = None;
    /// Whether a reference with an empty channel or message ID is dropped when read: it
    /// could never be edited or replied to.
    const DROPS_INCOMPLETE: bool = true;
}

impl<T: ChannelMessageCodec> MessageCodec for T {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    fn decode(text: &str) -> Option<ChannelMessage> {
        let complete = |m: &ChannelMessage| !m.channel.is_empty() && !m.id.is_empty();
        ChannelMessage::decode(text).filter(|m| !T::DROPS_INCOMPLETE || complete(m))
    }

    fn decode_legacy(data: &PluginDataMap) -> Option<ChannelMessage> {
        ChannelMessage::decode_legacy(data, T::LEGACY_ID_KEY?)
    }
}

#[cfg(test)]
mod tests;
