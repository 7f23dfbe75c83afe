//! Running a messaging plugin: its bot wired into the shared [`MessagingHandler`] and the
//! process lifetime of [`crate::app::run`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::app::{self, Companions, PluginContext, RuntimeConfig};
use crate::config::RoleToRecipients;
use crate::health::HealthCheck;
use crate::messaging::bot::MessagingBot;
use crate::messaging::handler::{MessagingHandler, MessagingOptions};
use crate::reminders::ReminderJob;
use crate::service_error::ServiceError;

/// What a messaging plugin tells [`run_messaging`] about itself.
#[derive(Clone, Debug)]
pub struct MessagingPlugin {
    /// The plugin-data namespace (`slack`, `mattermost`, `email`).
    pub name: &'static str,
    /// Who gets which requests.
    pub role_to_recipients: RoleToRecipients,
    /// DM / mail the requester every outcome.
    pub notify_requester: bool,
    /// Send the request to the requester too (see [`MessagingOptions`]).
    pub requester_sees_request: bool,
}

/// Runs a messaging plugin until `stop` is cancelled: connects to Teleport, checks the bot's
/// service (its [`HealthCheck`]), follows the access monitoring rules that route this
/// plugin's requests, relays requests through the shared [`MessagingHandler`], and, for a
/// bot that sends them, runs the access-list review reminders.
pub async fn run_messaging<B: MessagingBot>(
    runtime: RuntimeConfig,
    plugin: MessagingPlugin,
    bot: B,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let none = |_: &PluginContext| std::future::ready(Ok(Companions::new()));
    run_messaging_with_companions(runtime, plugin, bot, none, stop).await
}

/// [`run_messaging`] with companion tasks beside the watch (Slack's Socket Mode client for
/// its review buttons), started once the bot's health check passed; see
/// [`app::run_with_companions`].
pub async fn run_messaging_with_companions<B, C, Fut>(
    mut runtime: RuntimeConfig,
    plugin: MessagingPlugin,
    bot: B,
    start_companions: C,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    B: MessagingBot,
    C: FnOnce(&PluginContext) -> Fut,
    Fut: Future<Output = anyhow::Result<Companions>>,
{
    let bot = Arc::new(bot);
    runtime.access_monitoring_rules = true;
    app::run_with_companions(
        runtime,
        move |ctx| {
            if bot.sends_reminders() {
                spawn_reminders(bot.clone(), plugin.name, ctx);
            }
            let options = MessagingOptions {
                plugin_name: plugin.name.to_owned(),
                cluster: ctx.cluster.cluster_name.clone(),
                web_base: ctx.web_base(),
                role_to_recipients: plugin.role_to_recipients,
                notify_requester: plugin.notify_requester,
                requester_sees_request: plugin.requester_sees_request,
                rules: ctx.rules.clone(),
                replica_id: ctx.replica_id.clone(),
                lease: ctx.lease,
            };
            Ok(MessagingHandler::new(
                bot,
                ctx.client.clone(),
                options,
                ctx.metrics.clone(),
            ))
        },
        move |ctx, _handler| start_companions(ctx),
        stop,
    )
    .await
}

/// Runs the access-list review reminders (Go's schedule) until the process stops: each
/// owner is resolved through the bot, as request recipients are.
fn spawn_reminders<B: MessagingBot>(bot: Arc<B>, plugin: &str, ctx: &PluginContext) {
    let job = ReminderJob::new(ctx.client.clone(), plugin, &ctx.replica_id, ctx.web_base());
    let stop = ctx.stop.clone();
    let reminders = ctx.reminders;
    tokio::spawn(async move {
        let send = |owner: String, text: String| {
            let bot = bot.clone();
            async move {
                let Some(recipient) = bot.resolve_recipient(&owner).await? else {
                    return Err(ServiceError::permanent(format!(
                        "the access list owner {owner} is not a known recipient"
                    )));
                };
                bot.send_reminder(&recipient, &text).await
            }
        };
        let (first, interval) = reminders;
        job.run_every(first, interval, send, stop).await;
    });
}

impl<B: MessagingBot> HealthCheck for MessagingHandler<B> {
    fn service_name(&self) -> &'static str {
        self.bot().service_name()
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        self.bot().check_health().await
    }
}
