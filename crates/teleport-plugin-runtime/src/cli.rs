//! The command line every plugin binary shares: `start`, `configure`, `version`, and a
//! plugin's own commands where it has them ([`PluginCommands`], Teams' `validate`).
//!
//! A plugin's `main` is one call, [`main`], with its [`Plugin`] type:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     teleport_plugin_runtime::cli::main::<teleport_slack::SlackPlugin>()
//! }
//! ```

use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::de::DeserializeOwned;

pub use crate::commands::{NoCommands, PluginCommands};
use crate::config::{Loaded, LogOutput, load_plugin_config};
use crate::logging::init_logging;
use crate::plugin::Plugin;
use crate::signals::stop_on_signals;

/// How long tasks still running after the plugin's start future returned may take to stop.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a plugin binary tells the runtime about itself. Build it with [`crate::plugin_info!`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginInfo {
    /// The plugin's short name: `slack`, `mattermost`, `email`, ...
    pub name: &'static str,
    /// The version, normally the binary crate's `CARGO_PKG_VERSION`.
    pub version: &'static str,
    /// The source revision, normally `option_env!("TELEPORT_PLUGIN_GIT_REV")` set at build time.
    pub git_rev: Option<&'static str>,
    /// The example config printed by `configure`.
    pub sample_config: &'static str,
}

impl PluginInfo {
    /// `teleport-<name>`.
    pub fn binary_name(&self) -> String {
        format!("teleport-{}", self.name)
    }

    /// `/etc/teleport-<name>.toml`, the Go plugins' default.
    pub fn default_config_path(&self) -> PathBuf {
        PathBuf::from(format!("/etc/teleport-{}.toml", self.name))
    }

    /// `teleport-<name> v<version> git:<rev>`, without the `git:` part when the rev is unknown.
    pub fn version_line(&self) -> String {
        match self.git_rev.filter(|rev| !rev.is_empty()) {
            Some(rev) => format!("{} v{} git:{rev}", self.binary_name(), self.version),
            None => format!("{} v{}", self.binary_name(), self.version),
        }
    }

    /// `teleport-<name>/<version>`, for the `User-Agent` header.
    pub fn user_agent(&self) -> String {
        format!("{}/{}", self.binary_name(), self.version)
    }
}

/// Builds a [`PluginInfo`] with the calling crate's version and the build's git revision
/// (`TELEPORT_PLUGIN_GIT_REV` in the environment at compile time).
///
/// `plugin_info!("slack", include_str!("../teleport-slack.toml"))`
#[macro_export]
macro_rules! plugin_info {
    ($name:expr, $sample_config:expr $(,)?) => {
        $crate::cli::PluginInfo {
            name: $name,
            version: env!("CARGO_PKG_VERSION"),
            git_rev: option_env!("TELEPORT_PLUGIN_GIT_REV"),
            sample_config: $sample_config,
        }
    };
}

/// `start` without plugin-specific flags.
#[derive(Debug, Clone, Default, Args)]
pub struct NoExtraArgs {}

/// What the plugin's start function gets.
#[derive(Debug)]
#[non_exhaustive]
pub struct Start<P, A = NoExtraArgs> {
    /// The loaded config; its warnings have already been logged.
    pub config: Loaded<P>,
    /// `--debug` was given.
    pub debug: bool,
    /// The plugin's own `start` flags (e.g. Jira's `--insecure-no-tls`).
    pub args: A,
    /// The binary's identity.
    pub info: PluginInfo,
}

