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
use crate::record::{Claim, Effects, Lease, Permanent, StepError, unix_millis};

/// Allowed difference between the clocks of this replica, the one that crashed, Teleport
/// (the request's creation time) and the service (the message's time).
pub(super) const CLOCK_SKEW: Duration = Duration::from_secs(15);

/// The span of a lease left behind: every send starts right after a write that renewed the
/// lease (or while more than half of it is left) and ends within it, so a post its holder
/// made lies from the lease's start (`until - length`) to its end.
fn lease_span<B: MessagingBot>(
    claim: &Claim<'_, StateCodec<B>>,
    lease: &Lease,
) -> (SystemTime, SystemTime) {
    let start = lease
        .until
        .checked_sub(claim.lease_length())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    (start, lease.until)
}

/// When an earlier attempt may have posted without recording it; `None` when no attempt
/// can have (the normal path), or when the bot cannot look messages up.
///
/// * A record without an unsure mark whose lease was left behind: the holder posted, if at
///   all, within its lease (the first post of a request is announced by nothing but the
///   lease).
/// * A record with the mark (`post_unsure_since`): every post since is announced in it
///   before it is sent ([`send_request`]), so the mark alone covers them — up to the
///   service's answer when it gave one (`post_unsure_until`); an announced post whose answer
///   never came landed by the end of its holder's lease when that holder died, or by now (a
///   request that timed out here may still be served there). A lease left behind adds
///   nothing then: a replica that died looking (a chain of takeovers in a 503 window) did
///   not post unannounced, and adding every such lease would widen the search with each.
///
/// Never before the request was created; clock skew allowed for on both sides.
pub(super) fn post_window<B: MessagingBot>(
    bot: &B,
    claim: &Claim<'_, StateCodec<B>>,
    request: &AccessRequest,
) -> Option<PostWindow> {
    if !bot.finds_posted() {
        return None;
    }
    let lease = claim.taken_over().map(|lease| lease_span(claim, lease));
    let (mut after, before) = match (claim.post_unsure_since, lease) {
        (Some(since), lease) => {
            let open_until = lease.map_or_else(SystemTime::now, |(_, end)| end);
            (
                since,
                claim.post_unsure_until.unwrap_or(open_until).max(since),
            )
        }
        (None, Some(lease)) => lease,
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

/// Posts the request to `to`. While the record carries an unsure mark, the post is first
/// announced in it (the mark left open from now, written right before the send), so that
/// whoever takes over after a crash finds the post inside the mark; once the answer is in,
/// the mark is what it was. When the post fails without saying whether the service took
/// it, the mark records since when (and, when the service answered, until when) a post may
/// have landed, so that the next attempt looks first — as an effect: the release tries hard
/// to write it. The normal path (no mark) writes nothing more.
pub(super) async fn send_request<B: MessagingBot>(
    bot: &B,
    effects: &Effects,
    claim: &mut Claim<'_, StateCodec<B>>,
    to: &Recipient,
    view: &RequestView,
) -> Result<Result<B::Message, Permanent>, StepError> {
    let started = SystemTime::now();
    let settled = claim.unsure_span();
    if settled.0.is_some() && bot.finds_posted() {
        let mut announced = claim.record().clone();
        announced.mark_post_unsure(started, None);
        claim.record_effect(announced);
    }
    let sent = effects
        .run(claim, "request", || bot.send_request(to, view))
        .await;
    let mut next = claim.record().clone();
    next.set_unsure_span(settled);
    if let Err(error) = &sent
        && error.outcome_unknown()
    {
        let until = (!error.may_still_land()).then(SystemTime::now);
        next.mark_post_unsure(started, until);
        if next.unsure_span() != settled {
            tracing::warn!(recipient = %to.id, answered = until.is_some(), "the post may have reached the service; the next try looks for it first");
        }
        claim.record_effect(next);
    } else if next.unsure_span() != claim.unsure_span() {
        claim.stage(next);
    }
    sent
}

/// On a takeover, keeps the evidence in the record, written at once, before anything else
/// the step does can fail: a lease left on a record without a mark becomes the mark (its
/// span), and an announced post left open is closed at the end of the dead holder's lease.
/// If this replica then fails (resolving the recipients, looking, posting), its release
/// clears the lease, and without the mark the next attempt would post without looking; if
/// it dies, the lease the next one finds is this replica's, and without the mark it would
/// search the wrong span. Only on the takeover path; the normal path writes nothing.
pub(super) async fn keep_takeover_evidence<B: MessagingBot>(
    bot: &B,
    claim: &mut Claim<'_, StateCodec<B>>,
) -> Result<(), StepError> {
    let Some(lease) = claim.taken_over().filter(|_| bot.finds_posted()) else {
        return Ok(());
    };
    let (start, end) = lease_span(claim, lease);
    let mut next = claim.record().clone();
    match next.unsure_span() {
        (None, _) => next.mark_post_unsure(start, Some(end)),
        (Some(_), None) => next.post_unsure_until = Some(end),
        (Some(_), Some(_)) => return Ok(()),
    }
    claim.record_effect(next);
    // Writes what `record_effect` marked, now.
    Ok(claim.before_effect().await?)
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
    tracing::debug!(
        recipient = %recipient.id,
        after_ms = unix_millis(window.after),
        before_ms = unix_millis(window.before),
        "looking for the request's message before posting"
    );
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
