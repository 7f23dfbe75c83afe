//! Jira as the runtime's [`IssueTracker`]: what an issue, a comment and the closing
//! transition are in Jira's API. The order of the work, the leases and the retries are the
//! runtime's [`TrackerHandler`]: open the issue once, comment each review once, and resolve
//! the issue once (a resolution comment, then the transition to Approved / Denied /
//! Expired).

use std::ops::ControlFlow;

use teleport_client::{AccessRequest, AccessReview};
use teleport_plugin_runtime::health::HealthCheck;
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_runtime::service_error::ServiceError;
use teleport_plugin_runtime::tracker::{IssueTracker, TrackerHandler};

use crate::client::{JiraClient, NewIssue};
use crate::config::JiraConfig;
use crate::record::JiraIssue;
use crate::render;
use crate::search::{Search, quoted};

/// The issue property naming the request (Go's key): how an issue is tied to its request.
pub const REQUEST_ID_PROPERTY: &str = "teleportAccessRequestId";

/// The Jira plugin's request handling; shared with the inbound side (which resolves an
/// issue whose request is gone).
pub type JiraHandler = TrackerHandler<Jira>;

/// Jira's API calls and texts for the shared flow.
pub struct Jira {
    jira: JiraClient,
    /// `[jira]`: the project, the issue type, and the start-up checks.
    settings: JiraConfig,
    /// `https://<proxy>` for links to requests, when the cluster has them.
    web_base: Option<String>,
}

impl Jira {
    /// The tracker writing to `jira` as `settings` say, linking to requests under `web_base`.
    pub fn new(jira: JiraClient, settings: JiraConfig, web_base: Option<String>) -> Self {
        Self {
            jira,
            settings,
            web_base,
        }
    }
}

/// How far back the look for an unrecorded issue reaches when the request's creation time
/// is unknown.
const UNKNOWN_AGE_MINUTES: i64 = 24 * 60;

/// The query for the issue of `project` whose description names `request_id` (the plugin
/// writes `Request ID: *<id>*` into every description it opens), updated within the last
/// `minutes` (an issue's update time is never before its creation; Jira Cloud also wants
/// every search bounded). A phrase search, so Jira matches the ID's parts in order; it
/// finds one issue, or a few that quote the ID, where listing the project's recent issues
/// would page through thousands under load. Jira's text index trails a create by seconds,
/// far less than a lease lasts, so an issue left by a crashed replica is indexed by the
/// time another replica takes the request over.
fn request_issue_query(project: &str, request_id: &str, minutes: u64) -> String {
    format!(
        "project = {} AND updated >= \"-{minutes}m\" AND description ~ {}",
        quoted(project),
        quoted(&format!("\"{request_id}\""))
    )
}

/// Whole minutes since `request` was created, plus slack for Jira's rounding to the minute
/// and clocks apart.
fn minutes_since_created(request: &AccessRequest) -> u64 {
    let age = request.created.map_or(UNKNOWN_AGE_MINUTES, |created| {
        (time::OffsetDateTime::now_utc() - created).whole_minutes()
    });
    u64::try_from(age.max(0)).unwrap_or(0) + 2
}

/// The transition that moves an issue to the resolution's status.
pub struct PlannedTransition {
    id: String,
    status: String,
    issue_key: String,
}

fn tag(resolution: Resolution) -> String {
    resolution.as_str().to_ascii_lowercase()
}

impl HealthCheck for Jira {
    fn service_name(&self) -> &'static str {
        "Jira API"
    }

    /// Go's start-up checks, one clear error each: the credentials (`myself`), the project
    /// (and the issue type, when Jira lists them), and the four project permissions.
    async fn check_health(&self) -> Result<(), ServiceError> {
        let settings = &self.settings;
        let me = crate::check_jira(&self.jira, settings).await?;
        tracing::info!(jira_user = %me.display_name.clone().unwrap_or_default(), url = %settings.url, project = %settings.project, "Jira API health check passed");
        Ok(())
    }
}

impl IssueTracker for Jira {
    type Issue = JiraIssue;
    type Closing = PlannedTransition;

    const NAME: &'static str = "Jira";
    const COMMENT_KIND: &'static str = "comment";
    const CLOSE_KIND: &'static str = "transition";

