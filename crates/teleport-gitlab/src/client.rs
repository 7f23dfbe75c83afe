//! GitLab REST API v4 client: the calls the plugin makes, one HTTP request each (lists
//! follow `Link: <…>; rel="next"` page by page), with errors sorted by what to do about them.
//!
//! Retries belong to the caller: a 429 comes back as [`GitlabError::RateLimited`] with
//! GitLab's `Retry-After`, a 5xx or a network failure as [`GitlabError::Transient`].

mod error;
mod model;

use std::ops::ControlFlow;

use reqwest::header::{ACCEPT, HeaderValue, LINK};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use teleport_plugin_runtime::config::Secret;

pub use error::GitlabError;
use error::status_error;
pub use model::{
    Hook, HookSpec, Issue, IssueQuery, IssueUpdate, Label, LabelEvent, LabelRef, Member, NewIssue,
    Note, Project, User,
};
use teleport_plugin_runtime::http::{MAX_RESPONSE_BODY, read_body};
use teleport_plugin_runtime::service_error::TransportFailure;

use crate::config::ProjectRef;

/// GitLab's largest page.
const PER_PAGE: &str = "100";
/// A server that keeps linking to a next page is not followed forever.
const MAX_PAGES: usize = 1000;

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ApiSetupError {
    /// The URL is not a base URL.
    #[error("invalid GitLab URL: {0}")]
    Url(String),
    /// The token cannot be sent in a header.
    #[error("gitlab.token contains characters that cannot be sent in an HTTP header")]
    Token,
}

/// A GitLab REST API v4 client. Cheap to clone; the token never shows in `Debug`.
#[derive(Clone)]
pub struct GitlabApi {
    http: reqwest::Client,
    /// `<instance>/api/v4/`.
    base: Url,
    token: HeaderValue,
}

