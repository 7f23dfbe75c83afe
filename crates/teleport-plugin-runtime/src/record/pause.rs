//! One pause for every send to a service that said "slow down".
//!
//! A 429's `Retry-After` speaks for the whole token, not for one request: when a burst
//! hits the limit, the other workers' sends would all be refused too. So the first
//! refusal pauses every send until the service's time is up, and a send refused with a
//! short `Retry-After` waits and tries again in place, keeping its lease, instead of
//! giving the request back (which would cost Teleport writes to release and re-claim).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Sends wait for a pause of at most this long in place (holding the request's lease,
/// which lasts 30 s and is renewed before every send); a longer one gives the request
/// back to the dispatcher to retry after it.
pub(crate) const MAX_WAIT_IN_PLACE: Duration = Duration::from_secs(10);

/// When sends may start again.
#[derive(Debug, Default)]
pub(crate) struct SendPause {
    until: Mutex<Option<Instant>>,
}

impl SendPause {
    /// Pauses every send for `delay` from now (a longer pause already set stays).
    pub(crate) fn pause_for(&self, delay: Duration) {
        let end = Instant::now() + delay;
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_none_or(|current| current < end) {
            *until = Some(end);
        }
    }

    /// How long sends are still paused, if they are.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
        until
            .map(|end| end.saturating_duration_since(Instant::now()))
            .filter(|left| !left.is_zero())
    }

    /// Waits out the pause if it ends within `limit`; otherwise returns at once with what
    /// is left of it.
    pub(crate) async fn wait(&self, limit: Duration) -> Result<(), Duration> {
        // Another refusal may extend the pause while we sleep: look again after waking.
        while let Some(left) = self.remaining() {
            if left > limit {
                return Err(left);
            }
            tokio::time::sleep(left).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_send_until_it_ends() {
        let pause = SendPause::default();
        assert_eq!(pause.remaining(), None);
        assert_eq!(pause.wait(Duration::ZERO).await, Ok(()));

        pause.pause_for(Duration::from_secs(2));
        pause.pause_for(Duration::from_secs(1));
        assert_eq!(
            pause.remaining(),
            Some(Duration::from_secs(2)),
            "the longer stays"
        );
        assert_eq!(
            pause.wait(Duration::from_secs(1)).await,
            Err(Duration::from_secs(2)),
            "too long to wait in place"
        );

        let started = Instant::now();
        assert_eq!(pause.wait(Duration::from_secs(5)).await, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(pause.remaining(), None);
    }
}
