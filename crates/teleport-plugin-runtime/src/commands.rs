//! A plugin's own commands on the shared command line (see [`crate::cli`]): the
//! [`PluginCommands`] a plugin binary may add beside `start`, `configure` and `version`.

use std::future::Future;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};

use crate::cli::{NoExtraArgs, PluginInfo};

/// A plugin's own commands beside `start`, `configure` and `version` (a clap `Subcommand`),
/// and what `configure` does with arguments of its own. Most plugins have none:
/// [`NoCommands`]. Teams has `validate` and `uninstall`, and `configure <dir> --appID ...`
/// writing the app package as Go's does.
pub trait PluginCommands: Subcommand + FromArgMatches + std::fmt::Debug + Send + 'static {
    /// `configure`'s own arguments ([`NoExtraArgs`]: none).
    type ConfigureArgs: Args + FromArgMatches + std::fmt::Debug + Send + 'static;

    /// `configure`'s help line when its arguments do more than print the sample.
    const CONFIGURE_ABOUT: Option<&'static str> = None;

    /// `configure` with its arguments: `None` when they ask for the sample config only
    /// (printed by the runtime), else what the plugin did.
    fn configure(args: Self::ConfigureArgs, info: &PluginInfo) -> Option<anyhow::Result<()>>;

    /// Runs the command (on a multi-threaded tokio runtime; no logging is set up). An error
    /// is printed as one `error:` line and exits 1.
    fn run(self, info: PluginInfo) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// No commands of the plugin's own; `configure` prints the sample.
#[derive(Debug, Clone, Copy)]
pub enum NoCommands {}

impl FromArgMatches for NoCommands {
    fn from_arg_matches(_: &ArgMatches) -> Result<Self, clap::Error> {
        Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
    }

    fn update_from_arg_matches(&mut self, _: &ArgMatches) -> Result<(), clap::Error> {
        match *self {}
    }
}

impl Subcommand for NoCommands {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn has_subcommand(_: &str) -> bool {
        false
    }
}

impl PluginCommands for NoCommands {
    type ConfigureArgs = NoExtraArgs;

    fn configure(_: NoExtraArgs, _: &PluginInfo) -> Option<anyhow::Result<()>> {
        None
    }

    async fn run(self, _: PluginInfo) -> anyhow::Result<()> {
        match self {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::cli::{Command, parse_with};

    const INFO: PluginInfo = PluginInfo {
        name: "msteams",
        version: "1.2.3",
        git_rev: None,
        sample_config: "[msapi]\n",
    };

    #[derive(Debug, Args)]
    struct PackageArgs {
        /// Where to write the package.
        dir: Option<PathBuf>,
        #[arg(long = "appID", requires = "dir")]
        app_id: Option<String>,
    }

    #[derive(Debug, Subcommand)]
    enum OwnCommands {
        /// Check a recipient.
        Validate { recipient: String },
    }

    impl PluginCommands for OwnCommands {
        type ConfigureArgs = PackageArgs;

        fn configure(args: PackageArgs, _: &PluginInfo) -> Option<anyhow::Result<()>> {
            args.dir.map(|_| Ok(()))
        }

        async fn run(self, _: PluginInfo) -> anyhow::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plugin_commands_and_configure_arguments() {
        let parsed = parse_with::<NoExtraArgs, OwnCommands, _, _>(["x", "validate", "bob"], &INFO);
        let Ok(Command::Extra(OwnCommands::Validate { recipient })) = parsed else {
            panic!("expected validate: {parsed:?}")
        };
        assert_eq!(recipient, "bob");
        let parsed = parse_with::<NoExtraArgs, OwnCommands, _, _>(
            ["x", "configure", "/tmp/out", "--appID", "a"],
            &INFO,
        );
        let Ok(Command::Configure(args)) = parsed else {
            panic!("expected configure: {parsed:?}")
        };
        assert_eq!(args.dir, Some(PathBuf::from("/tmp/out")));
        assert_eq!(args.app_id.as_deref(), Some("a"));
        // Without arguments configure still prints the sample; without plugin commands it
        // takes none and there is no validate.
        assert!(matches!(
            parse_with::<NoExtraArgs, OwnCommands, _, _>(["x", "configure"], &INFO),
            Ok(Command::Configure(PackageArgs { dir: None, .. }))
        ));
        let plain = |args: &[&str]| parse_with::<NoExtraArgs, NoCommands, _, _>(args, &INFO);
        assert!(plain(&["x", "configure", "/tmp/out"]).is_err());
        assert!(plain(&["x", "validate", "bob"]).is_err());
        assert!(matches!(
            plain(&["x", "configure"]),
            Ok(Command::Configure(_))
        ));
    }
}