    /// A crash between the create and its record leaves an issue carrying the request's ID
    /// property: found by a text search for the ID in the description, then checked by the
    /// property (the search is only a sieve: anyone can quote an ID in an issue), so the
    /// next attempt continues it instead of opening a second one. The search stops at the
    /// first issue that passes.
    async fn find_unrecorded(
        &self,
        request: &AccessRequest,
    ) -> Result<Option<JiraIssue>, ServiceError> {
        let jql = request_issue_query(
            &self.settings.project,
            &request.id,
            minutes_since_created(request),
        );
        let search = Search {
            jql: &jql,
            fields: "status",
            expand: "",
            properties: REQUEST_ID_PROPERTY,
        };
        let mut found = None;
        self.jira
            .search(search, |issue| {
                if issue.property(REQUEST_ID_PROPERTY).as_deref() != Some(request.id.as_str()) {
                    return ControlFlow::Continue(());
                }
                found = Some(JiraIssue {
                    id: issue.id,
                    key: issue.key,
                });
                ControlFlow::Break(())
            })
            .await?;
        Ok(found)
    }

    async fn open(&self, request: &AccessRequest) -> Result<JiraIssue, ServiceError> {
        let settings = &self.settings;
        let issue = NewIssue {
            project: settings.project.clone(),
            issue_type: settings.issue_type.clone(),
            summary: render::summary(request),
            description: render::description(request, self.web_base.as_deref()),
            properties: vec![(REQUEST_ID_PROPERTY.to_owned(), request.id.clone())],
        };
        let created = self.jira.create_issue(&issue).await?;
        tracing::info!(jira_issue_id = %created.id, jira_issue_key = %created.key, "Jira issue created");
        Ok(JiraIssue {
            id: created.id,
            key: created.key,
        })
    }

    fn review_comment(&self, review: &AccessReview) -> String {
        render::review_comment(review)
    }

    fn resolution_comment(&self, resolution: Resolution, reason: &str) -> String {
        render::resolution_comment(resolution, reason)
    }

    fn resolve_reason(&self, request: &AccessRequest) -> String {
        render::truncate(&request.resolve_reason, render::REASON_LIMIT).to_owned()
    }

    async fn comment(&self, issue: &JiraIssue, text: &str) -> Result<bool, ServiceError> {
        self.jira.add_comment(&issue.id, text).await?;
        Ok(true)
    }

    /// The transition to the status named like the resolution, unless the issue is there
    /// already.
    async fn prepare_close(
        &self,
        issue: &JiraIssue,
        resolution: Resolution,
    ) -> Result<Option<PlannedTransition>, ServiceError> {
        let target = tag(resolution);
        let current = self.jira.get_issue(&issue.id, REQUEST_ID_PROPERTY).await?;
        if current.status().eq_ignore_ascii_case(&target) {
            return Ok(None);
        }
        let Some(transition) = current
            .transitions
            .iter()
            .find(|t| t.to.name.eq_ignore_ascii_case(&target))
        else {
            tracing::warn!(jira_issue_id = %issue.id, status = %current.status(), "the issue offers no transition to a status named {target}; add one to the project's workflow");
            return Ok(None);
        };
        Ok(Some(PlannedTransition {
            id: transition.id.clone(),
            status: transition.to.name.clone(),
            issue_key: current.key.clone(),
        }))
    }

    async fn close(
        &self,
        issue: &JiraIssue,
        transition: &PlannedTransition,
    ) -> Result<(), ServiceError> {
        self.jira.transition(&issue.id, &transition.id).await?;
        tracing::info!(jira_issue_id = %issue.id, jira_issue_key = %transition.issue_key, status = %transition.status, "moved the Jira issue");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_look_up_is_a_bounded_phrase_search_for_the_request_id() {
        assert_eq!(
            request_issue_query("TD2", "4e5c0d9a-1b2c-4d3e-8f90-a1b2c3d4e5f6", 7),
            r#"project = "TD2" AND updated >= "-7m" AND description ~ "\"4e5c0d9a-1b2c-4d3e-8f90-a1b2c3d4e5f6\"""#
        );
    }
}
