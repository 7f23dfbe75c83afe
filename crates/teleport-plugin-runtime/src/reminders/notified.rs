//! The per-list record in plugin data of kind `access_list`: whom the plugin reminded and
//! when, under Go's key (`user_notifications`, a JSON object of name → RFC 3339 time, which
//! Go plugins read and write too), plus this runtime's lease (`claim`, ignored by Go).

use std::collections::BTreeMap;

use teleport_client::PluginDataMap;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::record::{Lease, RecordCodec};

/// Go's key for the reminder record.
pub const USER_NOTIFICATIONS_KEY: &str = "user_notifications";
const CLAIM_KEY: &str = "claim";

/// Who was last reminded when, for one access list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListNotifications {
    /// Recipient (owner) name → the last reminder. Go seeds owners with its zero time
    /// (year 1), which reads as "never".
    pub notified: BTreeMap<String, OffsetDateTime>,
    /// The lease of the replica sending reminders for this list.
    pub claim: Option<Lease>,
}

impl ListNotifications {
    /// Whether `name` was last reminded before `window` began (or never).
    pub fn due(&self, name: &str, window: OffsetDateTime) -> bool {
        self.notified.get(name).is_none_or(|last| *last < window)
    }
}

/// [`RecordCodec`] for [`ListNotifications`].
#[derive(Debug)]
pub struct ListNotificationsCodec;

impl RecordCodec for ListNotificationsCodec {
    type Record = ListNotifications;

    fn encode(record: &ListNotifications) -> PluginDataMap {
        let notified = if record.notified.is_empty() {
            // Go writes "" for an empty map.
            String::new()
        } else {
            let object: serde_json::Map<String, serde_json::Value> = record
                .notified
                .iter()
                .map(|(name, at)| (name.clone(), serde_json::Value::String(go_time(*at))))
                .collect();
            serde_json::Value::Object(object).to_string()
        };
        PluginDataMap::from([
            (USER_NOTIFICATIONS_KEY.to_owned(), notified),
            (
                CLAIM_KEY.to_owned(),
                record.claim.as_ref().map(Lease::encode).unwrap_or_default(),
            ),
        ])
    }

    fn decode(data: &PluginDataMap) -> ListNotifications {
        let text = data.get(USER_NOTIFICATIONS_KEY).map_or("", String::as_str);
        let mut notified = BTreeMap::new();
        if !text.is_empty() {
            match serde_json::from_str::<BTreeMap<String, String>>(text) {
                Ok(map) => {
                    for (name, at) in map {
                        match OffsetDateTime::parse(&at, &Rfc3339) {
                            Ok(at) => {
                                notified.insert(name, at);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "unreadable time in access-list reminder record; reminding again");
                            }
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "unreadable access-list reminder record; reminding again");
                }
            }
        }
        ListNotifications {
            notified,
            claim: Lease::decode(data.get(CLAIM_KEY).map_or("", String::as_str)),
        }
    }

    fn empty_record() -> PluginDataMap {
        PluginDataMap::from([
            (USER_NOTIFICATIONS_KEY.to_owned(), String::new()),
            (CLAIM_KEY.to_owned(), String::new()),
        ])
    }

    fn lease(record: &mut ListNotifications) -> &mut Option<Lease> {
        &mut record.claim
    }
}

/// Go's JSON form of a `time.Time` (RFC 3339 with nanoseconds, trailing zeros cut), in UTC.
fn go_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    if at.nanosecond() > 0 {
        let fraction = format!("{:09}", at.nanosecond());
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn reads_and_writes_what_go_plugins_store() {
        // As Go's json.Marshal(map[string]time.Time) writes it, zero time included.
        let go = PluginDataMap::from([(
            USER_NOTIFICATIONS_KEY.to_owned(),
            r#"{"alice":"2023-02-15T00:00:00.5+01:00","bob":"0001-01-01T00:00:00Z"}"#.to_owned(),
        )]);
        let record = ListNotificationsCodec::decode(&go);
        assert_eq!(
            record.notified["alice"],
            datetime!(2023-02-14 23:00:00.5 UTC)
        );
        assert!(record.due("bob", datetime!(2023-02-15 00:00 UTC)));
        assert!(record.due("carol", datetime!(2023-02-15 00:00 UTC)));
        assert!(!record.due("alice", datetime!(2023-02-14 00:00 UTC)));
        assert_eq!(record.claim, None);

        let encoded = ListNotificationsCodec::encode(&record);
        assert_eq!(
            encoded[USER_NOTIFICATIONS_KEY],
            r#"{"alice":"2023-02-14T23:00:00.5Z","bob":"0001-01-01T00:00:00Z"}"#
        );
        assert_eq!(encoded[CLAIM_KEY], "");
        assert_eq!(ListNotificationsCodec::decode(&encoded), record);
    }

    #[test]
    fn garbage_reads_as_never_reminded() {
        for text in ["not json", r#"{"alice": 5}"#, r#"{"alice":"yesterday"}"#] {
            let data = PluginDataMap::from([(USER_NOTIFICATIONS_KEY.to_owned(), text.to_owned())]);
            let record = ListNotificationsCodec::decode(&data);
            assert!(
                record.due("alice", datetime!(2000-01-01 00:00 UTC)),
                "{text}"
            );
        }
        assert_eq!(
            ListNotificationsCodec::encode(&ListNotifications::default())[USER_NOTIFICATIONS_KEY],
            ""
        );
    }
}
