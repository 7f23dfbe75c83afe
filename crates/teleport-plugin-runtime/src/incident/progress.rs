//! The `close_progress` key of the incident records that close in one call (Opsgenie,
//! ServiceNow): "" while the request is open, `pending` until the incident is closed,
//! `done` after. A resolution without it is a Go plugin's, which closed in one go.

use crate::record::Resolution;

/// The key's name.
pub const CLOSE_PROGRESS: &str = "close_progress";

/// The stored value for a record with `resolution` and `closed`.
pub fn encode(resolution: Option<Resolution>, closed: bool) -> String {
    match (resolution, closed) {
        (None, _) => String::new(),
        (Some(_), false) => "pending".into(),
        (Some(_), true) => "done".into(),
    }
}

/// Whether the stored value says nothing is left to close.
pub fn decode_closed(text: &str) -> bool {
    text != "pending"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_go_records_as_closed() {
        assert_eq!(encode(None, false), "");
        assert_eq!(encode(Some(Resolution::Denied), false), "pending");
        assert_eq!(encode(Some(Resolution::Denied), true), "done");
        assert!(!decode_closed("pending"));
        assert!(decode_closed("done"));
        assert!(decode_closed(""), "a Go record closed in one go");
    }
}
