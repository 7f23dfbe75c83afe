//! The Teams plugin's own commands, as Go's: `configure <dir> --appID … --appSecret …
//! --tenantID …` (the app package, see [`crate::package`]), `validate <recipient>` (the app
//! is in the catalog, the recipient resolves, and two cards reach them) and `uninstall`
//! (the app removed for every configured person).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use teleport_client::AccessRequest;
use teleport_plugin_runtime::cli::{PluginCommands, PluginInfo};
use teleport_plugin_runtime::messaging::{RequestView, Status};

use crate::bot::TeamsBot;
use crate::config;
use crate::package::{PackageParams, write_package};
use crate::recipient::{RecipientKind, kind_of};
use crate::render;

/// `configure`'s arguments: none prints the sample config; a directory writes the package.
#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// A new directory for the config, the Teams app package (app.zip) and the role.
    pub dir: Option<PathBuf>,
    /// The Entra ID application (client) ID.
    #[arg(long = "appID", requires = "dir")]
    pub app_id: Option<String>,
    /// The application's client secret (written into the config).
    #[arg(long = "appSecret", requires = "dir")]
    pub app_secret: Option<String>,
    /// The Entra ID tenant ID.
    #[arg(long = "tenantID", requires = "dir")]
    pub tenant_id: Option<String>,
}

/// The `-c/--config` of `validate` and `uninstall`.
#[derive(Debug, Args)]
pub struct ConfigFile {
    /// The TOML config file.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/teleport-msteams.toml"
    )]
    pub config: PathBuf,
}

/// `validate` and `uninstall`.
#[derive(Debug, Subcommand)]
pub enum MsTeamsCommands {
    /// Check the app and one recipient, and send them a test card and a sample request.
    Validate {
        /// The config file.
        #[command(flatten)]
        file: ConfigFile,
        /// An e-mail address, an Entra ID user ID or a channel link.
        recipient: String,
    },
    /// Remove the app for every person in role_to_recipients.
    Uninstall {
        /// The config file.
        #[command(flatten)]
        file: ConfigFile,
    },
}

impl PluginCommands for MsTeamsCommands {
    type ConfigureArgs = ConfigureArgs;

    const CONFIGURE_ABOUT: Option<&'static str> =
        Some("Print an example config, or write the config, app.zip and the role into <DIR>");

    fn configure(args: ConfigureArgs, _: &PluginInfo) -> Option<anyhow::Result<()>> {
        let dir = args.dir?;
        Some(configure(dir, args.app_id, args.app_secret, args.tenant_id))
    }

    async fn run(self, _: PluginInfo) -> anyhow::Result<()> {
        match self {
            Self::Validate { file, recipient } => validate(&file.config, &recipient).await,
            Self::Uninstall { file } => uninstall(&file.config).await,
        }
    }
}

fn configure(
    dir: PathBuf,
    app_id: Option<String>,
    app_secret: Option<String>,
    tenant_id: Option<String>,
) -> anyhow::Result<()> {
    let need = |value: Option<String>, flag: &str| {
        value
            .filter(|v| !v.trim().is_empty())
            .with_context(|| format!("configure <dir> needs {flag}"))
    };
    let params = PackageParams {
        app_id: need(app_id, "--appID")?,
        app_secret: need(app_secret, "--appSecret")?,
        tenant_id: need(tenant_id, "--tenantID")?,
        teams_app_id: uuid::Uuid::new_v4().to_string(),
    };
    let written = write_package(&dir, &params)?;
    println!("[1] Created target directory: {}", dir.display());
    for (step, path) in written.iter().enumerate() {
        println!("[{}] Wrote {}", step + 2, path.display());
    }
    println!();
    println!("TeamsAppID: {}", params.teams_app_id);
    println!();
    println!("Upload app.zip to Teams (Apps → Manage your apps → Upload an app), fill in");
    println!("[teleport] and [role_to_recipients] in teleport-msteams.toml, and create the");
    println!("role and user with `tctl create -f teleport-msteams-role.yaml`.");
    Ok(())
}

fn bot_of(path: &PathBuf) -> anyhow::Result<(config::Config, TeamsBot)> {
    let config = config::load(path)?;
    let api = crate::api(&config)?;
    let bot = TeamsBot::new(api, config.msapi.teams_app_id.clone(), None);
    Ok((config, bot))
}

async fn validate(path: &PathBuf, recipient: &str) -> anyhow::Result<()> {
    let (config, bot) = bot_of(path)?;
    let app = bot.teams_app().await?;
    println!(
        "App: {} (catalog ID {}, Teams app ID {})",
        app.display_name, app.id, config.msapi.teams_app_id
    );
    let resolved = bot
        .resolve(recipient)
        .await?
        .with_context(|| format!("recipient {recipient} not found"))?;
    println!(
        "Recipient: {} ({})",
        resolved.id,
        if resolved.channel { "channel" } else { "user" }
    );
    println!("Installation ID: {}", resolved.installation);
    println!("Chat ID: {}", resolved.conversation);
    println!("Chat URL: {}", resolved.web_url);
    let hello = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": render::CARD_VERSION,
        "body": [{ "type": "TextBlock", "text": "Hello, world!", "size": "large" }],
    });
    let sent = bot
        .api()
        .post_card(&resolved.conversation, &resolved.installation, &hello)
        .await?;
    println!("Sent a test card: {sent}");
    let sample = RequestView {
        request: AccessRequest {
            id: "00000000-0000-0000-0000-000000000000".into(),
            user: "example@goteleport.com".into(),
            roles: vec!["editor".into()],
            request_reason: "Example access request (validate)".into(),
            ..AccessRequest::default()
        },
        cluster: "example.teleport.sh".into(),
        web_base: None,
        status: Status::Pending,
        resolve_reason: String::new(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
    };
    let sent = bot
        .api()
        .post_card(
            &resolved.conversation,
            &resolved.installation,
            &render::request_card(&sample),
        )
        .await?;
    println!("Sent a sample access request card: {sent}");
    println!("Check Teams: both cards should be in the chat.");
    Ok(())
}

async fn uninstall(path: &PathBuf) -> anyhow::Result<()> {
    let (config, bot) = bot_of(path)?;
    let app = bot.teams_app().await?.clone();
    let mut seen: Vec<String> = Vec::new();
    let mut failures = 0;
    for (_, recipients) in config.role_to_recipients.iter() {
        for raw in recipients {
            if seen.contains(raw) {
                continue;
            }
            seen.push(raw.clone());
            let user = match kind_of(raw) {
                RecipientKind::Channel(channel) => {
                    println!(
                        "{raw}: a channel; remove the app from team {} in Teams",
                        channel.group_id
                    );
                    continue;
                }
                RecipientKind::Email(email) => bot.api().user_by_email(&email).await,
                RecipientKind::UserId(id) => bot.api().user_by_id(&id).await,
            };
            let outcome = match user {
                Ok(user) => match bot.api().app_for_user(&app, &user.id).await {
                    Ok(installed) => bot
                        .api()
                        .uninstall_for_user(&user.id, &installed.id)
                        .await
                        .map(|()| "removed"),
                    Err(error) if error.is_not_found() => Ok("not installed"),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match outcome {
                Ok(what) => println!("{raw}: {what}"),
                Err(error) => {
                    failures += 1;
                    eprintln!("{raw}: {error}");
                }
            }
        }
    }
    anyhow::ensure!(
        failures == 0,
        "the app could not be removed for {failures} recipient(s)"
    );
    Ok(())
}
