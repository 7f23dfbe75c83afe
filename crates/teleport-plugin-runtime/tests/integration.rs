//! The crate's integration tests, one module per file, linked as one test binary:
//! one link of the crate and its dependencies instead of one per file keeps the
//! build's time and disk small. Files that change process-wide state stay
//! binaries of their own (`[[test]]` in Cargo.toml).

mod support;

mod cli;
mod config;
mod dispatch_memory;
mod http_body;
mod inbound_decision;
mod inbound_listener;
mod inbound_poll;
mod messaging;
mod ops_bounds;
mod reminders;
mod retry;
mod routed_messaging;
mod routing;
mod tls;
mod transport_errors;
