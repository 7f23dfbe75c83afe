//! Decorrelated-jitter backoff, as Teleport's Go libraries use it.

use std::time::Duration;

use rand::Rng;

/// Each delay is random between `base` and three times the previous delay,
/// capped; spreading reconnects of many clients apart.
#[derive(Clone, Debug)]
pub struct DecorrelatedJitter {
    base: Duration,
    cap: Duration,
    previous: Duration,
}

impl DecorrelatedJitter {
    /// A backoff from `base` up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            previous: base,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let upper = (self.previous * 3).max(self.base);
        let delay = if upper > self.base {
            rand::rng().random_range(self.base..=upper)
        } else {
            self.base
        };
        self.previous = delay.min(self.cap);
        self.previous
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.previous = self.base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_base_and_cap() {
        let mut backoff =
            DecorrelatedJitter::new(Duration::from_millis(20), Duration::from_secs(5));
        let mut max_seen = Duration::ZERO;
        for _ in 0..200 {
            let d = backoff.next_delay();
            assert!(
                d >= Duration::from_millis(20) && d <= Duration::from_secs(5),
                "{d:?}"
            );
            max_seen = max_seen.max(d);
        }
        assert!(
            max_seen > Duration::from_secs(1),
            "backoff never grew: {max_seen:?}"
        );
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(60));
    }
}
