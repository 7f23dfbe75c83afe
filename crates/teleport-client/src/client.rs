//! `TeleportClient`: the typed API plugins call.

use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;
use tonic::transport::{Channel, Endpoint};

use crate::convert;
use crate::credentials::{CredentialsSource, Identity};
use crate::dial::{AUTH_PORT, DialEnv, DialMode, DialPolicy, Dialer, DialerSettings};
use crate::error::ClientError;
use crate::identity_store::{IdentityStore, Refresh, expiry_warning_window};
use crate::model::{
    AccessRequest, ClusterInfo, RequestFilter, ReviewSubmission, Role, StateChange, User,
};
use crate::wire::proto::auth_service_client::AuthServiceClient;
use crate::wire::teleport::users::v1 as users_v1;
use crate::wire::teleport::users::v1::users_service_client::UsersServiceClient;
use crate::wire::{proto, types};

/// Plugin data of access requests lives under this resource kind.
pub const ACCESS_REQUEST_KIND: &str = "access_request";
/// Plugin data of access lists (review reminders) lives under this resource kind.
pub const ACCESS_LIST_KIND: &str = "access_list";
/// Page size for ListAccessRequests.
const LIST_PAGE_SIZE: i32 = 1000;
/// Large pages of requests can exceed tonic's 4 MiB default.
pub(crate) const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// How to reach Teleport and with which credentials.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `host:port` of the auth server or proxy (port 3025 if omitted).
    pub addr: String,
    /// Where the identity comes from.
    pub credentials: CredentialsSource,
    /// Re-read the credentials this often and reconnect with renewed ones
    /// (`refresh_identity`). New connections always re-read them anyway.
    pub refresh_interval: Option<Duration>,
    /// Which dial modes to try.
    pub dial_policy: DialPolicy,
    /// Limit for one connection attempt (TCP, proxy, upgrade and TLS together).
    pub connect_timeout: Duration,
    /// An extra CA to trust, besides the system store (`SSL_CERT_FILE` / `SSL_CERT_DIR`),
    /// for the certificate of an L7 load balancer in front of the proxy.
    pub web_ca_file: Option<PathBuf>,
    /// Where `HTTPS_PROXY`, `NO_PROXY` and `TELEPORT_TLS_ROUTING_CONN_UPGRADE` are read.
    pub dial_env: DialEnv,
}

impl ClientConfig {
    /// A config with the defaults the Go plugins use.
    pub fn new(addr: impl Into<String>, credentials: CredentialsSource) -> Self {
        Self {
            addr: addr.into(),
            credentials,
            refresh_interval: None,
            dial_policy: DialPolicy::Auto,
            connect_timeout: Duration::from_secs(10),
            web_ca_file: None,
            dial_env: DialEnv::Process,
        }
    }
}

/// A client for Teleport's access-request API. Cheap to clone.
#[derive(Clone)]
pub struct TeleportClient {
    inner: Arc<Inner>,
}

struct Inner {
    identities: Arc<IdentityStore>,
    dialer: Arc<Dialer>,
    channel: RwLock<Channel>,
    list_method: std::sync::atomic::AtomicU8,
}

