//! Running a messaging plugin: its bot wired into the shared [`MessagingHandler`] and the
//! process lifetime of [`crate::app::run`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::app::{self, RuntimeConfig};
use crate::config::RoleToRecipients;
use crate::health::HealthCheck;
use crate::messaging::bot::MessagingBot;
use crate::messaging::handler::{MessagingHandler, MessagingOptions};

/// What a messaging plugin tells [`run_messaging`] about itself.
#[derive(Clone, Debug)]
pub struct MessagingPlugin {
    /// The plugin-data namespace (`slack`, `mattermost`, `email`).
    pub name: &'static str,
    /// Who gets which requests.
    pub role_to_recipients: RoleToRecipients,
    /// DM / mail the requester the decision.
    pub notify_requester: bool,
}

/// Runs a messaging plugin until `stop` is cancelled: connects to Teleport, checks the bot's
/// service (its [`HealthCheck`]), and relays requests through the shared
/// [`MessagingHandler`].
pub async fn run_messaging<B: MessagingBot>(
    runtime: RuntimeConfig,
    plugin: MessagingPlugin,
    bot: B,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let bot = Arc::new(bot);
    app::run(
        runtime,
        move |ctx| {
            let options = MessagingOptions {
                plugin_name: plugin.name.to_owned(),
                cluster: ctx.cluster.cluster_name.clone(),
                web_base: ctx.web_base(),
                role_to_recipients: plugin.role_to_recipients,
                notify_requester: plugin.notify_requester,
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
        stop,
    )
    .await
}

impl<B: MessagingBot> HealthCheck for MessagingHandler<B> {
    fn service_name(&self) -> &'static str {
        self.bot().service_name()
    }

    async fn check_health(&self) -> Result<(), crate::service_error::ServiceError> {
        self.bot().check_health().await
    }
}