impl std::fmt::Debug for GitlabApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl GitlabApi {
    /// A client for the instance at `url` (e.g. `https://gitlab.com`) sending `token` as
    /// `PRIVATE-TOKEN`, over `http` (see the runtime's `http_client`).
    pub fn new(http: reqwest::Client, url: &str, token: &Secret) -> Result<Self, ApiSetupError> {
        let base = Url::parse(&format!("{}/api/v4/", url.trim_end_matches('/')))
            .map_err(|e| ApiSetupError::Url(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(ApiSetupError::Url(
                "expected an http:// or https:// URL".into(),
            ));
        }
        let mut token = HeaderValue::from_str(token.expose()).map_err(|_| ApiSetupError::Token)?;
        token.set_sensitive(true);
        Ok(Self { http, base, token })
    }

    /// `<base>/<segments…>`, each segment percent-encoded (a project path's `/` too).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn project_url(&self, project: u64, rest: &[&str]) -> Url {
        let id = project.to_string();
        let mut segments = vec!["projects", id.as_str()];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// One call: the status, headers and body of a 2xx answer, or the sorted error.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), GitlabError> {
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            .header("PRIVATE-TOKEN", self.token.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GitlabError::from_transport(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = read_body(response, MAX_RESPONSE_BODY)
            .await
            .map_err(GitlabError::from_body)?;
        if status.is_success() {
            return Ok((headers, bytes.to_vec()));
        }
        Err(status_error(status, &headers, &bytes))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<T, GitlabError> {
        let (_, bytes) = self.send(method, url, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| GitlabError::Unexpected {
            reason: format!("cannot read the answer: {e}"),
        })
    }

    /// Pages through a list from `url`, handing each item to `visit` until it breaks or
    /// the list ends. Only links to the same instance are followed: the token is never
    /// sent anywhere else.
    async fn list<T: DeserializeOwned>(
        &self,
        mut url: Url,
        mut visit: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<(), GitlabError> {
        url.query_pairs_mut().append_pair("per_page", PER_PAGE);
        for _ in 0..MAX_PAGES {
            let (headers, bytes) = self.send(Method::GET, url.clone(), None).await?;
            let items: Vec<T> =
                serde_json::from_slice(&bytes).map_err(|e| GitlabError::Unexpected {
                    reason: format!("cannot read a list page: {e}"),
                })?;
            for item in items {
                if visit(item).is_break() {
                    return Ok(());
                }
            }
            match next_link(&headers) {
                Some(next) if same_origin(&next, &self.base) => url = next,
                Some(next) => {
                    tracing::warn!(next = %next.origin().ascii_serialization(), "GitLab linked the next page to another host; not following it");
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
        tracing::warn!("GitLab kept linking to more pages; stopped after {MAX_PAGES}");
        Ok(())
    }

    async fn collect<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>, GitlabError> {
        let mut items = Vec::new();
        self.list(url, |item| {
            items.push(item);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(items)
    }

    /// `GET /projects/:id`: proves the token works and turns a path into the project ID.
    pub async fn project(&self, project: &ProjectRef) -> Result<Project, GitlabError> {
        let segment = project.to_string();
        self.call(Method::GET, self.url(&["projects", &segment]), None)
            .await
    }

    /// `GET /user`: the token's owner.
    pub async fn current_user(&self) -> Result<User, GitlabError> {
        self.call(Method::GET, self.url(&["user"]), None).await
    }

    /// Every label of the project, its groups' included, oldest first.
    pub async fn labels(&self, project: u64) -> Result<Vec<Label>, GitlabError> {
        self.collect(self.project_url(project, &["labels"])).await
    }

    /// Creates a project label; [`GitlabError::Conflict`] when the name exists.
    pub async fn create_label(
        &self,
        project: u64,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<Label, GitlabError> {
        let body = json!({ "name": name, "color": color, "description": description });
        self.call(
            Method::POST,
            self.project_url(project, &["labels"]),
            Some(&body),
        )
        .await
    }

    /// Every hook of the project (needs Maintainer).
    pub async fn hooks(&self, project: u64) -> Result<Vec<Hook>, GitlabError> {
        self.collect(self.project_url(project, &["hooks"])).await
    }

    /// Adds a project hook.
    pub async fn create_hook(&self, project: u64, spec: &HookSpec) -> Result<Hook, GitlabError> {
        self.call(
            Method::POST,
            self.project_url(project, &["hooks"]),
            Some(&spec.to_json()),
        )
        .await
    }

    /// Rewrites a project hook; [`GitlabError::NotFound`] when it is gone.
    pub async fn update_hook(
        &self,
        project: u64,
        hook_id: u64,
        spec: &HookSpec,
    ) -> Result<Hook, GitlabError> {
        let id = hook_id.to_string();
        self.call(
            Method::PUT,
            self.project_url(project, &["hooks", &id]),
            Some(&spec.to_json()),
        )
        .await
    }

    /// Deletes a project hook.
    pub async fn delete_hook(&self, project: u64, hook_id: u64) -> Result<(), GitlabError> {
        let id = hook_id.to_string();
        self.send(
            Method::DELETE,
            self.project_url(project, &["hooks", &id]),
            None,
        )
        .await
        .map(drop)
    }

    /// Opens an issue.
    pub async fn create_issue(&self, project: u64, new: &NewIssue) -> Result<Issue, GitlabError> {
        let body = json!({
            "title": new.title,
            "description": new.description,
            "labels": new.labels.join(","),
        });
        self.call(
            Method::POST,
            self.project_url(project, &["issues"]),
            Some(&body),
        )
        .await
    }

    /// One issue by its number.
    pub async fn issue(&self, project: u64, iid: u64) -> Result<Issue, GitlabError> {
        let iid = iid.to_string();
        self.call(
            Method::GET,
            self.project_url(project, &["issues", &iid]),
            None,
        )
        .await
    }

    /// Issues matching `query`, page after page, until `visit` breaks.
    pub async fn find_issues(
        &self,
        project: u64,
        query: &IssueQuery,
        visit: impl FnMut(Issue) -> ControlFlow<()>,
    ) -> Result<(), GitlabError> {
        let mut url = self.project_url(project, &["issues"]);
        query.append_to(&mut url);
        self.list(url, visit).await
    }

    /// Changes an issue's state and labels.
    pub async fn update_issue(
        &self,
        project: u64,
        iid: u64,
        update: &IssueUpdate,
    ) -> Result<Issue, GitlabError> {
        let iid = iid.to_string();
        self.call(
            Method::PUT,
            self.project_url(project, &["issues", &iid]),
            Some(&update.to_json()),
        )
        .await
    }

    /// Adds a note to an issue.
    pub async fn create_note(
        &self,
        project: u64,
        iid: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        let iid = iid.to_string();
        let body = json!({ "body": body });
        self.call(
            Method::POST,
            self.project_url(project, &["issues", &iid, "notes"]),
            Some(&body),
        )
        .await
    }

    /// An issue's notes, newest first, until `visit` breaks.
    pub async fn notes(
        &self,
        project: u64,
        iid: u64,
        visit: impl FnMut(Note) -> ControlFlow<()>,
    ) -> Result<(), GitlabError> {
        let iid = iid.to_string();
        let mut url = self.project_url(project, &["issues", &iid, "notes"]);
        url.query_pairs_mut()
            .append_pair("sort", "desc")
            .append_pair("order_by", "created_at");
        self.list(url, visit).await
    }

    /// Who added and removed which label on an issue, and when.
    pub async fn label_events(
        &self,
        project: u64,
        iid: u64,
    ) -> Result<Vec<LabelEvent>, GitlabError> {
        let iid = iid.to_string();
        self.collect(self.project_url(project, &["issues", &iid, "resource_label_events"]))
            .await
    }

    /// `user_id`'s membership of the project, inherited ones included; `None` when they
    /// are not a member.
    pub async fn member(&self, project: u64, user_id: u64) -> Result<Option<Member>, GitlabError> {
        let id = user_id.to_string();
        match self
            .call(
                Method::GET,
                self.project_url(project, &["members", "all", &id]),
                None,
            )
            .await
        {
            Ok(member) => Ok(Some(member)),
            Err(GitlabError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<Url> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""));
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| Url::parse(target).ok()).flatten()
    })
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;

    #[test]
    fn next_links_are_found_among_the_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://gitlab.example.com/api/v4/projects/1/labels?page=1&per_page=2>; rel=\"prev\", \
                 <https://gitlab.example.com/api/v4/projects/1/labels?page=3&per_page=2>; rel=\"next\", \
                 <https://gitlab.example.com/api/v4/projects/1/labels?page=1&per_page=2>; rel=\"first\"",
            ),
        );
        let next = next_link(&headers).unwrap();
        assert_eq!(next.query(), Some("page=3&per_page=2"));
        headers.insert(
            LINK,
            HeaderValue::from_static("<https://x/y>; rel=\"last\""),
        );
        assert_eq!(next_link(&headers), None);
    }

    #[test]
    fn project_paths_are_one_encoded_segment_and_the_token_is_hidden() {
        let http = teleport_plugin_runtime::http::http_client(&Default::default()).unwrap();
        let api = GitlabApi::new(
            http,
            "https://git.example.com/gitlab",
            &Secret::new("glpat-very-secret"),
        )
        .unwrap();
        let url = api.url(&["projects", "ops/access"]);
        assert_eq!(
            url.as_str(),
            "https://git.example.com/gitlab/api/v4/projects/ops%2Faccess"
        );
        assert!(!format!("{api:?}").contains("very-secret"));
    }
}
