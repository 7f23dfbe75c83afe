//! The record of an issue-tracker plugin: the Go request keys ([`RequestData`]), the
//! plugin's own keys naming the issue ([`IssueKeys`]), and ours, which the Go plugins
//! ignore: `claim` (the lease) and `close_progress` (how far resolving the issue got).
//!
//! `close_progress` is "" while the request is open, then `pending` (the resolution comment
//! is still to be posted), the plugin's word for "commented" ([`IssueKeys::NOTED`]: the
//! closing call is still to be made) and `done`. A resolution without it is a Go plugin's,
//! which resolved the issue in one go.

use std::fmt;

use teleport_client::{AccessRequest, PluginDataMap};

use crate::record::{Lease, REQUEST_DATA_KEYS, RecordCodec, RequestData, Resolution};

/// The keys naming a plugin's issue in its record, in the Go plugin's encodings.
pub trait IssueKeys:
    Clone + fmt::Debug + fmt::Display + PartialEq + Eq + Default + Send + Sync + 'static
{
    /// Every key [`encode_into`](Self::encode_into) writes.
    const KEYS: &'static [&'static str];
    /// The stored `close_progress` once the resolution comment is posted (`commented`,
    /// `noted`): earlier releases wrote it, so it is kept.
    const NOTED: &'static str;

    /// Writes every key of [`KEYS`](Self::KEYS), "" for none.
    fn encode_into(&self, map: &mut PluginDataMap);
    /// Reads the keys of a stored record (ours or the Go plugin's); missing ones are none.
    fn decode(data: &PluginDataMap) -> Self;
    /// Whether an issue is named.
    fn exists(&self) -> bool;
}

/// A stored value, trimmed; "" when the key is missing.
pub fn stored<'a>(data: &'a PluginDataMap, key: &str) -> &'a str {
    data.get(key).map(String::as_str).unwrap_or("").trim()
}

/// How far resolving the issue got after the resolution was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseProgress {
    /// The resolution comment is still to be posted.
    Pending,
    /// Commented; the closing call is still to be made.
    Noted,
    /// Nothing left (also a Go record with a resolution: Go resolved in one go).
    Done,
}

impl CloseProgress {
    /// The stored `close_progress` of a record with `resolution`: "" while there is none,
    /// then `pending`, `noted` (the caller's word for it) and `done`.
    pub fn encode(self, resolution: Option<Resolution>, noted: &'static str) -> &'static str {
        match (resolution, self) {
            (None, _) => "",
            (Some(_), Self::Pending) => "pending",
            (Some(_), Self::Noted) => noted,
            (Some(_), Self::Done) => "done",
        }
    }

    /// Reads a stored `close_progress` (trimmed) of a record with `resolution`: without one,
    /// a resolution is a Go plugin's, which closed in one go.
    pub fn decode(text: &str, resolution: Option<Resolution>, noted: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            text if text == noted => Self::Noted,
            _ if resolution.is_some() => Self::Done,
            _ => Self::Pending,
        }
    }
}

/// The record of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRecord<I> {
    /// The request's issue (none before it exists).
    pub issue: I,
    /// The Go request keys (`user`, `roles`, ..., `resolution`).
    pub request: RequestData,
    /// The lease of the replica working on the request.
    pub claim: Option<Lease>,
    /// Resolving progress; meaningful once `resolution` is set.
    pub close_progress: CloseProgress,
    /// Made by this process for this step, not read from Teleport (never stored): an issue
    /// may only exist unrecorded for a record that was stored before.
    pub fresh: bool,
}

/// Ours, next to the request's and the issue's keys.
const OWN_KEYS: [&str; 2] = ["claim", "close_progress"];

impl<I: IssueKeys> IssueRecord<I> {
    /// A fresh record for a request.
    pub fn new(request: &AccessRequest) -> Self {
        Self {
            issue: I::default(),
            request: RequestData::of(request),
            claim: None,
            close_progress: CloseProgress::Pending,
            fresh: true,
        }
    }

    /// Whether an issue is recorded.
    pub fn has_issue(&self) -> bool {
        self.issue.exists()
    }

