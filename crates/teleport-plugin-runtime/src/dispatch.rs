//! Per-request workers: events for one request are handled in order (in fact
//! coalesced to the latest), different requests concurrently up to a bound.
//!
//! Each request's handler is a convergence step ("make the outside world match
//! this state of the request") that is safe to repeat, so only the latest
//! observation matters and a failed step is simply retried later. A worker
//! exists only while its request has work left: nothing is kept in memory for
//! a request whose messages are all sent.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teleport_client::AccessRequest;
use teleport_client::backoff::DecorrelatedJitter;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// What the plugin last learned about a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The request as it now is.
    Put(Box<AccessRequest>),
    /// The request was deleted or expired.
    Deleted(String),
}

impl Observation {
    /// The request ID.
    pub fn id(&self) -> &str {
        match self {
            Self::Put(request) => &request.id,
            Self::Deleted(id) => id,
        }
    }
}

/// The result of one handling step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The outside world matches the observation.
    Done,
    /// Not finished (a send failed, another replica holds the request, ...):
    /// run again after this delay, or earlier if the request changes.
    /// `None` means "use the worker's backoff".
    Retry(Option<Duration>),
}

/// A plugin's handling of access requests.
pub trait RequestHandler: Send + Sync + 'static {
    /// Brings everything the plugin owns for this request in line with `observed`.
    /// Must be safe to call again with the same or a newer observation.
    fn handle(&self, observed: &Observation) -> impl Future<Output = Outcome> + Send;
}

/// Limits for the dispatcher.
#[derive(Clone, Debug)]
pub struct DispatchOptions {
    /// Requests handled at the same time.
    pub max_concurrency: usize,
    /// Longest a single handling step may take before it counts as failed.
    pub step_timeout: Duration,
    /// Retry backoff: first delay.
    pub retry_base: Duration,
    /// Retry backoff: longest delay.
    pub retry_cap: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 128,
            step_timeout: Duration::from_secs(60),
            retry_base: Duration::from_millis(250),
            retry_cap: Duration::from_secs(30),
        }
    }
}

struct Slot {
    latest: Observation,
    generation: u64,
    changed: Arc<Notify>,
}

struct Shared<H> {
    handler: Arc<H>,
    slots: Mutex<HashMap<String, Slot>>,
    permits: Semaphore,
    options: DispatchOptions,
    stop: CancellationToken,
    tasks: TaskTracker,
    metrics: Metrics,
    /// Woken (all waiters) whenever a request is forgotten: room for a catch-up page.
    forgotten: Notify,
    /// Woken (one waiter, or the next one) whenever the last request is forgotten.
    idle: Notify,
}

/// Routes observations to per-request workers.
pub struct Dispatcher<H> {
    shared: Arc<Shared<H>>,
}

impl<H> Clone for Dispatcher<H> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<H: RequestHandler> Dispatcher<H> {
    /// A dispatcher running `handler`.
    pub fn new(handler: Arc<H>, options: DispatchOptions, metrics: Metrics) -> Self {
        Self {
            shared: Arc::new(Shared {
                handler,
                slots: Mutex::new(HashMap::new()),
                permits: Semaphore::new(options.max_concurrency.max(1)),
                options,
                stop: CancellationToken::new(),
                tasks: TaskTracker::new(),
                metrics,
                forgotten: Notify::new(),
                idle: Notify::new(),
            }),
        }
    }

    /// Records a new observation (from the watch): it replaces any older one.
    pub fn observe(&self, observation: Observation) {
        self.insert(observation, true);
    }

    /// Records an observation from a listing, unless the watch already gave a
    /// newer one for the same request (a listing may be older than an event).
    pub fn observe_if_idle(&self, observation: Observation) {
        self.insert(observation, false);
    }