#[derive(Debug, Parser)]
#[command(subcommand_required = true, arg_required_else_help = true)]
struct Cli<A: Args, X: PluginCommands> {
    #[command(subcommand)]
    command: Command<A, X>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command<A: Args, X: PluginCommands = NoCommands> {
    /// Start the plugin.
    Start(StartArgs<A>),
    /// Print an example configuration file.
    Configure(X::ConfigureArgs),
    /// Print the version.
    Version,
    #[command(flatten)]
    Extra(X),
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs<A: Args> {
    /// The TOML config file.
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Log at debug level, whatever the config says.
    #[arg(short, long)]
    debug: bool,
    #[command(flatten)]
    extra: A,
}

/// The `main` of plugin `P`: parses the process's arguments and runs the command (see
/// [`run_cli_from`]); `start` validates the config with [`Plugin::config`] and runs
/// [`Plugin::run`] until SIGTERM or SIGINT.
pub fn main<P: Plugin>() -> ExitCode {
    main_with_commands::<P, NoCommands>()
}

/// [`main`] for a plugin with commands of its own ([`PluginCommands`]).
pub fn main_with_commands<P: Plugin, X: PluginCommands>() -> ExitCode {
    let info = PluginInfo {
        name: P::NAME,
        version: env!("CARGO_PKG_VERSION"),
        git_rev: option_env!("TELEPORT_PLUGIN_GIT_REV"),
        sample_config: P::SAMPLE_CONFIG,
    };
    run_cli_with_commands::<_, _, _, _, X, _, _>(
        std::env::args_os(),
        info,
        |start: Start<P::File, P::Args>| async move {
            let config = P::config(start.config, start.args)?;
            P::run(config, stop_on_signals()).await
        },
    )
}

/// Parses the process's arguments and runs the command; see [`run_cli_from`].
pub fn run_cli<P, F, Fut>(info: PluginInfo, start: F) -> ExitCode
where
    P: DeserializeOwned + Send + 'static,
    F: FnOnce(Start<P>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    run_cli_from(std::env::args_os(), info, start)
}

/// [`run_cli`] for a plugin with its own `start` flags (a clap `Args` type).
pub fn run_cli_with_args<P, A, F, Fut>(info: PluginInfo, start: F) -> ExitCode
where
    P: DeserializeOwned + Send + 'static,
    A: Args + FromArgMatches + Send + 'static,
    F: FnOnce(Start<P, A>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    run_cli_from(std::env::args_os(), info, start)
}

/// Parses `args` (the first is the program name) and runs the command:
/// - `configure` prints the sample config; `version` prints [`PluginInfo::version_line`];
/// - `start [-c FILE] [-d]` loads the config (default `/etc/teleport-<name>.toml`), sets up
///   logging, logs the config warnings, and runs `start` on a multi-threaded tokio runtime.
///
/// Exit code 0 when the command succeeds (for `start`: the future returned `Ok`, a clean
/// shutdown); 1 with a single `error: ...` line on stderr for a bad command line, a bad config,
/// or an error or panic in `start` (the error's whole chain on one line). Signals are the start
/// function's business (see the `app` module).
pub fn run_cli_from<I, T, P, A, F, Fut>(args: I, info: PluginInfo, start: F) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
    P: DeserializeOwned + Send + 'static,
    A: Args + FromArgMatches + Send + 'static,
    F: FnOnce(Start<P, A>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    run_cli_with_commands::<I, T, P, A, NoCommands, F, Fut>(args, info, start)
}

/// [`run_cli_from`] with the plugin's own commands `X`.
pub fn run_cli_with_commands<I, T, P, A, X, F, Fut>(args: I, info: PluginInfo, start: F) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
    P: DeserializeOwned + Send + 'static,
    A: Args + FromArgMatches + Send + 'static,
    X: PluginCommands,
    F: FnOnce(Start<P, A>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let command = match parse_with::<A, X, _, _>(args, &info) {
        Ok(command) => command,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match command {
        Command::Configure(args) => match X::configure(args, &info) {
            None => print_stdout(info.sample_config),
            Some(outcome) => exit_with(outcome),
        },
        Command::Version => print_stdout(&format!("{}\n", info.version_line())),
        Command::Extra(command) => exit_with(
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))
                .and_then(|runtime| runtime.block_on(command.run(info))),
        ),
        Command::Start(args) => match run_start(info, args, start) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

/// 0 for `Ok`; for an error one `error:` line with its whole chain, and 1.
fn exit_with(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
fn parse<A, I, T>(args: I, info: &PluginInfo) -> Result<Command<A>, clap::Error>
where
    A: Args + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    parse_with::<A, NoCommands, I, T>(args, info)
}

pub(crate) fn parse_with<A, X, I, T>(
    args: I,
    info: &PluginInfo,
) -> Result<Command<A, X>, clap::Error>
where
    A: Args + FromArgMatches,
    X: PluginCommands,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let binary = info.binary_name();
    let default_config = info.default_config_path().display().to_string();
    let mut command = Cli::<A, X>::command()
        .name(binary.clone())
        .bin_name(binary)
        .about(format!("Teleport access request plugin for {}", info.name))
        .mut_subcommand("start", |start| {
            start.mut_arg("config", |arg| {
                arg.default_value(default_config).required(false)
            })
        });
    if let Some(about) = X::CONFIGURE_ABOUT {
        command = command.mut_subcommand("configure", |configure| configure.about(about));
    }
    let matches = command.try_get_matches_from_mut(args)?;
    Ok(Cli::<A, X>::from_arg_matches(&matches)
        .map_err(|err| err.format(&mut command))?
        .command)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth reporting.
fn print_stdout(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `start`; the error is the one line to print after `error: `.
fn run_start<P, A, F, Fut>(info: PluginInfo, args: StartArgs<A>, start: F) -> Result<(), String>
where
    P: DeserializeOwned + Send + 'static,
    A: Args + Send + 'static,
    F: FnOnce(Start<P, A>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let config = load_plugin_config::<P>(&args.config).map_err(|err| err.to_string())?;
    init_logging(&config.log, args.debug).map_err(|err| err.to_string())?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // The one fatal line goes to stderr in any case; log it too when the log is elsewhere.
    let log_elsewhere = config.log.output != LogOutput::Stderr;
    tracing::info!(
        version = info.version,
        git_rev = info.git_rev.unwrap_or("unknown"),
        config = %args.config.display(),
        "Starting {}",
        info.binary_name()
    );

    // Before the runtime's threads exist, so that they share the capped arenas.
    crate::allocator::tune();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?;
    let outcome = runtime.block_on(async move {
        let future = start(Start {
            config,
            debug: args.debug,
            args: args.extra,
            info,
        });
        // Spawned so that a panic in the plugin becomes an error here instead of unwinding
        // through the CLI.
        tokio::spawn(future).await
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);

    let message = match outcome {
        Ok(Ok(())) => {
            tracing::info!("Successfully shut down");
            return Ok(());
        }
        Ok(Err(err)) => format!("{err:#}"),
        Err(join) => match join.try_into_panic() {
            Ok(panic) => format!("the plugin panicked: {}", panic_message(panic.as_ref())),
            Err(_) => "the plugin task was cancelled".to_owned(),
        },
    };
    if log_elsewhere {
        tracing::error!(error = %message, "Terminating with fatal error");
    }
    Err(message)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: PluginInfo = PluginInfo {
        name: "slack",
        version: "1.2.3",
        git_rev: Some("v1.2.3-4-gabcdef"),
        sample_config: "[slack]\n",
    };

    #[test]
    fn version_line_with_and_without_rev() {
        assert_eq!(
            INFO.version_line(),
            "teleport-slack v1.2.3 git:v1.2.3-4-gabcdef"
        );
        let unknown = PluginInfo {
            git_rev: None,
            ..INFO
        };
        assert_eq!(unknown.version_line(), "teleport-slack v1.2.3");
        let empty = PluginInfo {
            git_rev: Some(""),
            ..INFO
        };
        assert_eq!(empty.version_line(), "teleport-slack v1.2.3");
        assert_eq!(INFO.user_agent(), "teleport-slack/1.2.3");
        assert_eq!(
            INFO.default_config_path(),
            PathBuf::from("/etc/teleport-slack.toml")
        );
    }

    #[test]
    fn start_defaults_and_flags() {
        let Command::Start(args) =
            parse::<NoExtraArgs, _, _>(["teleport-slack", "start"], &INFO).unwrap()
        else {
            panic!("expected start")
        };
        assert_eq!(args.config, PathBuf::from("/etc/teleport-slack.toml"));
        assert!(!args.debug);

        let Command::Start(args) =
            parse::<NoExtraArgs, _, _>(["x", "start", "-c", "/tmp/a.toml", "-d"], &INFO).unwrap()
        else {
            panic!("expected start")
        };
        assert_eq!(args.config, PathBuf::from("/tmp/a.toml"));
        assert!(args.debug);

        let Command::Start(args) =
            parse::<NoExtraArgs, _, _>(["x", "start", "--config=/tmp/b.toml", "--debug"], &INFO)
                .unwrap()
        else {
            panic!("expected start")
        };
        assert_eq!(args.config, PathBuf::from("/tmp/b.toml"));
        assert!(args.debug);
    }

    #[derive(Debug, Args)]
    struct JiraArgs {
        /// Serve the webhook over plain HTTP.
        #[arg(long)]
        insecure_no_tls: bool,
    }

    #[test]
    fn plugin_specific_start_flags() {
        let Command::Start(args) =
            parse::<JiraArgs, _, _>(["x", "start", "--insecure-no-tls"], &INFO).unwrap()
        else {
            panic!("expected start")
        };
        assert!(args.extra.insecure_no_tls);
        assert!(parse::<NoExtraArgs, _, _>(["x", "start", "--insecure-no-tls"], &INFO).is_err());
    }

    #[test]
    fn help_names_the_binary_and_default_path() {
        let err = parse::<NoExtraArgs, _, _>(["x", "start", "--help"], &INFO).unwrap_err();
        assert!(!err.use_stderr());
        let help = err.render().to_string();
        assert!(help.contains("teleport-slack start"), "{help}");
        assert!(
            help.contains("[default: /etc/teleport-slack.toml]"),
            "{help}"
        );
    }
}
