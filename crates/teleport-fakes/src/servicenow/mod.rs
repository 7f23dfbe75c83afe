//! Fake ServiceNow REST API on loopback: the Table API's `incident` (create, update, the
//! listing the health check reads and the lookup by `correlation_id`) and `sys_user`
//! records, and the on-call scheduling API's `whoisoncall`.
//!
//! Only the calls the access-request plugin makes are served, with ServiceNow's shapes: basic
//! auth (401 otherwise), answers wrapped in `{"result": ...}`, errors as
//! `{"error": {"message", "detail"}, "status": "failure"}`, and a 429 with `Retry-After`
//! and ServiceNow's `X-RateLimit-*` headers. Calls are counted under `"<METHOD> <route>"`,
//! e.g. [`CREATE_INCIDENT`].

mod api;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::{Control, WaitTimeout};
use crate::server::LoopbackServer;
use api::Shared;

pub use state::{SnIncident, SnState};

/// The route that creates an incident, as counted.
pub const CREATE_INCIDENT: &str = "POST /api/now/v1/table/incident";
/// The route that updates an incident (work notes, resolution), as counted.
pub const UPDATE_INCIDENT: &str = "PATCH /api/now/v1/table/incident/{sys_id}";
/// The route the health check reads, as counted.
pub const LIST_INCIDENTS: &str = "GET /api/now/table/incident";
/// The route that tells who is on call in a rota, as counted.
pub const WHO_IS_ON_CALL: &str = "GET /api/now/on_call_rota/whoisoncall";
/// The route that reads a user, as counted.
pub const GET_USER: &str = "GET /api/now/table/sys_user/{sys_id}";

/// How to start a [`FakeServiceNow`].
#[derive(Clone, Debug)]
pub struct FakeServiceNowOptions {
    /// Listen address; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The only user name accepted in basic auth. Default `teleport-plugin`.
    pub username: String,
    /// The only password (API token) accepted. Default `servicenow-fake-token`.
    pub api_token: String,
    /// Users: (`sys_id`, `user_name`).
    pub users: Vec<(String, String)>,
    /// Rotas: (rota `sys_id`, `sys_id`s of the users on call).
    pub rotas: Vec<(String, Vec<String>)>,
}

impl Default for FakeServiceNowOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            username: "teleport-plugin".to_owned(),
            api_token: "servicenow-fake-token".to_owned(),
            users: Vec::new(),
            rotas: Vec::new(),
        }
    }
}

impl FakeServiceNowOptions {
    /// Accept these basic-auth credentials.
    pub fn credentials(mut self, username: impl Into<String>, token: impl Into<String>) -> Self {
        self.username = username.into();
        self.api_token = token.into();
        self
    }

    /// Add a user.
    pub fn user(mut self, sys_id: &str, user_name: &str) -> Self {
        self.users.push((sys_id.to_owned(), user_name.to_owned()));
        self
    }

    /// Add a rota with these users (by `sys_id`) on call.
    pub fn rota(mut self, rota_id: &str, on_call: &[&str]) -> Self {
        self.rotas.push((
            rota_id.to_owned(),
            on_call.iter().map(|s| (*s).to_owned()).collect(),
        ));
        self
    }
}

/// A running fake ServiceNow. Dropping it stops the server.
pub struct FakeServiceNow {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl FakeServiceNow {
    /// Start the fake; panics if the address cannot be bound.
    pub async fn start(options: FakeServiceNowOptions) -> Self {
        let listen = options.listen;
        match Self::try_start(options).await {
            Ok(fake) => fake,
            Err(err) => panic!("fake servicenow: cannot listen on {listen}: {err}"),
        }
    }

    /// Start the fake, reporting bind errors.
    pub async fn try_start(options: FakeServiceNowOptions) -> io::Result<Self> {
        let mut state = SnState::default();
        state.users = options.users.into_iter().collect();
        state.rotas = options.rotas.into_iter().collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            control: Arc::new(Control::new()),
            username: options.username,
            api_token: options.api_token,
            lost_answers: AtomicU32::new(0),
        });
        let server = LoopbackServer::start(options.listen, api::router(shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The instance URL (what the plugin's `api_endpoint` holds), without a trailing slash.
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

    /// Put exactly these users (by `sys_id`) on call in rota `rota_id`.
    pub fn set_on_call(&self, rota_id: &str, on_call: &[&str]) {
        self.shared.state().rotas.insert(
            rota_id.to_owned(),
            on_call.iter().map(|s| (*s).to_owned()).collect(),
        );
    }

    /// Store the next `count` incidents created but answer their creates 504, as a proxy
    /// that gave up on a slow instance after it processed the call.
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
    pub fn incidents(&self) -> Vec<SnIncident> {
        self.shared.state().incidents.clone()
    }

    /// Read the recorded state.
    pub fn with_state<T>(&self, read: impl FnOnce(&SnState) -> T) -> T {
        read(&self.shared.state())
    }

    /// Wait until `check` returns `Some`, re-checked after every recorded change.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&SnState) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        self.shared
            .control
            .wait_until(timeout, || check(&self.shared.state()))
            .await
    }
}
