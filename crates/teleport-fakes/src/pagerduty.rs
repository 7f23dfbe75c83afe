//! Fake PagerDuty REST API v2 on loopback: set up a directory of users, services, escalation
//! policies and on-call entries, point a client at `base_url()`, inspect incidents and calls.

mod api;
mod state;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{
    FakeEscalationPolicy, FakeIncident, FakeNote, FakeOnCall, FakeSchedule, FakeService, FakeUser,
    PagerDutyState, RecordedCall,
};

/// How to start a [`FakePagerDuty`].
#[derive(Clone, Debug)]
pub struct FakePagerDutyOptions {
    /// Listen address; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only API key the fake accepts (`Authorization: Token token=<key>`).
    /// Default `pd-fake-key`.
    pub api_key: String,
    /// The longest page a list call returns, whatever `limit` asks for. PagerDuty caps
    /// `limit` at 100; the default here is 2 so that clients must page.
    pub page_size: usize,
    /// Delay before every answer. Default zero.
    pub latency: Duration,
}

impl Default for FakePagerDutyOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: "pd-fake-key".to_owned(),
            page_size: 2,
            latency: Duration::ZERO,
        }
    }
}

impl FakePagerDutyOptions {
    /// Listen on `addr` instead of a free loopback port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Accept `key` as the API key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Return at most `size` items per list page.
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    /// Delay every answer by `latency`.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

/// A running fake PagerDuty. Dropping it stops the server.
pub struct FakePagerDuty {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakePagerDuty {
    /// Start the fake; panics if the address cannot be bound (a test setup failure).
    pub async fn start(options: FakePagerDutyOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake pagerduty: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakePagerDutyOptions) -> io::Result<Self> {
        let control = Arc::new(Control::new());
        control.set_latency(options.latency);
        let shared = Arc::new(Shared {
            state: Mutex::new(PagerDutyState::default()),
            control,
            api_key: Mutex::new(options.api_key),
            page_size: options.page_size.max(1),
            lost_responses: Mutex::new(HashMap::new()),
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The API base URL, without a trailing slash: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Accept `key` from now on (the old one gets 401).
    pub fn set_api_key(&self, key: impl Into<String>) {
        *self
            .shared
            .api_key
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = key.into();
    }

    /// Fault injection and call counts; methods are named like `POST /incidents` or
    /// `POST /incidents/{id}/notes`.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Carry out the next `count` calls of `method` but answer them with 502, as if the
    /// response was lost: the client cannot know the call took effect.
    pub fn lose_next_responses(&self, method: &str, count: u32) {
        *self
            .shared
            .lost_responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(method.to_owned())
            .or_default() += count;
    }

    /// Close the port and every connection: clients get "connection refused".
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    fn mutate<T>(&self, change: impl FnOnce(&mut PagerDutyState) -> T) -> T {
        let result = change(&mut self.shared.state());
        self.shared.control.notify_changed();
        result
    }

    /// Add a user and return its ID.
    pub fn add_user(&self, name: &str, email: &str) -> String {
        self.mutate(|state| {
            let id = state.new_id("U");
            state.users.push(FakeUser {
                id: id.clone(),
                name: name.to_owned(),
                email: email.to_owned(),
            });
            id
        })
    }

    /// Add an escalation policy and return its ID.
    pub fn add_escalation_policy(&self, name: &str) -> String {
        self.mutate(|state| {
            let id = state.new_id("E");
            state.policies.push(FakeEscalationPolicy {
                id: id.clone(),
                name: name.to_owned(),
            });
            id
        })
    }

    /// Add a service paging through `escalation_policy_id` and return its ID.
    pub fn add_service(&self, name: &str, escalation_policy_id: &str) -> String {
        self.mutate(|state| {
            let id = state.new_id("S");
            state.services.push(FakeService {
                id: id.clone(),
                name: name.to_owned(),
                escalation_policy_id: escalation_policy_id.to_owned(),
            });
            id
        })
    }

    /// Put a user on call.
    pub fn add_oncall(&self, oncall: FakeOnCall) {
        self.mutate(|state| state.oncalls.push(oncall));
    }

    /// Nobody is on call any more.
    pub fn clear_oncalls(&self) {
        self.mutate(|state| state.oncalls.clear());
    }

    /// Incidents in creation order.
    pub fn incidents(&self) -> Vec<FakeIncident> {
        self.shared.state().incidents.clone()
    }

    /// One incident by ID.
    pub fn incident(&self, id: &str) -> Option<FakeIncident> {
        self.shared.state().incident(id).cloned()
    }

    /// Every call received, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.state().calls.clone()
    }

    /// Calls of `method` (e.g. `POST /incidents`) received, faulted ones included.
    pub fn call_count(&self, method: &str) -> u64 {
        self.shared.control.call_count(method)
    }

    /// Wait until `check` returns `Some` for the recorded state; re-checked on every change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&PagerDutyState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
