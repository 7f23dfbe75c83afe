//! Fake Datadog API on loopback: Incident Management (create, search, timeline cells,
//! `PATCH` to resolve), the permissions list the health check reads, and the unstable
//! On-Call teams listing with who is on call.
//!
//! Only the calls the access-request plugin makes are served, with Datadog's shapes: both
//! keys go in `DD-API-KEY` and `DD-APPLICATION-KEY` (403 `{"errors":["Forbidden"]}`
//! otherwise, as Datadog answers), bodies are JSON:API documents, errors are
//! `{"errors": [...]}`, and a 429 carries Datadog's `X-RateLimit-*` headers with the wait in
//! `X-RateLimit-Reset` (seconds). Calls are counted under `"<METHOD> <route>"`, e.g.
//! [`CREATE_INCIDENT`].

mod api;
mod search;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{DdIncident, DdState, DdTeam};

/// The health check's route, as counted.
pub const PERMISSIONS: &str = "GET /api/v2/permissions";
/// The route that creates an incident, as counted.
pub const CREATE_INCIDENT: &str = "POST /api/v2/incidents";
/// The route that searches incidents, as counted.
pub const SEARCH_INCIDENTS: &str = "GET /api/v2/incidents/search";
/// The route that adds a timeline cell, as counted.
pub const ADD_TIMELINE_CELL: &str = "POST /api/v2/incidents/{incident}/timeline";
/// The route that updates (resolves) an incident, as counted.
pub const UPDATE_INCIDENT: &str = "PATCH /api/v2/incidents/{incident}";
/// The route that lists On-Call teams, as counted.
pub const ON_CALL_TEAMS: &str = "GET /api/unstable/on-call/teams";

/// How to start a [`FakeDatadog`].
#[derive(Clone, Debug)]
pub struct FakeDatadogOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only API key accepted. Default `datadog-fake-api-key`.
    pub api_key: String,
    /// The only application key accepted. Default `datadog-fake-app-key`.
    pub application_key: String,
    /// On-Call teams.
    pub teams: Vec<DdTeam>,
    /// Permissions restricted for the application key.
    pub restricted: Vec<String>,
}

impl Default for FakeDatadogOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: "datadog-fake-api-key".to_owned(),
            application_key: "datadog-fake-app-key".to_owned(),
            teams: Vec::new(),
            restricted: Vec::new(),
        }
    }
}

impl FakeDatadogOptions {
    /// Accept these keys.
    pub fn keys(mut self, api_key: impl Into<String>, application_key: impl Into<String>) -> Self {
        self.api_key = api_key.into();
        self.application_key = application_key.into();
        self
    }

    /// Add an On-Call team with these people on call (e-mail addresses).
    pub fn team(mut self, name: &str, handle: &str, on_call: &[&str]) -> Self {
        let id = format!("team-{}", self.teams.len() + 1);
        self.teams.push(DdTeam {
            id,
            name: name.to_owned(),
            handle: handle.to_owned(),
            on_call: on_call.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Mark a permission (e.g. `incident_write`) restricted for the application key.
    pub fn restrict(mut self, permission: &str) -> Self {
        self.restricted.push(permission.to_owned());
        self
    }
}

/// A running fake Datadog. Dropping it stops the server.
pub struct FakeDatadog {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeDatadog {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeDatadogOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake datadog: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeDatadogOptions) -> io::Result<Self> {
        let mut state = DdState::default();
        state.teams = options.teams;
        state.restricted = options.restricted;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            api_key: options.api_key,
            application_key: options.application_key,
            lost_answers: AtomicU32::new(0),
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

    /// Calls of `route` (e.g. [`CREATE_INCIDENT`]), faulted ones included.
    pub fn call_count(&self, route: &str) -> u64 {
        self.shared.control.call_count(route)
    }

    /// Put exactly these people on call in the team with this handle.
    pub fn set_on_call(&self, handle: &str, on_call: &[&str]) {
        let mut state = self.shared.state();
        for team in state.teams.iter_mut().filter(|t| t.handle == handle) {
            team.on_call = on_call.iter().map(|s| (*s).to_owned()).collect();
        }
    }

    /// Store the next `count` incidents created but answer their creates 504, as a proxy
    /// that gave up on a slow answer after Datadog processed the call.
    pub fn lose_create_answers(&self, count: u32) {
        self.shared.lost_answers.store(count, Ordering::SeqCst);
    }

    /// Close the port and every connection.
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Serve again on the same port.
    pub async fn up(&self) -> io::Result<()> {
        self.server.up().await
    }

    /// All incidents, in creation order.
    pub fn incidents(&self) -> Vec<DdIncident> {
        self.shared.state().incidents.clone()
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&DdState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&DdState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
