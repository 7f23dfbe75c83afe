//! Fake Opsgenie REST API (v2) on loopback: alerts created asynchronously and de-duplicated
//! by alias, notes, closing, schedules' on-call participants, the heartbeat ping.
//!
//! Only the calls the access-request plugin makes are served, with Opsgenie's shapes: the key
//! goes in `Authorization: GenieKey <key>` (401 otherwise), writes answer 202 with a
//! `requestId` whose outcome `GET v2/alerts/requests/{id}` tells once processed (404 before,
//! as Opsgenie does), errors are `{message, took, requestId}`, and a 429 carries
//! `X-RateLimit-State: THROTTLED` and `Retry-After`. Calls are counted under
//! `"<METHOD> <route>"`, e.g. [`CREATE_ALERT`].

mod api;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{OgAlert, OgSchedule, OgState};

/// The route that creates an alert, as counted.
pub const CREATE_ALERT: &str = "POST /v2/alerts";
/// The route that tells a create request's outcome, as counted.
pub const ALERT_REQUEST: &str = "GET /v2/alerts/requests/{request}";
/// The route that adds a note, as counted.
pub const ADD_NOTE: &str = "POST /v2/alerts/{alert}/notes";
/// The route that closes an alert, as counted.
pub const CLOSE_ALERT: &str = "POST /v2/alerts/{alert}/close";
/// The route that lists a schedule's on-call participants, as counted.
pub const ON_CALLS: &str = "GET /v2/schedules/{schedule}/on-calls";

/// How to start a [`FakeOpsgenie`].
#[derive(Clone, Debug)]
pub struct FakeOpsgenieOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only API key accepted. Default `opsgenie-fake-key`.
    pub api_key: String,
    /// Schedules.
    pub schedules: Vec<OgSchedule>,
    /// How many polls of a create request answer "not processed yet" before its alert ID.
    pub processing_polls: u32,
}

impl Default for FakeOpsgenieOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: "opsgenie-fake-key".to_owned(),
            schedules: Vec::new(),
            processing_polls: 0,
        }
    }
}

impl FakeOpsgenieOptions {
    /// Accept `key`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Add a schedule with these people on call (e-mail addresses).
    pub fn schedule(mut self, id: &str, name: &str, on_call: &[&str]) -> Self {
        self.schedules.push(OgSchedule {
            id: id.to_owned(),
            name: name.to_owned(),
            on_call: on_call.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Answer "not processed yet" to the first `polls` polls of every create request.
    pub fn processing_polls(mut self, polls: u32) -> Self {
        self.processing_polls = polls;
        self
    }
}

/// A running fake Opsgenie. Dropping it stops the server.
pub struct FakeOpsgenie {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeOpsgenie {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeOpsgenieOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake opsgenie: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeOpsgenieOptions) -> io::Result<Self> {
        let mut state = OgState::default();
        state.schedules = options.schedules;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            api_key: options.api_key,
            processing_polls: options.processing_polls,
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The API base (what the plugin's `api_endpoint` holds), without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// Fault injection and call counts.
    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    /// Calls of `route` (e.g. [`CREATE_ALERT`]), faulted ones included.
    pub fn call_count(&self, route: &str) -> u64 {
        self.shared.control.call_count(route)
    }

    /// Put exactly these people on call in schedule `name`.
    pub fn set_on_call(&self, name: &str, on_call: &[&str]) {
        let mut state = self.shared.state();
        for schedule in state.schedules.iter_mut().filter(|s| s.name == name) {
            schedule.on_call = on_call.iter().map(|s| (*s).to_owned()).collect();
        }
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// All alerts, in creation order.
    pub fn alerts(&self) -> Vec<OgAlert> {
        self.shared.state().alerts.clone()
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&OgState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&OgState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
