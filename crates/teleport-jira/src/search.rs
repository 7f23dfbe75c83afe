//! Searching issues with JQL: `search/jql` with `nextPageToken` (Jira Cloud, where the classic
//! `search` answers 410 Gone since 2025), and the classic `search` with `startAt` where
//! `search/jql` does not exist (Data Center / Server). The one that works is remembered.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::{CLASSIC, JQL, JiraClient, MAX_PAGES, UNKNOWN, decode};
use crate::error::JiraError;
use crate::types::Issue;

/// Jira Cloud's search page size limit for issues with fields.
const SEARCH_PAGE: usize = 100;

/// One search: the JQL and what each issue found comes with (comma-separated lists).
#[derive(Clone, Copy, Debug)]
pub struct Search<'a> {
    /// The query.
    pub jql: &'a str,
    /// The fields of each issue.
    pub fields: &'a str,
    /// What to expand (`changelog`).
    pub expand: &'a str,
    /// The entity properties of each issue.
    pub properties: &'a str,
}

/// `text` as a JQL string literal (the plugin's queries name the project with it).
pub(crate) fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A page of results: `search/jql` says where the next one starts, the classic search how
/// many there are.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    issues: Vec<Issue>,
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(default)]
    total: usize,
}

/// Which search endpoint works on this Jira.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchApi {
    /// `rest/api/2/search/jql` with `nextPageToken` (Jira Cloud).
    Jql,
    /// `rest/api/2/search` with `startAt` (Data Center / Server).
    Classic,
}

impl JiraClient {
    /// The search endpoint found to work, once a search succeeded.
    pub fn search_api(&self) -> Option<SearchApi> {
        match self.search_api.load(Ordering::Relaxed) {
            JQL => Some(SearchApi::Jql),
            CLASSIC => Some(SearchApi::Classic),
            _ => None,
        }
    }

    /// Every issue `search` finds, page after page, handed to `visit` until it breaks (no
    /// further page is asked for then); `search/jql` first, the classic search where it does
    /// not exist.
    pub async fn search(
        &self,
        search: Search<'_>,
        mut visit: impl FnMut(Issue) -> ControlFlow<()>,
    ) -> Result<(), JiraError> {
        let known = self.search_api.load(Ordering::Relaxed);
        if known != CLASSIC {
            match self.search_jql(search, &mut visit).await {
                Err(JiraError::NotFound { .. }) if known == UNKNOWN => {
                    tracing::info!(
                        "this Jira has no search/jql endpoint (Data Center or Server); using the classic search"
                    );
                }
                Ok(()) => {
                    self.search_api.store(JQL, Ordering::Relaxed);
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        let result = self.search_classic(search, &mut visit).await;
        if result.is_ok() {
            self.search_api.store(CLASSIC, Ordering::Relaxed);
        } else if let Err(JiraError::Api { status: 410, .. }) = &result {
            // The classic search is gone (Jira Cloud): use search/jql from now on.
            self.search_api.store(JQL, Ordering::Relaxed);
        }
        result
    }

    async fn search_jql(
        &self,
        search: Search<'_>,
        visit: &mut impl FnMut(Issue) -> ControlFlow<()>,
    ) -> Result<(), JiraError> {
        let url = self.url(&["search", "jql"], &[]);
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut body = json!({
                "jql": search.jql,
                "maxResults": SEARCH_PAGE,
                "fields": search.fields.split(',').collect::<Vec<_>>(),
                "expand": search.expand,
                "properties": search.properties.split(',').collect::<Vec<_>>(),
            });
            if let Some(token) = &token {
                body["nextPageToken"] = json!(token);
            }
            let page: Page = decode(self.call(Method::POST, url.clone(), Some(&body)).await?)?;
            if visit_all(page.issues, visit).is_break() {
                return Ok(());
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(()),
            }
        }
        tracing::warn!("Jira kept announcing more search results; stopped after {MAX_PAGES} pages");
        Ok(())
    }

    async fn search_classic(
        &self,
        search: Search<'_>,
        visit: &mut impl FnMut(Issue) -> ControlFlow<()>,
    ) -> Result<(), JiraError> {
        let mut start = 0usize;
        for _ in 0..MAX_PAGES {
            let start_text = start.to_string();
            let max = SEARCH_PAGE.to_string();
            let page: Page = self
                .get(
                    &["search"],
                    &[
                        ("jql", search.jql),
                        ("startAt", &start_text),
                        ("maxResults", &max),
                        ("fields", search.fields),
                        ("expand", search.expand),
                        ("properties", search.properties),
                    ],
                )
                .await?;
            let received = page.issues.len();
            if visit_all(page.issues, visit).is_break() {
                return Ok(());
            }
            start += received;
            if received == 0 || start >= page.total {
                return Ok(());
            }
        }
        tracing::warn!("Jira kept announcing more search results; stopped after {MAX_PAGES} pages");
        Ok(())
    }
}

/// Hands `issues` to `visit` in order, until it breaks.
fn visit_all(
    issues: Vec<Issue>,
    visit: &mut impl FnMut(Issue) -> ControlFlow<()>,
) -> ControlFlow<()> {
    issues.into_iter().try_for_each(visit)
}
