//! Gathering what [`decision::assess`] needs for one issue, from GitLab (the issue, its label
//! events, the setter's membership and latest note) and Teleport (the named request's
//! record), and finding the issues worth assessing when polling. The webhook and the poller
//! both end here, so a decision is the same however it was learned; applying it (once, and
//! only while the request is pending) is the runtime's decision writer's job.

use std::ops::ControlFlow;
use std::time::Duration;

use teleport_client::{ClientError, StateChange, TeleportClient};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::PLUGIN_NAME;
use crate::client::{GitlabApi, GitlabError, IssueQuery, Note};
use crate::decision::{self, Assessment, Decision, Facts, Verdict};
use crate::record::IssueRecord;
use crate::render;

/// How far back the first poll after start-up looks: a request cannot stay pending longer
/// than Teleport's longest request TTL (a week).
pub const FIRST_SCAN_LOOKBACK: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why an issue could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    /// GitLab failed.
    #[error(transparent)]
    Gitlab(#[from] GitlabError),
    /// Teleport failed.
    #[error(transparent)]
    Teleport(#[from] ClientError),
}

impl AssessError {
    /// Whether trying again later may succeed (the poll or the delivery is to be retried).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Gitlab(error) => {
                error.is_transient() || matches!(error, GitlabError::Refused { .. })
            }
            Self::Teleport(error) => error.is_connection_problem(),
        }
    }
}

impl Decision {
    /// The Teleport call that applies the decision.
    pub fn state_change(&self) -> StateChange {
        StateChange {
            request_id: self.request_id.clone(),
            state: self.verdict.state(),
            delegator: self.delegator.clone(),
            reason: self.reason.clone(),
            annotations: Default::default(),
        }
    }
}

/// Issues a poll found worth assessing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Issue numbers carrying a decision label and a request ID, oldest change first.
    pub candidates: Vec<u64>,
    /// The latest `updated_at` among all issues listed (logged by the poller; the runtime's
    /// poll driver decides where the next poll starts); `None` when nothing was listed.
    pub newest_change: Option<OffsetDateTime>,
}

/// Looks at issues on behalf of the webhook and the poller.
#[derive(Clone)]
pub struct Assessor {
    api: GitlabApi,
    client: TeleportClient,
    plugin_user_id: u64,
    min_access_level: u8,
}

impl std::fmt::Debug for Assessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assessor")
            .field("api", &self.api)
            .field("plugin_user_id", &self.plugin_user_id)
            .field("min_access_level", &self.min_access_level)
            .finish_non_exhaustive()
    }
}

impl Assessor {
    /// An assessor acting with `api` and `client`; labels set by `plugin_user_id` (the
    /// token's owner) never count, and setters need `min_access_level`.
    pub fn new(
        api: GitlabApi,
        client: TeleportClient,
        plugin_user_id: u64,
        min_access_level: u8,
    ) -> Self {
        Self {
            api,
            client,
            plugin_user_id,
            min_access_level,
        }
    }

    /// Assesses issue `iid` of `project` as it is now; the few calls after the first two are
    /// made only when the issue carries a decision label.
    pub async fn assess(&self, project: u64, iid: u64) -> Result<Assessment, AssessError> {
        let issue = match self.api.issue(project, iid).await {
            Ok(issue) => issue,
            Err(GitlabError::NotFound { .. }) => return Ok(Assessment::Nothing),
            Err(error) => return Err(error.into()),
        };
        let events = self.api.label_events(project, iid).await?;
        let Some(choice) = decision::decision_label(&issue, &events) else {
            return Ok(Assessment::Nothing);
        };
        let record = match render::request_id_in(issue.description()) {
            Some(request_id) => self
                .client
                .get_plugin_data(PLUGIN_NAME, &request_id)
                .await?
                .map(|data| IssueRecord::decode(&data)),
            None => None,
        };
        let mut setter_access = None;
        let mut notes = Vec::new();
        if let Some(setter) = choice.setter_id().filter(|id| *id != self.plugin_user_id) {
            setter_access = self
                .api
                .member(project, setter)
                .await?
                .map(|m| m.access_level);
            if setter_access.is_some_and(|level| level >= self.min_access_level) {
                notes.extend(self.latest_note_by(project, iid, setter).await?);
            }
        }
        let assessment = decision::assess(&Facts {
            issue: &issue,
            events: &events,
            notes: &notes,
            record: record.as_ref(),
            setter_access,
            plugin_user_id: self.plugin_user_id,
            min_access_level: self.min_access_level,
        });
        match &assessment {
            Assessment::Decide(decision) => {
                tracing::info!(request_id = %decision.request_id, gitlab_issue_iid = iid, gitlab_user = %decision.username, access_level = decision.access_level, verdict = ?decision.verdict, "decision label set in GitLab");
            }
            // Someone without the rights tried to decide, or an issue was tampered with.
            Assessment::Ignore(why) => {
                tracing::warn!(
                    gitlab_project_id = project,
                    gitlab_issue_iid = iid,
                    label = choice.label,
                    "ignoring the decision label: {why}"
                );
            }
            Assessment::Nothing => {}
        }
        Ok(assessment)
    }

    /// The newest note `user_id` wrote on the issue (notes come newest first).
    async fn latest_note_by(
        &self,
        project: u64,
        iid: u64,
        user_id: u64,
    ) -> Result<Option<Note>, GitlabError> {
        let mut found = None;
        self.api
            .notes(project, iid, |note| {
                if !note.system && note.author.id == user_id {
                    found = Some(note);
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await?;
        Ok(found)
    }

    /// Issues of `project` changed at or after `since`, open or closed (a member may label
    /// and close in one go), that carry a decision label and name a request.
    pub async fn scan(&self, project: u64, since: OffsetDateTime) -> Result<Scan, GitlabError> {
        let query = IssueQuery {
            updated_after: since.format(&Rfc3339).ok(),
            oldest_change_first: true,
            ..IssueQuery::default()
        };
        let mut scan = Scan::default();
        self.api
            .find_issues(project, &query, |issue| {
                if let Ok(changed) = OffsetDateTime::parse(&issue.updated_at, &Rfc3339) {
                    scan.newest_change = scan.newest_change.max(Some(changed));
                }
                let decision_label = issue
                    .labels
                    .iter()
                    .any(|label| Verdict::of_label(label).is_some());
                if decision_label && render::request_id_in(issue.description()).is_some() {
                    scan.candidates.push(issue.iid);
                }
                ControlFlow::Continue(())
            })
            .await?;
        Ok(scan)
    }
}
