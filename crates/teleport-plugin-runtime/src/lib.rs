//! The shared plugin runtime: what every Teleport access-request plugin binary is built on.

pub mod app;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod format;
pub mod http;
pub mod logging;
pub mod messaging;
pub mod metrics;
pub mod ops;
pub mod record;
pub mod reminders;
pub mod retry;
pub mod routing;
pub mod state;
pub mod tls;
pub mod watcher;
