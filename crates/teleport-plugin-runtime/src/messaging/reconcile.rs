//! Reconciling on takeover: a replica that takes over a lease that was never released
//! looks for the request's message in the service before posting it again, so a crash
//! between the service accepting a post and the record being written leaves one message.
//!
//! The same lookup follows a post whose outcome is unknown (a timeout, a dropped
//! connection, a 5xx without `Retry-After`): the failure is recorded as
//! [`post_unsure_since`](crate::messaging::record::MessageState::post_unsure_since), and
//! the next attempt — in place, after a dispatcher retry, or on another replica — looks
//! for a message posted since then before posting. When the service answered that failure
//! (a 500, a 503), what it did it did before answering, so the search ends there
//! (`post_unsure_until`); only a post that got no answer leaves it open to the search's
//! own time. (A busy channel makes the difference: every card posted since is a card to
//! read past.)
//!
//! Only those paths pay for the lookup: a released record carries no lease and no unsure
//! mark, so a new request, and every request a live replica finished, go on with no extra
//! call.

use std::time::{Duration, SystemTime};

use teleport_client::AccessRequest;

use crate::messaging::bot::{MessagingBot, PostWindow, Recipient, RequestView};
use crate::messaging::record::StateCodec;
use crate::record::{Claim, Effects, Permanent, StepError};

/// Allowed difference between the clocks of this replica, the one that crashed, Teleport
/// (the request's creation time) and the service (the message's time).
pub(super) const CLOCK_SKEW: Duration = Duration::from_secs(15);

/// When the previous holder of `claim`'s lease may have posted without recording it, if it
/// left its lease behind. Every send starts right after a write that renewed the lease (or
/// while more than half of it is left) and ends within the lease, so the post lies inside
/// the last lease stored: from its start (`until - length`) to its end, and not before the
/// request was created.
/// A post whose outcome was unknown (`post_unsure_since`) may have landed any time from
/// then until the service's answer (`post_unsure_until`), or until now when it gave none (a
/// request that timed out here may still be served there); both windows together when both
/// apply.
/// `None` when neither applies, or when the bot cannot look messages up.
pub(super) fn post_window<B: MessagingBot>(
    bot: &B,
    claim: &Claim<'_, StateCodec<B>>,
    request: &AccessRequest,
) -> Option<PostWindow> {
    if !bot.finds_posted() {
        return None;
    }
    let taken_over = claim.taken_over().map(|lease| {
        let start = lease
            .until
            .checked_sub(claim.lease_length())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        (start, lease.until)
    });
    let unsure = claim.post_unsure_since.map(|since| {
        let until = claim.post_unsure_until.unwrap_or_else(SystemTime::now);
        (since, until.max(since))
    });
    let (mut after, before) = match (taken_over, unsure) {
        (Some(lease), Some(unsure)) => (lease.0.min(unsure.0), lease.1.max(unsure.1)),
        (Some(window), None) | (None, Some(window)) => window,
        (None, None) => return None,
    };
    if let Some(created) = request.created {
        after = after.max(SystemTime::from(created));
    }
    Some(PostWindow {
        after: after.checked_sub(CLOCK_SKEW).unwrap_or(after),
        before: before + CLOCK_SKEW,
    })
}

/// Posts the request to `to`; when the post fails without saying whether the service took
/// it, records since when (and, when the service answered, until when) a post may have
/// landed, so that the next attempt looks first. Staged as an effect: the release tries
/// hard to write it.
pub(super) async fn send_request<B: MessagingBot>(
    bot: &B,
    effects: &Effects,
    claim: &mut Claim<'_, StateCodec<B>>,
    to: &Recipient,
    view: &RequestView,
) -> Result<Result<B::Message, Permanent>, StepError> {
    let started = SystemTime::now();
    let sent = effects
        .run(claim, "request", || bot.send_request(to, view))
        .await;
    if let Err(error) = &sent
        && error.outcome_unknown()
    {
        let until = (!error.may_still_land()).then(SystemTime::now);
        let mut next = claim.record().clone();
        next.mark_post_unsure(started, until);
        if (next.post_unsure_since, next.post_unsure_until)
            != (claim.post_unsure_since, claim.post_unsure_until)
        {
            tracing::warn!(recipient = %to.id, answered = until.is_some(), "the post may have reached the service; the next try looks for it first");
            claim.record_effect(next);
        }
    }
    sent
}

/// On a takeover, turns the left-behind lease into an unsure mark spanning it, staged
/// (written with the next write or the release): if this attempt's lookup or post fails
/// transiently, its release clears the lease, and without the mark the next attempt would
/// post without looking. Only on the takeover path; the normal path stages nothing.
pub(super) fn keep_takeover_evidence<B: MessagingBot>(
    bot: &B,
    claim: &mut Claim<'_, StateCodec<B>>,
) {
    let Some(lease) = claim.taken_over().filter(|_| bot.finds_posted()) else {
        return;
    };
    let start = lease
        .until
        .checked_sub(claim.lease_length())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut next = claim.record().clone();
    next.mark_post_unsure(start, Some(lease.until));
    if (next.post_unsure_since, next.post_unsure_until)
        != (claim.post_unsure_since, claim.post_unsure_until)
    {
        claim.stage(next);
    }
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
            tracing::info!(recipient = %recipient.id, message = %B::encode(&message), "found the request's message, posted by an earlier attempt that did not record it; recording it instead of posting again");
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
