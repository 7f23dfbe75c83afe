//! An in-process Teleport auth server for tests, benchmarks and the demo.
//!
//! [`Testkit`] serves Teleport's real gRPC wire (`proto.AuthService` and
//! `teleport.users.v1.UsersService`, generated in `teleport_client::wire`) over mutual TLS on
//! 127.0.0.1, with its own host and user CAs, and implements the access-request methods with
//! Teleport's semantics: watch events, listing, reviews with thresholds, state changes,
//! plugin data with compare-and-swap, users and roles. An optional proxy listener routes
//! connections by the ClientHello's ALPN (`teleport-auth@<hex cluster>.teleport.cluster.local`)
//! without terminating TLS, like Teleport's proxy in TLS-routing mode; an optional L7
//! load-balancer front terminates TLS and passes only the proxy's connection upgrade
//! (`/webapi/connectionupgrade`) on; an optional reverse-tunnel listener speaks SSH (host
//! certificate from the host CA, user certificates from the user CA) and splices
//! `teleport-transport` channels to auth; [`ConnectProxy`] is an HTTP `CONNECT` proxy.
//!
//! ```no_run
//! # async fn demo() -> teleport_testkit::Result<()> {
//! use std::time::Duration;
//! use teleport_testkit::{IdentityRequest, Testkit};
//!
//! let kit = Testkit::builder().cluster_name("example.com").start().await?;
//! let identity = kit.issue_identity(&IdentityRequest::new("access-plugin"))?;
//! identity.write_identity_file(std::path::Path::new("/tmp/identity"))?;
//! // ... start the plugin against kit.auth_addr() ...
//! kit.wait_for_watchers(1, Duration::from_secs(10)).await?;
//! let request = kit.create_request("alice", &["editor"], "deploy hotfix")?;
//! let id = &request.metadata.as_ref().unwrap().name;
//! kit.wait_for_plugin_data(id, "slack", "messages", Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! Deliberate simplifications (documented where they apply): role `where` predicates and
//! threshold filters are not evaluated, every authenticated user may read requests and
//! plugin data, and only the `access_request` and `access_monitoring_rule` kinds can be
//! watched. Access monitoring rules and access lists are served (`governance.rs`), with a
//! switch per service that plays an older cluster or a role that may not read them. Nodes
//! are served by `ListResources` with the RBAC plugins meet (`resources.rs`).

mod ca;
mod client;
mod client_hello;
mod connect_proxy;
mod controls;
mod der;
mod directory;
mod error;
mod governance;
mod identity;
mod keys;
mod l7;
mod method;
mod new_request;
mod plugin_data;
mod proxy;
mod requests;
mod resources;
mod review;
mod server;
mod service;
mod shared;
mod ssh;
mod ssh_rsa;
mod state;
mod testkit;
mod timestamps;
mod tunnel;
mod watch;
mod web;

pub use ca::{AUTH_SERVER_NAME, CaKind, CertAuthority};
pub use connect_proxy::ConnectProxy;
pub use controls::Verdict;
pub use directory::{role_resource, user_resource};
pub use error::{Error, Result};
pub use governance::{
    Availability, KIND_ACCESS_MONITORING_RULE, access_list, access_monitoring_rule,
};
pub use identity::{Identity, IdentityRequest, TlsFiles};
pub use keys::KeyKind;
pub use l7::L7Stats;
pub use method::Method;
pub use new_request::NewRequest;
pub use proxy::{AUTH_ALPN_PREFIX, AUTH_ALPN_SUFFIX, auth_alpn};
pub use resources::{node_resource, user_group_resource};
pub use ssh_rsa::SshHostCa;
pub use state::{KIND_ACCESS_LIST, KIND_ACCESS_REQUEST, Resolution, StateView};
pub use testkit::{DEFAULT_SERVER_VERSION, DEFAULT_WATCH_BUFFER, Testkit, TestkitBuilder};
pub use timestamps::{GO_ZERO_SECONDS, is_unset};
pub use tunnel::{REMOTE_AUTH_SERVER, TRANSPORT_CHANNEL, TRANSPORT_DIAL_REQUEST};
pub use watch::Delivery;
pub use web::REVERSE_TUNNEL_ALPN;

/// The generated wire types the testkit speaks (re-exported from `teleport-client`).
pub use teleport_client::wire;
