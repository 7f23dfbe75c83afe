//! A tiny plugin binary on the runtime's CLI, run by `tests/cli.rs` as a subprocess (not shipped).

use std::process::ExitCode;

use serde::Deserialize;
use teleport_plugin_runtime::cli::{Start, run_cli};
use teleport_plugin_runtime::config::Secret;

#[derive(Debug, Deserialize)]
struct DemoConfig {
    demo: DemoSection,
}

#[derive(Debug, Deserialize)]
struct DemoSection {
    mode: String,
    token: Secret,
}

fn main() -> ExitCode {
    let info = teleport_plugin_runtime::plugin_info!("demo", include_str!("sample.toml"));
    run_cli(info, |start: Start<DemoConfig>| async move {
        let demo = start.config.plugin.demo;
        tracing::debug!(token = ?demo.token, "debug detail");
        match demo.mode.as_str() {
            "ok" => {
                tracing::info!(addr = start.config.teleport.addr(), "demo plugin ran");
                Ok(())
            }
            "fail" => {
                Err(anyhow::anyhow!("connection refused").context("cannot reach the demo API"))
            }
            "panic" => panic!("demo panic"),
            other => anyhow::bail!("unknown mode {other:?}"),
        }
    })
}
