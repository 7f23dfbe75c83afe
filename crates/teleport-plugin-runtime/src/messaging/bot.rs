//! What a messaging plugin implements: resolve recipients, send, reply, update.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::SystemTime;

use teleport_client::{AccessRequest, AccessReview};

use crate::format::request_link;
use crate::health::HealthCheck;
use crate::messaging::record::MessageCodec;
use crate::record::Resolution;
use crate::service_error::ServiceError;

/// A resolved recipient: a chat channel, a user's DM, an e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recipient {
    /// What messages are sent to (channel ID, user ID, address); also the
    /// de-duplication key and what the state stores.
    pub id: String,
}

/// The status line of a request's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for reviews.
    Pending,
    /// Resolved.
    Resolved(Resolution),
}

/// Everything a bot needs to render a request's message.
#[derive(Clone, Debug)]
pub struct RequestView {
    /// The request as last seen (for a deleted request: as stored when first sent).
    pub request: AccessRequest,
    /// The cluster name.
    pub cluster: String,
    /// `https://<proxy>/web/requests/` base when the cluster has advanced access workflows.
    pub web_base: Option<String>,
    /// The status to show.
    pub status: Status,
    /// The resolution reason to show.
    pub resolve_reason: String,
    /// The requested resources' names as first recorded (Go's friendly names when a Go
    /// plugin recorded them, else Teleport's `/cluster/kind/name`), so that a deleted
    /// request's last edit still names them.
    pub resources: Vec<String>,
    /// The logins each requested role allows, when the bot shows them
    /// ([`MessagingBot::shows_logins`]) and the roles could be read; else empty.
    pub logins_by_role: BTreeMap<String, Vec<String>>,
}

impl RequestView {
    /// The link to the request in Teleport's web UI, if the cluster has one.
    pub fn link(&self) -> Option<String> {
        self.web_base
            .as_ref()
            .map(|base| request_link(base, &self.request.id))
    }

    /// Whether a bot whose one message shows every review (Discord's embeds, Teams' card)
    /// re-renders it for `review`: only for the observation's latest review, and not once
    /// the request is resolved, since the resolution's update that follows shows them all.
    pub fn rerenders_for_review(&self, review: &AccessReview) -> bool {
        self.request.reviews.last() == Some(review) && !self.request.state.is_resolved()
    }
}

/// When a replica that crashed (or could not record its work) may have posted a request's
/// message without recording it: the service accepted it no earlier than `after` and no
/// later than `before` (clock skew already allowed for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostWindow {
    /// The earliest time the message can carry.
    pub after: SystemTime,
    /// The latest time the message can carry.
    pub before: SystemTime,
}

/// A messaging integration. Every method is one outbound action; retries,
/// de-duplication and state are the runtime's job.
pub trait MessagingBot: MessageCodec + HealthCheck + Send + Sync + 'static {
    /// Turns a configured or suggested recipient (channel name, e-mail, ...)
    /// into one the bot can send to; `Ok(None)` when it does not exist (skipped
    /// with a warning).
    fn resolve_recipient(
        &self,
        raw: &str,
    ) -> impl Future<Output = Result<Option<Recipient>, ServiceError>> + Send;

    /// Sends the request's first message to one recipient.
    fn send_request(
        &self,
        recipient: &Recipient,
        view: &RequestView,
    ) -> impl Future<Output = Result<Self::Message, ServiceError>> + Send;

    /// Whether [`find_posted`](Self::find_posted) can look a request's message up in the
    /// service (the runtime calls it only then).
    fn finds_posted(&self) -> bool {
        false
    }

    /// Looks for the request's message posted to `recipient` within `window`, by a replica
    /// that then died before recording it. Called only when a replica takes over a lease
    /// that was never released and `recipient` is not recorded as sent to — never on the
    /// normal path — so that a crash between the post and its record does not lead to a
    /// second message. `Ok(None)`: not there (posted now); a permanent error means it cannot
    /// be looked up (posted now, as without a lookup).
    fn find_posted(
        &self,
        _recipient: &Recipient,
        _request_id: &str,
        _window: &PostWindow,
    ) -> impl Future<Output = Result<Option<Self::Message>, ServiceError>> + Send {
        async { Ok(None) }
    }

    /// Relays one review under a sent message (thread reply, e-mail reply, note).
    fn send_review(
        &self,
        message: &Self::Message,
        view: &RequestView,
        review: &AccessReview,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Rewrites a sent message with the request's final status.
    fn update_message(
        &self,
        message: &Self::Message,
        view: &RequestView,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Whether the request message shows each role's logins (Go's Slack plugin, which
    /// reads the roles once per request; the plugin then needs `role: read`).
    fn shows_logins(&self) -> bool {
        false
    }

    /// Whether the requested resources are looked up by friendly name (`node/web-1`) for
    /// the message and the `resources` key, as Go's messaging plugins on the shared access
    /// request app do; Go's e-mail plugin does not.
    fn names_resources(&self) -> bool {
        true
    }

    /// Whether a PROMOTED request is shown resolved (Go's chat plugins), or left as it is
    /// until it is deleted and shown EXPIRED (Go's e-mail plugin, which knows no PROMOTED).
    fn shows_promoted(&self) -> bool {
        true
    }

    /// Whether the bot sends access-list review reminders ([`send_reminder`](Self::send_reminder)).
    /// As in Go, only Slack does.
    fn sends_reminders(&self) -> bool {
        false
    }

    /// Sends an access-list review reminder (`text`, Slack markdown) to one owner.
    fn send_reminder(
        &self,
        _recipient: &Recipient,
        _text: &str,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send {
        async { Err(ServiceError::permanent("this plugin sends no reminders")) }
    }

    /// Tells the requester the decision; `Ok(false)` when the requester cannot
    /// be reached through this bot (nothing was sent).
    fn notify_requester(
        &self,
        _view: &RequestView,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send {
        async { Ok(false) }
    }
}
