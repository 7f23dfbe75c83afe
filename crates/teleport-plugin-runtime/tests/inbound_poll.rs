//! The poll driver with a scripted upstream: cadence, backoff, `Retry-After`, the look-back
//! window after failures, and stopping.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use teleport_plugin_runtime::inbound::{PollOptions, PollWindow, Poller, run_poller};
use teleport_plugin_runtime::service_error::ServiceError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What one poll answers.
enum Answer {
    Ok,
    /// A transient failure, with the upstream's `Retry-After`.
    Down(Option<Duration>),
    /// A permanent failure (bad credentials).
    Refused,
}

/// Answers from a script (then `Ok`), recording when each poll ran and its window.
struct Scripted {
    answers: Mutex<VecDeque<Answer>>,
    polls: Mutex<Vec<(Instant, SystemTime, PollWindow)>>,
    stop_after: usize,
    stop: CancellationToken,
}

impl Scripted {
    fn new(answers: Vec<Answer>, stop_after: usize) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            polls: Mutex::new(Vec::new()),
            stop_after,
            stop: CancellationToken::new(),
        }
    }

    fn polls(&self) -> Vec<(Instant, SystemTime, PollWindow)> {
        self.polls.lock().unwrap().clone()
    }
}

impl Poller for Scripted {
    async fn poll(&self, window: PollWindow) -> Result<usize, ServiceError> {
        let count = {
            let mut polls = self.polls.lock().unwrap();
            polls.push((Instant::now(), SystemTime::now(), window));
            polls.len()
        };
        if count >= self.stop_after {
            self.stop.cancel();
        }
        match self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Ok)
        {
            Answer::Ok => Ok(1),
            Answer::Down(after) => Err(ServiceError::Transient {
                message: "Jira is down".to_owned(),
                retry_after: after,
                answered: true,
            }),
            Answer::Refused => Err(ServiceError::unauthorized("401 Unauthorized")),
        }
    }
}

fn options() -> PollOptions {
    PollOptions {
        jitter: 0.0,
        ..PollOptions::every(Duration::from_secs(30))
    }
}

fn gaps(polls: &[(Instant, SystemTime, PollWindow)]) -> Vec<Duration> {
    polls.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

#[tokio::test(start_paused = true)]
async fn polls_at_once_then_every_interval() {
    let poller = Scripted::new(vec![], 4);
    run_poller(&poller, &options(), &poller.stop.clone()).await;
    let polls = poller.polls();
    assert_eq!(polls.len(), 4);
    for gap in gaps(&polls) {
        assert_eq!(gap, Duration::from_secs(30));
    }
    assert_eq!(
        polls[0].2.lookback,
        Duration::from_secs(24 * 3600),
        "the first poll catches up"
    );
    assert_eq!(polls[1].2.lookback, Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_and_retry_after_is_honoured() {
    let poller = Scripted::new(
        vec![
            Answer::Ok,
            Answer::Down(Some(Duration::from_secs(120))),
            Answer::Down(None),
            Answer::Ok,
        ],
        5,
    );
    let options = options();
    run_poller(&poller, &options, &poller.stop.clone()).await;
    let polls = poller.polls();
    let gaps = gaps(&polls);
    assert_eq!(gaps[0], Duration::from_secs(30));
    assert!(
        gaps[1] >= Duration::from_secs(120),
        "Retry-After: {:?}",
        gaps[1]
    );
    assert!(
        gaps[2] >= options.backoff_base && gaps[2] <= options.backoff_cap,
        "backoff: {:?}",
        gaps[2]
    );
    assert_eq!(
        gaps[3],
        Duration::from_secs(30),
        "back to the interval after a success"
    );

    // Every poll after the failures still looks back to the last one that worked.
    let last_success = polls[0].1;
    for poll in &polls[1..=3] {
        assert!(
            poll.2.since <= last_success,
            "{:?} vs {:?}",
            poll.2.since,
            last_success
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_keeps_polling_at_the_slowest_pace() {
    let poller = Scripted::new(vec![Answer::Refused], 2);
    let options = options();
    run_poller(&poller, &options, &poller.stop.clone()).await;
    let polls = poller.polls();
    assert_eq!(gaps(&polls)[0], options.backoff_cap);
}

#[tokio::test(start_paused = true)]
async fn the_stop_token_ends_a_wait_at_once() {
    let poller = Scripted::new(
        vec![Answer::Down(Some(Duration::from_secs(3600)))],
        usize::MAX,
    );
    let stop = CancellationToken::new();
    let started = Instant::now();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        stopper.cancel();
    });
    run_poller(&poller, &options(), &stop).await;
    assert_eq!(poller.polls().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(6));
}
