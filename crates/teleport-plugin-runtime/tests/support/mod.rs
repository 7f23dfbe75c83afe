//! Test support: a recording messaging bot and a plugin harness over the testkit.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teleport_client::{AccessReview, PluginDataMap};
use teleport_plugin_runtime::app::{self, RuntimeConfig};
use teleport_plugin_runtime::config::{CredentialsSource, RoleToRecipients, TeleportConfig};
use teleport_plugin_runtime::dispatch::DispatchOptions;
use teleport_plugin_runtime::format::status_tag;
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::messaging::{
    ChannelMessage, MessageCodec, MessagingBot, MessagingHandler, MessagingOptions, Recipient,
    RequestView,
};
use teleport_plugin_runtime::ops::OpsConfig;
use teleport_plugin_runtime::service_error::ServiceError;
use teleport_plugin_testsupport::{InProcessPlugin, identity_dir};
use teleport_testkit::{IdentityRequest, Testkit};

pub(crate) const PLUGIN: &str = "slack";

/// One outbound action the bot performed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    Request {
        recipient: String,
        request_id: String,
        message: String,
    },
    Review {
        message: String,
        author: String,
    },
    Update {
        message: String,
        status: String,
    },
    Requester {
        request_id: String,
        status: String,
    },
}

/// A bot that records what it sends and fails on demand.
#[derive(Default)]
pub(crate) struct RecordingBot {
    log: Mutex<Vec<Sent>>,
    next_id: AtomicUsize,
    /// Fail this many upcoming sends of any kind with a transient error.
    pub transient_failures: AtomicUsize,
    /// Recipients that fail permanently.
    pub broken_recipients: Mutex<HashSet<String>>,
}

impl RecordingBot {
    pub(crate) fn sent(&self) -> Vec<Sent> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn requests_sent(&self) -> Vec<(String, String)> {
        self.sent()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Request {
                    recipient,
                    request_id,
                    ..
                } => Some((request_id, recipient)),
                _ => None,
            })
            .collect()
    }

    fn record(&self, sent: Sent) {
        self.log.lock().unwrap().push(sent);
    }

    fn maybe_fail(&self) -> Result<(), ServiceError> {
        let failed = self
            .transient_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failed {
            return Err(ServiceError::Transient {
                message: "injected outage".into(),
                retry_after: Some(Duration::from_millis(20)),
                answered: true,
            });
        }
        Ok(())
    }
}

impl MessageCodec for RecordingBot {
    type Message = ChannelMessage;
    const MESSAGES_KEY: &'static str = ChannelMessage::MESSAGES_KEY;

    fn encode(message: &ChannelMessage) -> String {
        message.encode()
    }

    fn decode(text: &str) -> Option<ChannelMessage> {
        ChannelMessage::decode(text)
    }
}

fn status_text(view: &RequestView) -> String {
    status_tag(view.status).into()
}

impl HealthCheck for RecordingBot {
    fn service_name(&self) -> &'static str {
        "recording bot"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        Ok(())
    }
}

impl MessagingBot for RecordingBot {
    async fn resolve_recipient(&self, raw: &str) -> Result<Option<Recipient>, ServiceError> {
        if raw.starts_with("unknown") {
            return Ok(None);
        }
        Ok(Some(Recipient { id: raw.to_owned() }))
    }

    async fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> Result<ChannelMessage, ServiceError> {
        self.maybe_fail()?;
        if self
            .broken_recipients
            .lock()
            .unwrap()
            .contains(&recipient.id)
        {
            return Err(ServiceError::permanent("channel_not_found"));
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst).to_string();
        let message = ChannelMessage {
            channel: recipient.id.clone(),
            id: id.clone(),
        };
        self.record(Sent::Request {
            recipient: recipient.id.clone(),
            request_id: view.request.id.clone(),
            message: Self::encode(&message),
        });
        Ok(message)
    }

    async fn send_review(
        &self,
        message: &ChannelMessage,
        _view: &RequestView,
        review: &AccessReview,
    ) -> Result<(), ServiceError> {
        self.maybe_fail()?;
        self.record(Sent::Review {
            message: Self::encode(message),
            author: review.author.clone(),
        });
        Ok(())
    }

    async fn update_message(
        &self,
        message: &ChannelMessage,
        view: &RequestView,
    ) -> Result<(), ServiceError> {
        self.maybe_fail()?;
        self.record(Sent::Update {
            message: Self::encode(message),
            status: status_text(view),
        });
        Ok(())
    }

    async fn notify_requester(&self, view: &RequestView) -> Result<bool, ServiceError> {
        self.maybe_fail()?;
        self.record(Sent::Requester {
            request_id: view.request.id.clone(),
            status: status_text(view),
        });
        Ok(true)
    }
}

/// The testkit plus the plugin's identity file.
pub(crate) struct Harness {
    pub kit: Testkit,
    pub dir: tempfile::TempDir,
    pub teleport: TeleportConfig,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let kit = Testkit::start().await.expect("testkit starts");
        let (dir, path) = identity_dir(&kit, &IdentityRequest::new("access-plugin"), "identity");
        let teleport = TeleportConfig::new(
            kit.auth_addr().to_string(),
            Some(CredentialsSource::IdentityFile {
                path,
                refresh: None,
            }),
            "test.toml",
        );
        Self { kit, dir, teleport }
    }

    /// Starts the plugin in-process; stop it with the token.
    pub(crate) fn start_plugin(&self, bot: Arc<RecordingBot>, replica: &str) -> Plugin {
        let teleport = self.teleport.clone();
        let replica = replica.to_owned();
        InProcessPlugin::spawn(Duration::from_secs(20), |token| async move {
            let mut runtime = RuntimeConfig::new(PLUGIN, teleport, OpsConfig::default());
            // As run_messaging does: the watch carries the rules that route this plugin.
            runtime.access_monitoring_rules = true;
            runtime.tuning.dispatch = DispatchOptions {
                retry_base: Duration::from_millis(10),
                retry_cap: Duration::from_millis(200),
                ..DispatchOptions::default()
            };
            app::run(
                runtime,
                move |ctx| {
                    let options = MessagingOptions {
                        plugin_name: PLUGIN.into(),
                        cluster: ctx.cluster.cluster_name.clone(),
                        web_base: ctx.web_base(),
                        role_to_recipients: recipients(),
                        notify_requester: true,
                        requester_sees_request: false,
                        rules: ctx.rules.clone(),
                        replica_id: replica,
                        lease: Duration::from_secs(2),
                    };
                    Ok(MessagingHandler::new(
                        bot,
                        ctx.client.clone(),
                        options,
                        ctx.metrics.clone(),
                    ))
                },
                token,
            )
            .await
        })
    }
}

pub(crate) fn recipients() -> RoleToRecipients {
    [
        (
            "*".to_owned(),
            vec!["chan-a".to_owned(), "chan-b".to_owned()],
        ),
        ("dba".to_owned(), vec!["dba-team".to_owned()]),
    ]
    .into_iter()
    .collect()
}

/// The plugin running in-process.
pub(crate) type Plugin = InProcessPlugin;

/// Polls `check` until it holds or `timeout` passes (then panics with `what`).
pub(crate) async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    teleport_plugin_testsupport::eventually(what, timeout, || std::future::ready(check())).await;
}

pub(crate) fn data(kit: &Testkit, id: &str) -> PluginDataMap {
    kit.plugin_data(id, PLUGIN)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

pub(crate) const WAIT: Duration = Duration::from_secs(20);
