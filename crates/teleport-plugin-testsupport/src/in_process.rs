//! A plugin run as a task in the test's own runtime, stopped through its cancellation
//! token.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A plugin running in-process.
pub struct InProcessPlugin {
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    stop_within: Duration,
}

impl InProcessPlugin {
    /// Spawns `run` with a fresh stop token; [`shutdown`](Self::shutdown) gives it
    /// `stop_within` to return.
    pub fn spawn<F>(stop_within: Duration, run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(stop.clone()));
        Self {
            stop,
            task,
            stop_within,
        }
    }

    /// Cancels the plugin and asserts it stops in time, without panicking or an error.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let result = tokio::time::timeout(self.stop_within, self.task)
            .await
            .expect("the plugin stops in time")
            .expect("the plugin task does not panic");
        result.expect("the plugin shuts down cleanly");
    }
}

/// Runs a plugin's start-up expecting it to fail within `within`; returns the whole
/// error chain as the CLI would print it.
pub async fn startup_error(
    within: Duration,
    run: impl Future<Output = anyhow::Result<()>>,
) -> String {
    let result = tokio::time::timeout(within, run)
        .await
        .expect("start-up ends in time");
    format!("{:#}", result.expect_err("start-up fails"))
}
