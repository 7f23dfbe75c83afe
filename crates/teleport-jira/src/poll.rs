//! Polling Jira for decisions (ours; no public URL needed): a bounded JQL search — the
//! project's issues in Approved or Denied updated within the driver's window — each hit
//! handed to [`Inbound`]. A failure for any issue fails the poll after the others are done,
//! so the driver keeps looking back far enough to see it again.

use std::ops::ControlFlow;
use std::sync::Arc;

use teleport_plugin_runtime::inbound::{LongestWait, PollWindow, Poller, SeenFailure};
use teleport_plugin_runtime::service_error::ServiceError;

use crate::client::{Issue, Search};
use crate::decision::{Inbound, Seen, SeenError};
use crate::handler::REQUEST_ID_PROPERTY;
use crate::search::quoted;

/// The poller of one project.
pub struct JiraPoller {
    inbound: Arc<Inbound>,
    project: String,
}

impl JiraPoller {
    /// Polls `project` and applies what it finds through `inbound`.
    pub fn new(inbound: Arc<Inbound>, project: impl Into<String>) -> Self {
        Self {
            inbound,
            project: project.into(),
        }
    }
}

/// The query for decisions in `project` updated within the last `minutes`.
pub fn decisions_query(project: &str, minutes: u64) -> String {
    format!(
        "project = {} AND status in (\"Approved\", \"Denied\") AND updated >= \"-{minutes}m\" ORDER BY updated DESC",
        quoted(project)
    )
}

impl Poller for JiraPoller {
    async fn poll(&self, window: PollWindow) -> Result<usize, ServiceError> {
        // Jira counts relative dates in whole minutes; one more covers the rounding.
        let minutes = window.lookback.as_secs().div_ceil(60) + 1;
        let jql = decisions_query(&self.project, minutes);
        let search = Search {
            jql: &jql,
            fields: "status",
            expand: "changelog",
            properties: REQUEST_ID_PROPERTY,
        };
        let mut issues: Vec<Issue> = Vec::new();
        self.inbound
            .jira
            .search(search, |issue| {
                issues.push(issue);
                ControlFlow::Continue(())
            })
            .await
            .map_err(ServiceError::from)?;
        let mut applied = 0;
        let mut retry = LongestWait::default();
        for issue in &issues {
            match self.inbound.on_issue(issue).await {
                Ok(Seen::Applied) => applied += 1,
                Ok(_) => {}
                Err(error) if error.is_transient() => {
                    tracing::warn!(jira_issue_key = %issue.key, %error, "cannot apply the issue's decision now; the next poll tries again");
                    retry.note(error.service_error());
                }
                Err(error @ SeenError::Mismatch { .. }) => {
                    tracing::warn!(jira_issue_key = %issue.key, %error, "issue ignored");
                }
                Err(error) => {
                    tracing::error!(jira_issue_key = %issue.key, %error, "cannot apply the issue's decision");
                }
            }
        }
        tracing::debug!(
            found = issues.len(),
            applied,
            minutes,
            "polled Jira for decisions"
        );
        retry.result(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_bounded_and_quoted() {
        assert_eq!(
            decisions_query("TD2", 11),
            "project = \"TD2\" AND status in (\"Approved\", \"Denied\") AND updated >= \"-11m\" ORDER BY updated DESC"
        );
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
