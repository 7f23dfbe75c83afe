//! A tiny plugin binary on the runtime's CLI, run by `tests/cli.rs` as a subprocess (not shipped).

use std::process::ExitCode;

use serde::Deserialize;
use teleport_plugin_runtime::cli::NoExtraArgs;
use teleport_plugin_runtime::config::{Loaded, Secret};
use teleport_plugin_runtime::plugin::Plugin;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Deserialize)]
struct DemoFile {
    demo: DemoSection,
}

#[derive(Debug, Deserialize)]
struct DemoSection {
    mode: String,
    token: Secret,
}

struct Demo;

impl Plugin for Demo {
    const NAME: &'static str = "demo";
    const SAMPLE_CONFIG: &'static str = include_str!("sample.toml");
    type File = DemoFile;
    type Args = NoExtraArgs;
    type Config = Loaded<DemoFile>;

    fn config(loaded: Loaded<DemoFile>, _args: NoExtraArgs) -> anyhow::Result<Self::Config> {
        Ok(loaded)
    }

    async fn run(config: Self::Config, _stop: CancellationToken) -> anyhow::Result<()> {
        let demo = &config.plugin.demo;
        tracing::debug!(token = ?demo.token, "debug detail");
        match demo.mode.as_str() {
            "ok" => {
                tracing::info!(addr = config.teleport.addr(), "demo plugin ran");
                Ok(())
            }
            "fail" => {
                Err(anyhow::anyhow!("connection refused").context("cannot reach the demo API"))
            }
            "panic" => panic!("demo panic"),
            other => anyhow::bail!("unknown mode {other:?}"),
        }
    }
}

fn main() -> ExitCode {
    teleport_plugin_runtime::cli::main::<Demo>()
}
