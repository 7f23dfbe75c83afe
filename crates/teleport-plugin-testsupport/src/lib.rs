//! What the plugin test suites share (dev-only, never published): an identity file from
//! the testkit, a plugin run in-process or as its binary, waiting for a condition, a port
//! or an HTTP answer, request fixtures, the Go plugins' sample configs, and the
//! [`compliance`] suite every plugin binary runs.
//!
//! Each suite keeps its own `Env` (its fakes, its config text); only the logic that is
//! the same in every suite lives here.

pub mod compliance;
mod fixtures;
mod go_compat;
mod identity;
mod in_process;
mod process;
mod wait;

pub use fixtures::{
    access_request, lapsed_lease, plugin_data, request_id, state_and_reviews, unix_millis,
};
pub use go_compat::{go_config, go_configs_dir};
pub use identity::{client_of, identity_dir, write_identity};
pub use in_process::{InProcessPlugin, startup_error};
pub use process::{cli_stdout, log_file, run_to_exit, start_plugin, terminate};
pub use wait::{eventually, free_port, http_get, wait_auto_approval, wait_plugin_data};
