//! Reconciling on takeover: a replica that takes over a lease that was never released
//! looks for the request's message in the service before posting it again, so a crash
//! between the service accepting a post and the record being written leaves one message.
//!
//! Only that path pays for the lookup: a released record carries no lease, so a new
//! request, and every request a live replica finished, go on with no extra call.

use std::time::{Duration, SystemTime};

use teleport_client::AccessRequest;

use crate::messaging::bot::{MessagingBot, PostWindow, Recipient};
use crate::messaging::record::StateCodec;
use crate::record::{Claim, Effects, StepError};

/// Allowed difference between the clocks of this replica, the one that crashed, Teleport
/// (the request's creation time) and the service (the message's time).
const CLOCK_SKEW: Duration = Duration::from_secs(15);

/// When the previous holder of `claim`'s lease may have posted without recording it, if it
/// left its lease behind. Every send starts right after a write that renewed the lease (or
/// while more than half of it is left) and ends within the lease, so the post lies inside
/// the last lease stored: from its start (`until - length`) to its end, and not before the
/// request was created.
/// `None` as well when the bot cannot look messages up.
pub(super) fn post_window<B: MessagingBot>(
    bot: &B,
    claim: &Claim<'_, StateCodec<B>>,
    request: &AccessRequest,
) -> Option<PostWindow> {
    let lease = claim.taken_over().filter(|_| bot.finds_posted())?;
    let mut after = lease
        .until
        .checked_sub(claim.lease_length())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    if let Some(created) = request.created {
        after = after.max(SystemTime::from(created));
    }
    Some(PostWindow {
        after: after.checked_sub(CLOCK_SKEW).unwrap_or(after),
        before: lease.until + CLOCK_SKEW,
    })
}

/// Looks for the request's message to `recipient` posted within `window` (through the send
/// policy: a lookup the service rate-limits waits like a send). A message found stands for
/// the post; one that cannot be looked up is posted, as without a lookup.
pub(super) async fn find_posted<B: MessagingBot>(
    bot: &B,
    effects: &Effects,
    claim: &mut Claim<'_, StateCodec<B>>,
    recipient: &Recipient,
    request_id: &str,
    window: &PostWindow,
) -> Result<Option<B::Message>, StepError> {
    let found = effects
        .run(claim, "lookup", || {
            bot.find_posted(recipient, request_id, window)
        })
        .await?;
    match found {
        Ok(Some(message)) => {
            tracing::info!(recipient = %recipient.id, message = %B::encode(&message), "found the request's message, posted before the previous replica stopped; recording it instead of posting again");
            Ok(Some(message))
        }
        Ok(None) => {
            tracing::info!(recipient = %recipient.id, "taken over: the request's message is not in the channel; posting it");
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(recipient = %recipient.id, %error, "taken over: cannot look for a message posted before the previous replica stopped; posting (it may show twice)");
            Ok(None)
        }
    }
}
