//! The floor: the least a plugin could do per request — follow the watch (and list
//! once after INIT) with `teleport-client`, and make one bare `chat.postMessage` per
//! pending request. No runtime, no plugin data, no leases, no rendering. The suite
//! states the plugin's throughput as a share of this.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use teleport_client::{
    ClientConfig, CredentialsSource, RequestFilter, RequestState, TeleportClient, WatchEvent,
    WatchOptions,
};
use tokio::sync::Semaphore;

use crate::cli::FloorArgs;

/// Attempts per post before giving up on a request.
const ATTEMPTS: u32 = 10;

struct Poster {
    http: reqwest::Client,
    url: String,
    token: String,
    channel: String,
    permits: Semaphore,
    /// Requests already taken, so the listing and the watch do not both post.
    seen: Mutex<HashSet<String>>,
}

/// Runs the floor client until it is killed.
pub(crate) async fn client(args: FloorArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("cannot read {}", args.token_file.display()))?
        .trim()
        .to_owned();
    let teleport = TeleportClient::new(ClientConfig::new(
        args.addr.to_string(),
        CredentialsSource::IdentityFile(args.identity),
    ))?;
    let poster = Arc::new(Poster {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        url: format!("{}chat.postMessage", args.slack_url),
        token,
        channel: args.channel,
        permits: Semaphore::new(args.concurrency.max(1)),
        seen: Mutex::default(),
    });
    let mut events = teleport.watch_access_requests(WatchOptions::default());
    while let Some(event) = events.next().await {
        match event? {
            WatchEvent::Init => {
                let teleport = teleport.clone();
                let poster = poster.clone();
                tokio::spawn(async move {
                    match teleport
                        .list_access_requests(&RequestFilter::pending())
                        .await
                    {
                        Ok(requests) => {
                            for request in requests {
                                poster.clone().submit(request.id);
                            }
                        }
                        Err(error) => eprintln!("floor: cannot list requests: {error}"),
                    }
                });
            }
            WatchEvent::Put(request) if request.state == RequestState::Pending => {
                poster.clone().submit(request.id);
            }
            _ => {}
        }
    }
    bail!("the watch ended")
}

impl Poster {
    fn submit(self: Arc<Self>, id: String) {
        if !self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone())
        {
            return;
        }
        tokio::spawn(async move {
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            for attempt in 0..ATTEMPTS {
                match self.post(&id).await {
                    Ok(()) => return,
                    Err(error) => {
                        eprintln!("floor: post for {id} failed (attempt {attempt}): {error:#}");
                        tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
                    }
                }
            }
        });
    }

    async fn post(&self, id: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&serde_json::json!({
                "channel": self.channel,
                "text": format!("New access request: {id}"),
            }))
            .send()
            .await?
            .error_for_status()?;
        let body: serde_json::Value = response.json().await?;
        if body["ok"] != serde_json::Value::Bool(true) {
            bail!("Slack said {body}");
        }
        Ok(())
    }
}
