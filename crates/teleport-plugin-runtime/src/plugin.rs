//! The one shape of an integration: what a plugin crate tells the runtime about itself, and
//! its one entry point.
//!
//! A plugin's `main.rs` is `cli::main::<TheirPlugin>()`; its `lib.rs` implements [`Plugin`]:
//! the name (plugin-data namespace and `teleport-<name>` binary), the sample config, how the
//! TOML is validated into a `Config`, and `run(config, stop)`, which runs until `stop` is
//! cancelled. Tests call the same `run` with their own stop token.

use std::future::Future;

use clap::{Args, FromArgMatches};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::config::Loaded;

/// An integration built on the runtime.
pub trait Plugin: 'static {
    /// The short name: `slack`, `pagerduty`, ... — the plugin-data namespace, the binary
    /// `teleport-<name>` and the default config path `/etc/teleport-<name>.toml`.
    const NAME: &'static str;
    /// The example config printed by `configure` (the crate's `src/sample.toml`).
    const SAMPLE_CONFIG: &'static str;
    /// The plugin's own TOML sections as read (the common ones are read by the runtime).
    type File: DeserializeOwned + Send + 'static;
    /// The plugin's own `start` flags ([`crate::cli::NoExtraArgs`] for none).
    type Args: Args + FromArgMatches + Send + 'static;
    /// The validated config `run` works from.
    type Config: Send + 'static;

    /// Validates what was read into the config; errors name the file and key.
    fn config(loaded: Loaded<Self::File>, args: Self::Args) -> anyhow::Result<Self::Config>;

    /// Runs the plugin until `stop` is cancelled (Ok, after a graceful shutdown) or a fatal
    /// error.
    fn run(
        config: Self::Config,
        stop: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}
