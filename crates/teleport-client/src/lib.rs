//! Teleport's access-request API over gRPC, for plugins: credentials, dialing,
//! ping, watching requests, plugin data with compare-and-swap, reviews.
//! No plugin logic lives here.

pub mod backoff;
mod catch_up;
mod client;
pub mod convert;
pub mod credentials;
mod dial;
pub mod error;
mod governance;
mod identity_store;
pub mod model;
mod on_behalf;
mod plugin_data;
mod resources;
mod watch;
pub mod wire;

pub use catch_up::AccessRequestPages;
pub use client::{ACCESS_LIST_KIND, ACCESS_REQUEST_KIND, ClientConfig, TeleportClient};
pub use credentials::{CredentialsSource, Identity};
pub use dial::{
    CONN_UPGRADE_ENV, DialEnv, DialMode, DialPolicy, TELEPORT_SERVER_NAME, auth_alpn_protocol,
};
pub use error::{ClientError, CredentialsError};
pub use governance::{ACCESS_MONITORING_RULE_KIND, RULE_PAGE_SIZE};
pub use identity_store::expiry_warning_window;
pub use model::*;
pub use resources::{ListedResource, any_name_matcher, list_type};
pub use watch::{INIT_TIMEOUT, WatchOptions, WatchStream};
#[cfg(test)]
mod golden_tests;
