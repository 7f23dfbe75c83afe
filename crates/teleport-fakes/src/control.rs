//! Fault injection and call accounting shared by every fake upstream.
//!
//! A fake puts [`fault_layer`] in front of its routes. Each request is then counted under
//! its API method name, delayed by the configured latency, and possibly answered with an
//! injected fault instead of reaching the fake's handler. How a fault looks on the wire
//! (body shape, headers) is up to each fake, through a [`FaultRenderer`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::watch;

/// A [`Control::wait_until`] condition did not hold in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("condition not met within {0:?}")]
pub struct WaitTimeout(pub Duration);

/// A failure the fake returns instead of serving a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with a `Retry-After` header, in whole seconds.
    RateLimited {
        /// Value of the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// An HTTP 5xx answer (500, 502, 503, ...).
    ServerError {
        /// The status code to answer with.
        status: u16,
    },
}

/// "Answer at most `calls` calls per `per` window, per method; 429 beyond that."
///
/// A fixed window per method, the way Slack's per-method tiers behave from the outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window.
    pub calls: u32,
    /// Window length.
    pub per: Duration,
}

/// Turns a fault into the fake's own wire shape.
pub type FaultRenderer = fn(&Fault) -> Response;

/// Names the API method a request calls (the key for counts and per-method faults).
pub type MethodNamer = fn(&Request) -> String;

#[derive(Debug)]
struct QueuedFault {
    method: Option<String>,
    fault: Fault,
    remaining: u32,
}

#[derive(Debug, Default)]
struct ControlState {
    latency: Duration,
    refuse_all: Option<Fault>,
    queued: VecDeque<QueuedFault>,
    rate_limit: Option<RateLimit>,
    windows: HashMap<String, (Instant, u32)>,
    calls: HashMap<String, u64>,
    total_calls: u64,
}

/// Fault injection knobs and per-method call counts of one fake.
///
/// Every change the fake records (a call, a stored message) bumps a version that
/// [`Control::subscribe`] watchers see, so tests wait for state without sleeping loops.
#[derive(Debug)]
pub struct Control {
    state: Mutex<ControlState>,
    version: watch::Sender<u64>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    /// No latency, no faults, no rate limit.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(ControlState::default()),
            version: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ControlState> {
        // A panic while holding the lock cannot leave the counters half-written in a way
        // that matters to a test double, so keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delay every call by `latency` before it is answered (zero turns it off).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Answer the next `count` calls (of any method) with `fault`.
    ///
    /// Queued faults are consumed in the order they were added.
    pub fn fail_next(&self, count: u32, fault: Fault) {
        self.queue(None, count, fault);
    }

    /// Answer the next `count` calls of `method` with `fault`; other methods pass.
    pub fn fail_next_for(&self, method: &str, count: u32, fault: Fault) {
        self.queue(Some(method.to_owned()), count, fault);
    }

    /// Shorthand: the next `count` calls get 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, count: u32, retry_after_secs: u64) {
        self.fail_next(count, Fault::RateLimited { retry_after_secs });
    }

    /// Shorthand: the next `count` calls get HTTP 500.
    pub fn server_error_next(&self, count: u32) {
        self.fail_next(count, Fault::ServerError { status: 500 });
    }

    fn queue(&self, method: Option<String>, count: u32, fault: Fault) {
        if count == 0 {
            return;
        }
        self.lock().queued.push_back(QueuedFault {
            method,
            fault,
            remaining: count,
        });
    }

    /// Answer every call with `fault` from now on (`Some`), an outage that keeps nothing,
    /// until `None` serves again. Takes precedence over queued faults and the rate limit.
    pub fn refuse_all(&self, fault: Option<Fault>) {
        self.lock().refuse_all = fault;
    }