    /// Records how the request ended, and whether an issue is left to resolve.
    pub fn record_resolution(&mut self, resolution: Resolution, resolve_reason: String) {
        self.request.resolution = Some(resolution);
        self.request.resolve_reason = resolve_reason;
        self.close_progress = if self.has_issue() {
            CloseProgress::Pending
        } else {
            CloseProgress::Done
        };
    }

    /// Every key with "" for empty values, as the Go plugin writes them.
    pub fn encode(&self) -> PluginDataMap {
        let mut map = PluginDataMap::new();
        self.request.encode_into(&mut map);
        self.issue.encode_into(&mut map);
        map.insert(
            "claim".to_owned(),
            self.claim.as_ref().map(Lease::encode).unwrap_or_default(),
        );
        let progress = self
            .close_progress
            .encode(self.request.resolution, I::NOTED);
        map.insert("close_progress".to_owned(), progress.to_owned());
        map
    }

    /// Reads a stored record (ours or the Go plugin's).
    pub fn decode(data: &PluginDataMap) -> Self {
        let request = RequestData::decode(data);
        Self {
            issue: I::decode(data),
            claim: Lease::decode(stored(data, "claim")),
            close_progress: CloseProgress::decode(
                stored(data, "close_progress"),
                request.resolution,
                I::NOTED,
            ),
            request,
            fresh: false,
        }
    }

    /// The encoding of "no record": as `expect`, an update succeeds only if nothing is stored.
    pub fn empty_record() -> PluginDataMap {
        REQUEST_DATA_KEYS
            .iter()
            .chain(I::KEYS)
            .chain(&OWN_KEYS)
            .map(|k| ((*k).to_owned(), String::new()))
            .collect()
    }
}

impl<I: IssueKeys> RecordCodec for IssueRecord<I> {
    type Record = Self;

    fn encode(record: &Self) -> PluginDataMap {
        record.encode()
    }

    fn decode(data: &PluginDataMap) -> Self {
        Self::decode(data)
    }

    fn empty_record() -> PluginDataMap {
        Self::empty_record()
    }

    fn lease(record: &mut Self) -> &mut Option<Lease> {
        &mut record.claim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Ticket(String);

    impl fmt::Display for Ticket {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl IssueKeys for Ticket {
        const KEYS: &'static [&'static str] = &["ticket"];
        const NOTED: &'static str = "commented";

        fn encode_into(&self, map: &mut PluginDataMap) {
            map.insert("ticket".into(), self.0.clone());
        }

        fn decode(data: &PluginDataMap) -> Self {
            Self(stored(data, "ticket").to_owned())
        }

        fn exists(&self) -> bool {
            !self.0.is_empty()
        }
    }

    fn map(pairs: &[(&str, &str)]) -> PluginDataMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn progress_is_stored_in_the_plugins_word_and_a_go_resolution_is_done() {
        let mut record = IssueRecord::<Ticket>::decode(&map(&[("user", "a"), ("ticket", "T-1")]));
        assert_eq!(record.close_progress, CloseProgress::Pending);
        assert_eq!(
            record.encode()["close_progress"],
            "",
            "open: nothing stored"
        );
        record.record_resolution(Resolution::Denied, "no".into());
        record.close_progress = CloseProgress::Noted;
        let encoded = record.encode();
        assert_eq!(encoded["close_progress"], "commented");
        assert_eq!(IssueRecord::<Ticket>::decode(&encoded), record);

        let go =
            IssueRecord::<Ticket>::decode(&map(&[("ticket", "T-1"), ("resolution", "denied")]));
        assert_eq!(
            go.close_progress,
            CloseProgress::Done,
            "Go resolved at once"
        );
    }

    #[test]
    fn a_resolution_without_an_issue_leaves_nothing_to_resolve() {
        let mut record = IssueRecord::<Ticket>::decode(&map(&[("user", "a")]));
        record.record_resolution(Resolution::Expired, String::new());
        assert_eq!(record.close_progress, CloseProgress::Done);
        let mut written: Vec<_> = record.encode().into_keys().collect();
        written.sort();
        let mut empty: Vec<_> = IssueRecord::<Ticket>::empty_record().into_keys().collect();
        empty.sort();
        assert_eq!(written, empty, "the empty record names every key written");
    }
}
