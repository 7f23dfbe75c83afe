//! Exactly once with two replicas: two processes race for a burst, then one is killed
//! mid-way through a second burst and the other finishes it, and every request reached each
//! recipient exactly once.

use std::time::Duration;

use super::ComplianceWorld;
use super::harness::Harness;

/// Requests per burst; two bursts.
const BURST: usize = 10;

/// How long sends that the service accepted just before it started refusing have to be
/// recorded by their replica before one is killed. A send accepted and not yet recorded
/// when its replica dies is the one documented way to send twice; the check leaves that
/// window closed on purpose, since it tests the leases, not luck.
const RECORD_IN_FLIGHT: Duration = Duration::from_millis(500);

/// Two replicas, a burst both race for, then a second burst while the service refuses every
/// call (so the replicas hold it, try and retry), one replica SIGKILLed in the middle of
/// that, the service back: the survivor delivers what is left, and every one of the
/// requests reached each recipient exactly once.
pub async fn exactly_once_with_two_replicas<W: ComplianceWorld>() {
    let h = Harness::<W>::start().await;
    let a = h.spawn("replica-a");
    let b = h.spawn("replica-b");
    h.kit
        .wait_for_watchers(2, super::harness::WAIT)
        .await
        .expect("both replicas watch Teleport");

    let mut ids: Vec<String> = (0..BURST)
        .map(|n| h.create_request(&format!("first burst {n}")))
        .collect();
    h.wait_delivered(&ids).await;
    h.assert_exactly_once(&ids).await;

    h.world.refuse_sends(true);
    tokio::time::sleep(RECORD_IN_FLIGHT).await;
    let second: Vec<String> = (0..BURST)
        .map(|n| h.create_request(&format!("second burst {n}")))
        .collect();
    // Every request of the second burst has been tried (its record exists), refused and
    // given back (no lease held): the replicas are between retries. A replica killed while
    // it holds a lease makes the other wait for it to lapse (30 s), which the waits allow
    // for; it cannot make anything be sent twice, since nothing is accepted now.
    h.wait_until(
        "every request of the second burst tried and given back",
        || second.iter().all(|id| h.released(id)),
        || h.report(&second),
    )
    .await;
    for id in &second {
        assert!(
            h.world.deliveries(id).is_empty(),
            "request {id} was delivered while the service refused every call: {:?}",
            h.world.deliveries(id)
        );
    }
    a.kill().await;
    h.world.refuse_sends(false);

    ids.extend(second);
    h.wait_delivered(&ids).await;
    h.assert_exactly_once(&ids).await;
    b.stop().await;
}
