//! When reminders are looked for: about 30 s after start, then every 3 h, each delay with
//! Go's "seventh jitter" (a random point in its last seventh) so replicas spread out.

use std::time::Duration;

use rand::Rng;

/// The first look, after start (before jitter).
pub const FIRST_RUN: Duration = Duration::from_secs(30);
/// Between looks (before jitter).
pub const INTERVAL: Duration = Duration::from_secs(3 * 3600);

/// `d` shortened by a random amount of up to a seventh (Go's `retryutils.SeventhJitter`).
pub fn seventh_jitter(d: Duration) -> Duration {
    let seventh = d / 7;
    let kept = d - seventh;
    let nanos = u64::try_from(seventh.as_nanos()).unwrap_or(u64::MAX);
    kept + Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_last_seventh() {
        for _ in 0..1000 {
            let d = seventh_jitter(INTERVAL);
            assert!(d >= INTERVAL - INTERVAL / 7 && d <= INTERVAL, "{d:?}");
            let first = seventh_jitter(FIRST_RUN);
            assert!(first >= Duration::from_millis(25_714) && first <= FIRST_RUN);
        }
    }
}
