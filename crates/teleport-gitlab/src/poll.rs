//! Polling GitLab for decisions (ours; only outbound connections needed): the runtime's poll
//! driver asks every `[gitlab] poll_interval` for the project's issues changed within its
//! window (`Assessor::scan`, paged), and each one carrying a decision label is handed to
//! [`Inbound`]. The window starts at the last poll that succeeded, never at a cursor past a
//! failure, so a decision made while GitLab was down or rate-limiting is seen by the next
//! poll that works; a failure for one issue fails the poll after the others are done.

use std::sync::Arc;
use std::time::Duration;

use teleport_plugin_runtime::inbound::{LongestWait, PollOptions, PollWindow, Poller, SeenFailure};
use teleport_plugin_runtime::service_error::ServiceError;
use time::OffsetDateTime;

use crate::apply::{Inbound, Seen};
use crate::assess::FIRST_SCAN_LOOKBACK;

/// The poller of the project.
pub struct GitlabPoller {
    inbound: Arc<Inbound>,
}

impl GitlabPoller {
    /// Polls the project of `inbound` and applies what it finds through it.
    pub fn new(inbound: Arc<Inbound>) -> Self {
        Self { inbound }
    }
}

/// The driver's settings around `interval`: the first poll after start-up looks back a
/// week (a request stays pending at most that long), so decisions taken while no replica
/// ran are applied too.
pub fn options(interval: Duration) -> PollOptions {
    PollOptions {
        first_lookback: FIRST_SCAN_LOOKBACK,
        ..PollOptions::every(interval)
    }
}

impl Poller for GitlabPoller {
    async fn poll(&self, window: PollWindow) -> Result<usize, ServiceError> {
        let since = OffsetDateTime::from(window.since);
        let scan = self
            .inbound
            .assessor
            .scan(self.inbound.project_id, since)
            .await
            .map_err(ServiceError::from)?;
        let mut applied = 0;
        let mut retry = LongestWait::default();
        for &iid in &scan.candidates {
            match self.inbound.on_issue(iid).await {
                Ok(Seen::Applied) => applied += 1,
                Ok(_) => {}
                Err(error) if error.is_transient() => {
                    tracing::warn!(gitlab_issue_iid = iid, %error, "cannot apply the issue's decision now; the next poll tries again");
                    retry.note(error.service_error());
                }
                Err(error) => {
                    tracing::error!(gitlab_issue_iid = iid, %error, "cannot apply the issue's decision");
                }
            }
        }
        tracing::debug!(
            candidates = scan.candidates.len(),
            newest_change = ?scan.newest_change,
            applied,
            lookback = ?window.lookback,
            "polled GitLab for decisions"
        );
        retry.result(applied)
    }
}