impl TeleportClient {
    /// Loads the credentials (failing on missing, malformed or expired ones) and
    /// prepares a connection; the first call dials.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        parse_port(&config.addr)?;
        let addr = if config
            .addr
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            config.addr.clone()
        } else {
            format!("{}:{AUTH_PORT}", config.addr)
        };
        let identities = Arc::new(IdentityStore::load(config.credentials.clone())?);
        let dialer = Arc::new(Dialer::new(
            DialerSettings {
                addr,
                policy: config.dial_policy,
                connect_timeout: config.connect_timeout,
                web_ca_file: config.web_ca_file.clone(),
                env: config.dial_env.clone(),
            },
            identities.clone(),
        ));
        let channel = RwLock::new(new_channel(dialer.clone()));
        let inner = Arc::new(Inner {
            identities,
            dialer,
            channel,
            list_method: std::sync::atomic::AtomicU8::new(0),
        });
        if let Some(interval) = config.refresh_interval {
            spawn_refresh(Arc::downgrade(&inner), interval);
        }
        Ok(Self { inner })
    }

    /// The identity currently in use.
    pub fn identity(&self) -> Identity {
        self.inner.identities.current()
    }

    /// How the last connection reached the auth server (`None` before the first one).
    pub fn dial_mode(&self) -> Option<DialMode> {
        self.inner.dialer.last_mode()
    }

    /// Re-reads the credentials now; returns true when they changed (new
    /// connections then use them).
    pub fn refresh_identity(&self) -> Result<bool, ClientError> {
        let renewed = self.inner.identities.refresh()? == Refresh::Renewed;
        if renewed {
            self.inner.reconnect();
        }
        Ok(renewed)
    }

    pub(crate) fn channel(&self) -> Channel {
        self.inner.channel()
    }

    pub(crate) fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// Pings the cluster: name, version, features.
    pub async fn ping(&self) -> Result<ClusterInfo, ClientError> {
        let reply = self
            .auth()
            .ping(proto::PingRequest {})
            .await
            .map_err(|s| ClientError::from_status("Ping", s))?;
        Ok(convert::cluster_info(reply.into_inner()))
    }

    /// Lists access requests matching `filter`, with ListAccessRequests (paged)
    /// and, on servers that lack it, GetAccessRequestsV2 then GetAccessRequests.
    pub async fn list_access_requests(
        &self,
        filter: &RequestFilter,
    ) -> Result<Vec<AccessRequest>, ClientError> {
        let wire_filter = convert::to_filter(filter);
        if self.paged_listing() {
            match self.list_paged(&wire_filter).await {
                Err(ClientError::Unimplemented { .. }) => self.no_paged_listing(),
                other => return other,
            }
        }
        self.list_unpaged(&wire_filter).await
    }

    /// Whether ListAccessRequests is (still believed to be) available.
    pub(crate) fn paged_listing(&self) -> bool {
        self.inner
            .list_method
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
    }

    /// Remembers that the server lacks ListAccessRequests.
    pub(crate) fn no_paged_listing(&self) {
        self.inner
            .list_method
            .fetch_max(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every request at once, for servers without ListAccessRequests:
    /// GetAccessRequestsV2, then GetAccessRequests.
    pub(crate) async fn list_unpaged(
        &self,
        wire_filter: &types::AccessRequestFilter,
    ) -> Result<Vec<AccessRequest>, ClientError> {
        use std::sync::atomic::Ordering;
        if self.inner.list_method.load(Ordering::Relaxed) <= 1 {
            match self.list_streamed(wire_filter).await {
                Err(ClientError::Unimplemented { .. }) => {
                    self.inner.list_method.store(2, Ordering::Relaxed)
                }
                other => return other,
            }
        }
        let reply = self
            .auth()
            .get_access_requests(wire_filter.clone())
            .await
            .map_err(|s| ClientError::from_status("GetAccessRequests", s))?;
        Ok(reply
            .into_inner()
            .access_requests
            .into_iter()
            .map(convert::access_request)
            .collect())
    }

    async fn list_paged(
        &self,
        filter: &types::AccessRequestFilter,
    ) -> Result<Vec<AccessRequest>, ClientError> {
        let mut requests = Vec::new();
        let mut start_key = String::new();
        loop {
            let (page, next_key) = self.list_page(filter, start_key).await?;
            requests.extend(page);
            if next_key.is_empty() {
                return Ok(requests);
            }
            start_key = next_key;
        }
    }

    /// One page of ListAccessRequests from `start_key` ("" = the first) and the key of
    /// the next page ("" = that was the last).
    pub(crate) async fn list_page(
        &self,
        filter: &types::AccessRequestFilter,
        start_key: String,
    ) -> Result<(Vec<AccessRequest>, String), ClientError> {
        let page = self
            .auth()
            .list_access_requests(proto::ListAccessRequestsRequest {
                filter: Some(filter.clone()),
                limit: LIST_PAGE_SIZE,
                start_key,
                ..Default::default()
            })
            .await
            .map_err(|s| ClientError::from_status("ListAccessRequests", s))?
            .into_inner();
        let requests = page
            .access_requests
            .into_iter()
            .map(convert::access_request)
            .collect();
        Ok((requests, page.next_key))
    }

    async fn list_streamed(
        &self,
        filter: &types::AccessRequestFilter,
    ) -> Result<Vec<AccessRequest>, ClientError> {
        const METHOD: &str = "GetAccessRequestsV2";
        let mut stream = self
            .auth()
            .get_access_requests_v2(filter.clone())
            .await
            .map_err(|s| ClientError::from_status(METHOD, s))?
            .into_inner();
        let mut requests = Vec::new();
        while let Some(item) = stream.next().await {
            requests.push(convert::access_request(
                item.map_err(|s| ClientError::from_status(METHOD, s))?,
            ));
        }
        Ok(requests)
    }

    /// Fetches one access request by ID; `None` when it does not exist (any more).
    pub async fn get_access_request(&self, id: &str) -> Result<Option<AccessRequest>, ClientError> {
        let filter = RequestFilter {
            id: Some(id.to_owned()),
            ..RequestFilter::default()
        };
        Ok(self
            .list_access_requests(&filter)
            .await?
            .into_iter()
            .find(|r| r.id == id))
    }

    /// Submits a review as the plugin's own user; returns the updated request.
    pub async fn submit_review(
        &self,
        review: &ReviewSubmission,
    ) -> Result<AccessRequest, ClientError> {
        self.submit(review, false).await
    }

    /// Submits `review`, marked as submitted on its author's behalf when `on_behalf`
    /// ([`submit_review_on_behalf`](Self::submit_review_on_behalf)).
    pub(crate) async fn submit(
        &self,
        review: &ReviewSubmission,
        on_behalf: bool,
    ) -> Result<AccessRequest, ClientError> {
        let reply = self
            .auth()
            .submit_access_review(types::AccessReviewSubmission {
                request_id: review.request_id.clone(),
                review: Some(types::AccessReview {
                    author: review.author.clone(),
                    proposed_state: convert::to_request_state(review.proposed_state),
                    reason: review.reason.clone(),
                    submitted_on_behalf_of_author: on_behalf,
                    // Created stays unset: the server stamps it (a zero timestamp
                    // would read as 1970 on the Go side).
                    ..Default::default()
                }),
            })
            .await
            .map_err(|s| ClientError::from_status("SubmitAccessReview", s))?;
        Ok(convert::access_request(reply.into_inner()))
    }

    /// Approves or denies a request on someone's behalf (Jira, GitLab).
    pub async fn set_request_state(&self, change: &StateChange) -> Result<(), ClientError> {
        self.auth()
            .set_access_request_state(proto::RequestStateSetter {
                id: change.request_id.clone(),
                state: convert::to_request_state(change.state),
                delegator: change.delegator.clone(),
                reason: change.reason.clone(),
                annotations: convert::to_label_values(&change.annotations),
                ..Default::default()
            })
            .await
            .map_err(|s| ClientError::from_status("SetAccessRequestState", s))?;
        Ok(())
    }

    /// Reads a user: `teleport.users.v1` first, the legacy AuthService call on older servers.
    pub async fn get_user(&self, name: &str) -> Result<User, ClientError> {
        let modern = UsersServiceClient::new(self.channel())
            .get_user(users_v1::GetUserRequest {
                name: name.to_owned(),
                ..Default::default()
            })
            .await;
        match modern {
            Ok(reply) => Ok(convert::user(reply.into_inner().user.unwrap_or_default())),
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                let reply = self
                    .auth()
                    .get_user(proto::GetUserRequest {
                        name: name.to_owned(),
                        with_secrets: false,
                    })
                    .await
                    .map_err(|s| ClientError::from_status("GetUser", s))?;
                Ok(convert::user(reply.into_inner()))
            }
            Err(status) => Err(ClientError::from_status("UsersService/GetUser", status)),
        }
    }

    /// Reads a role.
    pub async fn get_role(&self, name: &str) -> Result<Role, ClientError> {
        let reply = self
            .auth()
            .get_role(proto::GetRoleRequest {
                name: name.to_owned(),
            })
            .await
            .map_err(|s| ClientError::from_status("GetRole", s))?;
        Ok(convert::role(reply.into_inner()))
    }

    /// Deletes a request (tests and tools; plugins never do).
    pub async fn delete_access_request(&self, id: &str) -> Result<(), ClientError> {
        self.auth()
            .delete_access_request(proto::RequestId { id: id.to_owned() })
            .await
            .map_err(|s| ClientError::from_status("DeleteAccessRequest", s))?;
        Ok(())
    }

    pub(crate) fn auth_client(&self) -> AuthServiceClient<Channel> {
        self.auth()
    }
}

