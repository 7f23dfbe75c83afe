//! The shared plugin runtime: what every Teleport access-request plugin binary is built on.

pub mod cli;
pub mod config;
pub mod http;
pub mod logging;
pub mod retry;
pub mod tls;
