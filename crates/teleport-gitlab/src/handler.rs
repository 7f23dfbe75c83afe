//! GitLab as the runtime's [`IssueTracker`]: an issue opened with the pending label, each
//! review a note, and on resolution a note, then the pending label swapped for the
//! outcome's and the issue closed. The order of the work, the leases and the retries are
//! the runtime's [`TrackerHandler`].
//!
//! GitLab has no idempotency key; the one gap left, an issue opened just before a crash and
//! never recorded, is closed by looking for the request's ID in the project's issues before
//! opening one for a record that was stored before.

use std::ops::ControlFlow;
use std::sync::OnceLock;

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_runtime::service_error::ServiceError;
use teleport_plugin_runtime::tracker::{IssueTracker, TrackerHandler};

use crate::client::{GitlabApi, GitlabError, Issue, IssueQuery, IssueUpdate, NewIssue};
use crate::config::GitlabConfig;
use crate::record::GitlabIssue;
use crate::setup::{LabelKey, LabelNames};
use crate::{Started, render, start_gitlab};

/// The GitLab plugin's [`RequestHandler`](teleport_plugin_runtime::dispatch::RequestHandler);
/// its health check is the start-up against GitLab (token, project, labels, webhook), whose
/// findings the handling needs.
pub type GitlabHandler = TrackerHandler<Gitlab>;

/// GitLab's API calls and texts for the shared flow.
pub struct Gitlab {
    api: GitlabApi,
    /// `[gitlab]`: the project and the webhook to set up at start.
    settings: GitlabConfig,
    /// Where issues link requests to, when the cluster has a web address.
    web_base: Option<String>,
    /// What start-up found and set up; set once the health check passed.
    started: OnceLock<Started>,
}

impl HealthCheck for Gitlab {
    fn service_name(&self) -> &'static str {
        "GitLab API"
    }

    async fn check_health(&self) -> Result<(), ServiceError> {
        if self.started.get().is_none() {
            let started = start_gitlab(&self.api, &self.settings).await?;
            let _ = self.started.set(started);
        }
        Ok(())
    }
}

impl Gitlab {
    /// The tracker calling `api` for the project of `settings`; issues link to requests
    /// under `web_base`.
    pub fn new(api: GitlabApi, settings: GitlabConfig, web_base: Option<String>) -> Self {
        Self {
            api,
            settings,
            web_base,
            started: OnceLock::new(),
        }
    }

    /// What start-up found and set up in GitLab, once the health check passed.
    pub fn started_gitlab(&self) -> Option<&Started> {
        self.started.get()
    }

    /// What start-up found and set up. The runtime handles no request before the health
    /// check passed, so it is always there when a step runs.
    fn started(&self) -> Result<&Started, ServiceError> {
        self.started
            .get()
            .ok_or_else(|| ServiceError::transient("GitLab start-up has not finished"))
    }

    /// The plugin's label names in the project.
    fn labels(&self) -> Result<&LabelNames, ServiceError> {
        Ok(&self.started()?.labels)
    }

    /// The issue in `project` whose description carries this request's ID, if any.
    async fn find_issue(
        &self,
        project: u64,
        request_id: &str,
    ) -> Result<Option<Issue>, GitlabError> {
        let query = IssueQuery {
            search: Some(request_id.to_owned()),
            search_in: Some("description"),
            ..IssueQuery::default()
        };
        let mut found = None;
        self.api
            .find_issues(project, &query, |issue| {
                if render::request_id_in(issue.description()).as_deref() == Some(request_id) {
                    found = Some(issue);
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await?;
        Ok(found)
    }
}

impl IssueTracker for Gitlab {
    type Issue = GitlabIssue;
    type Closing = IssueUpdate;

    const NAME: &'static str = "GitLab";
    const COMMENT_KIND: &'static str = "note";
    const CLOSE_KIND: &'static str = "close";

    async fn find_unrecorded(
        &self,
        request: &AccessRequest,
    ) -> Result<Option<GitlabIssue>, ServiceError> {
        let project = self.started()?.project.id;
        let found = self.find_issue(project, &request.id).await?;
        Ok(found.as_ref().map(GitlabIssue::from))
    }

    async fn open(&self, request: &AccessRequest) -> Result<GitlabIssue, ServiceError> {
        let project = self.started()?.project.id;
        let new = NewIssue {
            title: render::issue_title(request),
            description: render::issue_description(request, self.web_base.as_deref()),
            labels: vec![self.labels()?.pending.clone()],
        };
        let issue = self.api.create_issue(project, &new).await?;
        tracing::info!(gitlab_project_id = issue.project_id, gitlab_issue_iid = issue.iid, url = %issue.web_url, "opened a GitLab issue");
        Ok(GitlabIssue::from(&issue))
    }

    fn review_comment(&self, review: &AccessReview) -> String {
        render::review_note(review)
    }

    fn resolution_comment(&self, resolution: Resolution, reason: &str) -> String {
        render::resolution_note(resolution, reason)
    }

    /// A 404 is the issue gone.
    async fn comment(&self, issue: &GitlabIssue, text: &str) -> Result<bool, ServiceError> {
        match self
            .api
            .create_note(issue.project_id, issue.iid, text)
            .await
        {
            Ok(_) => Ok(true),
            Err(GitlabError::NotFound { .. }) => Ok(false),
            Err(error) => Err(ServiceError::from(error)),
        }
    }

    /// Close, with the outcome's label in place of the pending one (and of any other of the
    /// plugin's labels, so the issue states one outcome; a promotion is an approval through
    /// an access list).
    async fn prepare_close(
        &self,
        _issue: &GitlabIssue,
        resolution: Resolution,
    ) -> Result<Option<IssueUpdate>, ServiceError> {
        let labels = self.labels()?;
        let outcome = match resolution {
            Resolution::Approved | Resolution::Promoted => LabelKey::Approved,
            Resolution::Denied => LabelKey::Denied,
            Resolution::Expired => LabelKey::Expired,
        };
        Ok(Some(IssueUpdate {
            state_event: Some("close"),
            add_labels: vec![labels.get(outcome).to_owned()],
            remove_labels: LabelKey::ALL
                .into_iter()
                .filter(|key| *key != outcome)
                .map(|key| labels.get(key).to_owned())
                .collect(),
        }))
    }

    async fn close(&self, issue: &GitlabIssue, update: &IssueUpdate) -> Result<(), ServiceError> {
        self.api
            .update_issue(issue.project_id, issue.iid, update)
            .await?;
        tracing::info!(gitlab_issue_iid = issue.iid, "closed the GitLab issue");
        Ok(())
    }
}