    /// Turn the per-method rate limit on (`Some`) or off (`None`).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut state = self.lock();
        state.rate_limit = limit;
        state.windows.clear();
    }

    /// Drop queued faults, a refusal of every call, the rate limit and the latency.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.refuse_all = None;
        state.queued.clear();
        state.rate_limit = None;
        state.windows.clear();
        state.latency = Duration::ZERO;
    }

    /// How many calls of `method` arrived, faulted ones included.
    pub fn call_count(&self, method: &str) -> u64 {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// How many calls arrived in total, faulted ones included.
    pub fn total_calls(&self) -> u64 {
        self.lock().total_calls
    }

    /// A receiver that changes whenever the fake records anything.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Tell watchers that the fake's recorded state changed.
    pub fn notify_changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Re-run `check` after every recorded change until it yields a value or `timeout` passes.
    ///
    /// `check` runs once right away, so a condition that already holds returns at once.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before the first check so a change in between is not missed.
        let mut changes = self.subscribe();
        loop {
            changes.borrow_and_update();
            if let Some(value) = check() {
                return Ok(value);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives as long as `self`, so only the deadline ends the wait.
                Ok(Err(_)) | Err(_) => return check().ok_or(WaitTimeout(timeout)),
            }
        }
    }

    /// Count a call and decide how to treat it: the delay to apply and an optional fault.
    fn admit(&self, method: &str, now: Instant) -> (Duration, Option<Fault>) {
        let mut state = self.lock();
        *state.calls.entry(method.to_owned()).or_default() += 1;
        state.total_calls += 1;
        let latency = state.latency;
        if let Some(fault) = &state.refuse_all {
            return (latency, Some(fault.clone()));
        }

        let queued = state
            .queued
            .iter()
            .position(|q| q.method.as_deref().is_none_or(|m| m == method));
        if let Some(index) = queued {
            let fault = state.queued[index].fault.clone();
            state.queued[index].remaining -= 1;
            if state.queued[index].remaining == 0 {
                state.queued.remove(index);
            }
            return (latency, Some(fault));
        }

        let fault = state.rate_limit.and_then(|limit| {
            let window = state.windows.entry(method.to_owned()).or_insert((now, 0));
            if now.duration_since(window.0) >= limit.per {
                *window = (now, 0);
            }
            if window.1 < limit.calls {
                window.1 += 1;
                return None;
            }
            let left = limit.per.saturating_sub(now.duration_since(window.0));
            Some(Fault::RateLimited {
                retry_after_secs: ceil_secs(left).max(1),
            })
        });
        (latency, fault)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// When a call reached the fake, before any injected latency; a request extension set by
/// [`fault_layer`] so fakes can timestamp what they record.
#[derive(Clone, Copy, Debug)]
pub struct Arrival(pub Instant);

/// What [`fault_layer`] needs: the control, how to name a method, how to render faults.
#[derive(Clone)]
pub struct FaultLayer {
    /// The fake's control.
    pub control: Arc<Control>,
    /// Names the API method of a request.
    pub method_of: MethodNamer,
    /// Renders a fault in the fake's wire shape.
    pub render: FaultRenderer,
}

/// Axum middleware: count, delay, and maybe fault each call before the fake sees it.
///
/// Use with `axum::middleware::from_fn_with_state(FaultLayer { .. }, fault_layer)`.
pub async fn fault_layer(
    State(layer): State<FaultLayer>,
    request: Request,
    next: Next,
) -> Response {
    let method = (layer.method_of)(&request);
    let (latency, fault) = layer.control.admit(&method, Instant::now());
    layer.control.notify_changed();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Some(fault) => (layer.render)(&fault),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_are_consumed_in_order_and_per_method() {
        let control = Control::new();
        control.fail_next_for("chat.update", 1, Fault::ServerError { status: 503 });
        control.rate_limit_next(2, 7);
        let now = Instant::now();

        // chat.postMessage skips the chat.update-only fault and takes the 429s.
        assert_eq!(
            control.admit("chat.postMessage", now).1,
            Some(Fault::RateLimited {
                retry_after_secs: 7
            })
        );
        assert_eq!(
            control.admit("chat.update", now).1,
            Some(Fault::ServerError { status: 503 })
        );
        assert_eq!(
            control.admit("chat.update", now).1,
            Some(Fault::RateLimited {
                retry_after_secs: 7
            })
        );
        assert_eq!(control.admit("chat.update", now).1, None);
        assert_eq!(control.call_count("chat.update"), 3);
        assert_eq!(control.total_calls(), 4);
    }

    #[test]
    fn refusing_every_call_lasts_until_turned_off_and_keeps_queued_faults() {
        let control = Control::new();
        control.server_error_next(1);
        control.refuse_all(Some(Fault::ServerError { status: 503 }));
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(
                control.admit("a", now).1,
                Some(Fault::ServerError { status: 503 })
            );
        }
        control.refuse_all(None);
        assert_eq!(
            control.admit("a", now).1,
            Some(Fault::ServerError { status: 500 }),
            "the queued fault is still there"
        );
        assert_eq!(control.admit("a", now).1, None);
        assert_eq!(control.call_count("a"), 5);
    }

    #[test]
    fn rate_limit_window_is_per_method_and_resets() {
        let control = Control::new();
        control.set_rate_limit(Some(RateLimit {
            calls: 2,
            per: Duration::from_secs(60),
        }));
        let start = Instant::now();
        assert_eq!(control.admit("a", start).1, None);
        assert_eq!(control.admit("a", start).1, None);
        assert_eq!(
            control.admit("a", start + Duration::from_millis(500)).1,
            Some(Fault::RateLimited {
                retry_after_secs: 60
            })
        );
        assert_eq!(control.admit("b", start).1, None);
        assert_eq!(control.admit("a", start + Duration::from_secs(60)).1, None);
    }
}