impl Inner {
    fn channel(&self) -> Channel {
        self.channel
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Future calls use fresh connections (and so the current identity).
    fn reconnect(&self) {
        let channel = new_channel(self.dialer.clone());
        *self.channel.write().unwrap_or_else(|p| p.into_inner()) = channel;
    }
}

/// HTTP/2 receive window per stream (see [`new_channel`]): some 8 000 access-request events.
const WATCH_STREAM_WINDOW: u32 = 4 << 20;

fn new_channel(dialer: Arc<Dialer>) -> Channel {
    Endpoint::from_static("http://teleport.cluster.local")
        // Teleport's auth server sends GOAWAY to clients pinging more often than once a minute.
        .http2_keep_alive_interval(Duration::from_secs(60))
        .keep_alive_timeout(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        // Room for a burst of watch events while the plugin is busy with earlier ones:
        // with h2's 64 KiB default the server stops sending after ~100 events and its own
        // per-watcher buffer starts filling; Teleport closes a watcher that falls behind,
        // which costs a reconnect and a full re-listing. Memory is used only while events
        // wait, and a long-latency link to the cluster needs the window anyway.
        .initial_stream_window_size(Some(WATCH_STREAM_WINDOW))
        .initial_connection_window_size(Some(2 * WATCH_STREAM_WINDOW))
        .connect_with_connector_lazy(tower::service_fn(move |_uri| {
            let dialer = dialer.clone();
            async move { dialer.connect().await }
        }))
}

/// Re-reads the credentials every `interval`; on renewal, switches to fresh
/// connections. Also warns ahead of expiry. Ends when the client is dropped.
fn spawn_refresh(inner: Weak<Inner>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            match inner.identities.refresh() {
                Ok(Refresh::Renewed) => inner.reconnect(),
                Ok(Refresh::Unchanged) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot reload Teleport credentials; keeping the previous ones")
                }
            }
            let identity = inner.identities.current();
            if identity.remaining() <= expiry_warning_window(&identity) {
                tracing::warn!(
                    user = identity.username(),
                    not_after = %identity.not_after(),
                    "the Teleport certificate expires soon and has not been renewed"
                );
            }
        }
    });
}

fn parse_port(addr: &str) -> Result<u16, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidAddress {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    if addr.trim().is_empty() || addr.contains("://") || addr.contains('/') {
        return Err(invalid(
            "expected host:port, e.g. teleport.example.com:443 or auth.example.com:3025",
        ));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.ends_with(':') => port
            .parse()
            .map_err(|_| invalid("the port is not a number from 1 to 65535")),
        _ => Ok(AUTH_PORT),
    }
}
