//! Timestamp conventions of Teleport's Go wire: year 1 means "unset", Timestamp{0,0} is 1970.

use std::time::SystemTime;

use prost_types::Timestamp;

/// Seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z) since the Unix epoch.
pub const GO_ZERO_SECONDS: i64 = -62_135_596_800;

pub(crate) fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

pub(crate) fn go_zero() -> Timestamp {
    Timestamp {
        seconds: GO_ZERO_SECONDS,
        nanos: 0,
    }
}

/// True when a Go peer would read the field as the zero time (absent or year 1).
pub fn is_unset(ts: Option<&Timestamp>) -> bool {
    ts.is_none_or(|t| t.seconds == GO_ZERO_SECONDS && t.nanos == 0)
}

/// Incoming year-1 timestamps become `None`, so the store has one spelling of "unset".
pub(crate) fn normalize(ts: &mut Option<Timestamp>) {
    if is_unset(ts.as_ref()) {
        *ts = None;
    }
}

/// Outgoing non-nullable timestamps: Go always writes them, year 1 when unset.
pub(crate) fn fill_go_zero(ts: &mut Option<Timestamp>) {
    if ts.is_none() {
        *ts = Some(go_zero());
    }
}

pub(crate) fn to_system(ts: &Timestamp) -> Option<SystemTime> {
    SystemTime::try_from(*ts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_one_and_none_are_unset_but_epoch_is_not() {
        assert!(is_unset(None));
        assert!(is_unset(Some(&go_zero())));
        assert!(!is_unset(Some(&Timestamp::default())));
        let mut ts = Some(go_zero());
        normalize(&mut ts);
        assert_eq!(ts, None);
        fill_go_zero(&mut ts);
        assert_eq!(ts, Some(go_zero()));
    }
}
