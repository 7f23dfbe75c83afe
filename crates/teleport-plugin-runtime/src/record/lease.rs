//! The lease stored in a record (`claim` = `"<owner> <unix millis>"`): which replica is
//! working on a request, and until when.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which replica is working on a request, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The replica's identifier.
    pub owner: String,
    /// When the lease lapses (another replica may then take over).
    pub until: SystemTime,
}

impl Lease {
    /// A lease for `owner` lasting `length` from now, in whole milliseconds as stored.
    pub fn new(owner: &str, length: Duration) -> Self {
        let until = unix_millis(SystemTime::now() + length);
        Self {
            owner: owner.to_owned(),
            until: UNIX_EPOCH + Duration::from_millis(until),
        }
    }

    /// The stored form, `"<owner> <unix millis>"`.
    pub fn encode(&self) -> String {
        format!("{} {}", self.owner, unix_millis(self.until))
    }

    /// Reads the stored form; `None` for "" or anything else unreadable.
    pub fn decode(text: &str) -> Option<Self> {
        // The owner may contain spaces; the time never does.
        let (owner, millis) = text.rsplit_once(' ')?;
        let millis: u64 = millis.parse().ok()?;
        Some(Self {
            owner: owner.to_owned(),
            until: UNIX_EPOCH + Duration::from_millis(millis),
        })
    }

    /// Whether another replica holds it now.
    pub fn held_by_other(&self, me: &str, now: SystemTime) -> bool {
        self.owner != me && self.until > now
    }
}

/// `time` in milliseconds since the Unix epoch, as leases, unsure marks and services such as
/// Mattermost write times (0 before 1970, saturated past `u64`).
pub fn unix_millis(time: SystemTime) -> u64 {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(millis).unwrap_or(u64::MAX)
}
