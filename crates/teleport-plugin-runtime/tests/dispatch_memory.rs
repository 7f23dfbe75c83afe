//! The dispatcher's signals for memory: `wait_below` (room for the next catch-up page)
//! and `became_idle` (the moment to hand freed memory back).

use std::sync::Arc;
use std::time::Duration;

use teleport_client::AccessRequest;
use teleport_plugin_runtime::dispatch::{
    DispatchOptions, Dispatcher, Observation, Outcome, RequestHandler,
};
use teleport_plugin_runtime::metrics::Metrics;
use tokio::sync::Semaphore;

/// Finishes one request per permit added to `gate`.
struct Gated {
    gate: Semaphore,
}

impl RequestHandler for Gated {
    async fn handle(&self, _observed: &Observation) -> Outcome {
        match self.gate.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Outcome::Retry(None),
        }
        Outcome::Done
    }
}

fn request(n: usize) -> Observation {
    Observation::Put(Box::new(AccessRequest {
        id: format!("req-{n}"),
        ..AccessRequest::default()
    }))
}

const SOON: Duration = Duration::from_millis(200);
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn wait_below_returns_once_enough_requests_are_done_and_idle_once_all_are() {
    let handler = Arc::new(Gated {
        gate: Semaphore::new(0),
    });
    let dispatcher = Dispatcher::new(handler.clone(), DispatchOptions::default(), Metrics::new());
    for n in 0..10 {
        dispatcher.observe(request(n));
    }
    assert_eq!(dispatcher.in_flight(), 10);
    // Below 11 at once; below 8 only after three are done.
    tokio::time::timeout(SOON, dispatcher.wait_below(11))
        .await
        .expect("10 < 11");
    let waiting = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.wait_below(8).await }
    });
    handler.gate.add_permits(2);
    tokio::time::sleep(SOON).await;
    assert!(!waiting.is_finished(), "8 still in flight");
    handler.gate.add_permits(1);
    tokio::time::timeout(WAIT, waiting)
        .await
        .expect("7 < 8")
        .unwrap();

    let idle = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.became_idle().await }
    });
    tokio::time::sleep(SOON).await;
    assert!(!idle.is_finished(), "7 still in flight");
    handler.gate.add_permits(7);
    tokio::time::timeout(WAIT, idle)
        .await
        .expect("idle once the last is done")
        .unwrap();
    assert_eq!(dispatcher.in_flight(), 0);
    dispatcher.shutdown().await;
}
