//! The shared plugin runtime: what every Teleport access-request plugin binary is built on.
//!
//! A plugin crate implements [`plugin::Plugin`] (its name, config and `run`) and either a
//! [`messaging::MessagingBot`] or its own [`dispatch::RequestHandler`] over
//! [`record::LeasedRecords`]; everything else — the CLI, config loading, the Teleport
//! connection, the health check, the watch, dispatch, leases, the send policy, ops
//! endpoints — lives here.

pub mod allocator;
pub mod app;
pub mod approval;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod format;
pub mod go_json;
pub mod health;
pub mod http;
pub mod inbound;
pub mod incident;
pub mod json_api;
pub mod logging;
pub mod messaging;
pub mod metrics;
pub mod ops;
pub mod plugin;
pub mod proxy_connector;
pub mod record;
pub mod reminders;
pub mod retry;
pub mod routing;
pub mod service_error;
pub mod signals;
pub mod teleport;
pub mod tls;
pub mod tracker;
pub mod watcher;
