//! What the fake Slack remembers: posted messages with their edit history, users, channels.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::Value;

/// Text and blocks of a message version.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageContent {
    /// The `text` argument, if any.
    pub text: Option<String>,
    /// The `blocks` argument as received (a JSON array), if any.
    pub blocks: Option<Value>,
}

impl MessageContent {
    /// The `text` of every section and context element in the blocks, in order.
    pub fn block_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(Value::Array(blocks)) = &self.blocks else {
            return out;
        };
        for block in blocks {
            if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                out.push(text.to_owned());
            }
            if let Some(Value::Array(elements)) = block.get("elements") {
                out.extend(
                    elements
                        .iter()
                        .filter_map(|e| e.get("text").and_then(Value::as_str))
                        .map(str::to_owned),
                );
            }
        }
        out
    }

    /// Everything a reader would see: block texts, or the plain text when there are none.
    pub fn visible_text(&self) -> String {
        let texts = self.block_texts();
        if texts.is_empty() {
            self.text.clone().unwrap_or_default()
        } else {
            texts.join("\n")
        }
    }
}

/// One `chat.update` applied to a message.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageEdit {
    /// The content after this edit.
    pub content: MessageContent,
    /// When the update reached the fake, before injected latency.
    pub received: Instant,
}

/// A message accepted by `chat.postMessage`.
#[derive(Clone, Debug, PartialEq)]
pub struct PostedMessage {
    /// Channel ID the message lives in (a user ID for direct messages).
    pub channel: String,
    /// The `ts` the fake assigned.
    pub ts: String,
    /// The root message's `ts` when this is a thread reply.
    pub thread_ts: Option<String>,
    /// Content as first posted.
    pub posted: MessageContent,
    /// When the post reached the fake, before injected latency (for latency measurements).
    pub received: Instant,
    /// Every later `chat.update`, oldest first.
    pub edits: Vec<MessageEdit>,
    /// The `metadata` argument (`event_type`, `event_payload`), if any.
    pub metadata: Option<Value>,
}

impl PostedMessage {
    /// Content after the latest edit.
    pub fn current(&self) -> &MessageContent {
        self.edits.last().map_or(&self.posted, |e| &e.content)
    }

    /// Whether this is a root message (not a thread reply).
    pub fn is_root(&self) -> bool {
        self.thread_ts.is_none()
    }
}

/// A Slack user known to the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    /// User ID, e.g. `U0001`.
    pub id: String,
    /// Email address `users.lookupByEmail` finds the user by.
    pub email: String,
}

/// A channel known to the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeChannel {
    /// Channel ID, e.g. `C0001`.
    pub id: String,
    /// Channel name without `#`.
    pub name: String,
}

/// The fake's whole recorded state, readable by [`wait_for`](super::FakeSlack::wait_for)
/// predicates.
#[derive(Debug, Default)]
pub struct SlackState {
    messages: Vec<PostedMessage>,
    by_key: HashMap<(String, String), usize>,
    last_ts: u64,
    pub(crate) users_by_email: BTreeMap<String, String>,
    pub(crate) channels: Vec<FakeChannel>,
    next_user: u32,
}

/// Each `ts` is the wall-clock time in microseconds, as Slack's are (so `oldest` and
/// `latest` bounds work), and at least one microsecond after the previous one.
const TS_STEP_MICROS: u64 = 1;

impl SlackState {
    /// All messages, roots and replies, in the order they were posted.
    pub fn messages(&self) -> &[PostedMessage] {
        &self.messages
    }

    /// Root messages in posting order.
    pub fn root_messages(&self) -> impl Iterator<Item = &PostedMessage> {
        self.messages.iter().filter(|m| m.is_root())
    }

    /// Replies in the thread of `(channel, ts)`, in posting order.
    pub fn thread_replies<'a>(
        &'a self,
        channel: &'a str,
        ts: &'a str,
    ) -> impl Iterator<Item = &'a PostedMessage> {
        self.messages
            .iter()
            .filter(move |m| m.channel == channel && m.thread_ts.as_deref() == Some(ts))
    }

    /// The message at `(channel, ts)`.
    pub fn message(&self, channel: &str, ts: &str) -> Option<&PostedMessage> {
        self.by_key
            .get(&(channel.to_owned(), ts.to_owned()))
            .map(|&i| &self.messages[i])
    }

    /// Total number of `chat.update` calls applied to stored messages.
    pub fn edit_count(&self) -> usize {
        self.messages.iter().map(|m| m.edits.len()).sum()
    }

    pub(crate) fn next_ts(&mut self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let now = u64::try_from(now).unwrap_or(u64::MAX);
        self.last_ts = now.max(self.last_ts + TS_STEP_MICROS);
        format!(
            "{}.{:06}",
            self.last_ts / 1_000_000,
            self.last_ts % 1_000_000
        )
    }

    pub(crate) fn insert(&mut self, message: PostedMessage) -> &PostedMessage {
        let key = (message.channel.clone(), message.ts.clone());
        self.messages.push(message);
        let index = self.messages.len() - 1;
        self.by_key.insert(key, index);
        &self.messages[index]
    }

    pub(crate) fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut PostedMessage> {
        let index = *self.by_key.get(&(channel.to_owned(), ts.to_owned()))?;
        self.messages.get_mut(index)
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&str> {
        self.users_by_email
            .get(&email.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub(crate) fn add_user(&mut self, email: &str, id: Option<&str>) -> String {
        let id = id.map(str::to_owned).unwrap_or_else(|| {
            self.next_user += 1;
            format!("U{:06}", self.next_user)
        });
        self.users_by_email
            .insert(email.to_ascii_lowercase(), id.clone());
        id
    }

    /// Resolve a channel argument (`C0001`, `general`, `#general`) to a channel ID.
    pub(crate) fn channel_id(&self, arg: &str) -> Option<&str> {
        let name = arg.strip_prefix('#').unwrap_or(arg);
        self.channels
            .iter()
            .find(|c| c.id == arg || c.name == name)
            .map(|c| c.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_values_are_the_time_increase_and_sort_as_strings() {
        let mut state = SlackState::default();
        let first = state.next_ts();
        let second = state.next_ts();
        assert!(second > first, "{first} {second}");
        let secs: u64 = first.split('.').next().unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now - secs <= 1, "{first} is now");
        let mut last = second;
        for _ in 0..20_000 {
            let next = state.next_ts();
            assert!(next > last, "{last} {next}");
            last = next;
        }
    }
}
