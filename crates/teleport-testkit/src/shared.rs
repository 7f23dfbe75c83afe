//! The server core shared by the gRPC services and the test controls: config, locked state,
//! change notification and the delivery hook.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::watch;
use tonic::Status;

use crate::method::Method;
use crate::state::State;
use crate::watch::Delivery;

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) cluster_name: String,
    pub(crate) server_version: String,
    pub(crate) advanced_workflows: bool,
    pub(crate) proxy_public_addr: String,
}

pub(crate) type DeliveryHook = Arc<dyn Fn(&Delivery) + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) config: Config,
    state: Mutex<State>,
    /// Bumped after every mutation so `wait_for` can sleep until something changed.
    version: watch::Sender<u64>,
    delivery_hook: RwLock<Option<DeliveryHook>>,
}

impl Shared {
    pub(crate) fn new(config: Config, state: State) -> Arc<Self> {
        Arc::new(Shared {
            config,
            state: Mutex::new(state),
            version: watch::Sender::new(0),
            delivery_hook: RwLock::new(None),
        })
    }

    /// Runs `f` on the state under the lock. The lock is never held across an await.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` on the state under the lock, then wakes `wait_for` callers.
    pub(crate) fn mutate<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        result
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Counts a call to `method` and applies any injected failure.
    pub(crate) fn begin_call(&self, method: Method) -> Result<(), Status> {
        self.mutate(|state| {
            *state.calls.entry(method).or_default() += 1;
            match state
                .rejections
                .get_mut(&method)
                .and_then(|r| r.take(method))
            {
                Some(status) => Err(status),
                None => Ok(()),
            }
        })
    }

    pub(crate) fn set_delivery_hook(&self, hook: Option<DeliveryHook>) {
        *self
            .delivery_hook
            .write()
            .unwrap_or_else(PoisonError::into_inner) = hook;
    }

    pub(crate) fn record_delivery(&self, delivery: &Delivery) {
        let hook = self
            .delivery_hook
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(hook) = hook {
            hook(delivery);
        }
    }
}
