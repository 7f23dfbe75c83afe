//! Decorrelated-jitter backoff, as Teleport's Go libraries use it: the one backoff of the
//! workspace (watch reconnects, the dispatcher's retries, start-up checks).

use std::time::Duration;

use rand::Rng;

/// Each delay is random between `base` and three times the previous delay, never more than
/// `cap`: retries of many clients spread apart while the delays still grow quickly.
#[derive(Clone, Debug)]
pub struct DecorrelatedJitter {
    base: Duration,
    cap: Duration,
    previous: Duration,
}

impl DecorrelatedJitter {
    /// A backoff from `base` up to `cap` (a `cap` below `base` is raised to `base`).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            previous: base,
        }
    }

    /// The next delay, from the thread's random generator.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(&mut rand::rng())
    }

    /// The next delay, from `rng` (reproducible in tests).
    pub fn next_delay_with<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let upper = self.previous.saturating_mul(3).min(self.cap);
        let delay = if upper > self.base {
            rng.random_range(self.base..=upper)
        } else {
            self.base
        };
        self.previous = delay;
        delay
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.previous = self.base;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn delays_stay_within_the_decorrelated_bounds_and_grow_to_the_cap() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        let mut backoff = DecorrelatedJitter::new(base, cap);
        let mut previous = base;
        let mut reached_cap = false;
        for _ in 0..200 {
            let delay = backoff.next_delay_with(&mut rng);
            assert!(delay >= base, "{delay:?}");
            assert!(
                delay <= (previous * 3).min(cap),
                "{delay:?} after {previous:?}"
            );
            reached_cap |= delay > cap / 2;
            previous = delay;
        }
        assert!(reached_cap, "the delays should grow towards the cap");
        backoff.reset();
        assert!(backoff.next_delay_with(&mut rng) <= base * 3);
    }

    #[test]
    fn a_cap_below_base_uses_base() {
        let mut backoff = DecorrelatedJitter::new(Duration::from_secs(1), Duration::from_millis(1));
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }
}