    fn insert(&self, observation: Observation, replace: bool) {
        if self.shared.stop.is_cancelled() {
            return;
        }
        let id = observation.id().to_owned();
        let mut slots = lock(&self.shared.slots);
        if let Some(slot) = slots.get_mut(&id) {
            if replace {
                slot.latest = observation;
                slot.generation += 1;
                slot.changed.notify_one();
            }
            return;
        }
        slots.insert(
            id.clone(),
            Slot {
                latest: observation,
                generation: 0,
                changed: Arc::new(Notify::new()),
            },
        );
        drop(slots);
        self.shared.metrics.requests_in_flight.inc();
        let shared = self.shared.clone();
        self.shared
            .tasks
            .spawn(async move { run_worker(shared, id).await });
    }

    /// Requests with work left.
    pub fn in_flight(&self) -> usize {
        lock(&self.shared.slots).len()
    }

    /// Waits until fewer than `limit` requests have work left. The catch-up listing
    /// waits here before each page, so that it never holds more than about a page of
    /// listed requests in waiting workers.
    pub async fn wait_below(&self, limit: usize) {
        loop {
            let forgotten = self.shared.forgotten.notified();
            tokio::pin!(forgotten);
            // Registered before the check, so a request forgotten in between still wakes us.
            forgotten.as_mut().enable();
            if self.in_flight() < limit || self.shared.stop.is_cancelled() {
                return;
            }
            tokio::select! {
                () = forgotten => {}
                () = self.shared.stop.cancelled() => return,
            }
        }
    }

    /// Waits until the last request with work left is forgotten (returns at once if that
    /// happened since the previous call and nothing woke it then).
    pub async fn became_idle(&self) {
        self.shared.idle.notified().await;
    }

    /// Stops taking observations, lets running steps finish (not retries
    /// waiting for their turn), and waits for the workers to end.
    pub async fn shutdown(&self) {
        self.shared.stop.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

async fn run_worker<H: RequestHandler>(shared: Arc<Shared<H>>, id: String) {
    let mut backoff = DecorrelatedJitter::new(shared.options.retry_base, shared.options.retry_cap);
    loop {
        // The permit first, the observation after: a worker waiting for its turn (thousands
        // in a burst) holds no copy of the request, and the step gets the latest one.
        let Ok(permit) = (tokio::select! {
            permit = shared.permits.acquire() => permit,
            () = shared.stop.cancelled() => break,
        }) else {
            break;
        };
        let Some((observation, generation, changed)) = lock(&shared.slots)
            .get(&id)
            .map(|s| (s.latest.clone(), s.generation, s.changed.clone()))
        else {
            return;
        };
        let outcome = {
            let _permit = permit;
            let span = tracing::info_span!("request", request_id = %id);
            // Boxed, so that only running steps (at most `max_concurrency`) hold the
            // handler's large future: a worker still waiting for a permit (thousands of
            // them in a burst) stays a few hundred bytes.
            let step = Box::pin(tracing::Instrument::instrument(
                shared.handler.handle(&observation),
                span,
            ));
            match tokio::time::timeout(shared.options.step_timeout, step).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(request_id = %id, timeout = ?shared.options.step_timeout, "handling the request took too long; will retry");
                    Outcome::Retry(None)
                }
            }
        };
        match outcome {
            Outcome::Done => {
                let mut slots = lock(&shared.slots);
                if slots.get(&id).is_some_and(|s| s.generation == generation) {
                    slots.remove(&id);
                    let idle = slots.is_empty();
                    drop(slots);
                    forgotten(&shared, idle);
                    return;
                }
                backoff.reset();
            }
            Outcome::Retry(after) => {
                let delay = after.unwrap_or_else(|| backoff.next_delay());
                shared.metrics.retries.inc();
                tracing::debug!(request_id = %id, ?delay, "will retry the request");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = changed.notified() => {}
                    () = shared.stop.cancelled() => break,
                }
            }
        }
    }
    let mut slots = lock(&shared.slots);
    if slots.remove(&id).is_some() {
        let idle = slots.is_empty();
        drop(slots);
        forgotten(&shared, idle);
    }
}

/// Bookkeeping after a request's slot was removed (outside the lock).
fn forgotten<H>(shared: &Shared<H>, idle: bool) {
    shared.metrics.requests_in_flight.dec();
    shared.forgotten.notify_waiters();
    if idle {
        shared.idle.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps are consistent after every statement, so a poisoned lock is usable.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
