//! Request posts that can be found again: each carries the request ID in its `props`
//! (Mattermost keeps them with the post; the Go plugin's plugin data is not touched), and
//! `GET channels/{id}/posts?page=` lists a channel's posts newest first, so a replica that takes
//! over, or retries a post whose answer was lost, finds the one already made.

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{MattermostApi, MattermostError, Post};

/// Mattermost's largest page of posts.
pub const POSTS_PAGE: usize = 200;

/// The `props` key holding the request ID of a request post.
pub const REQUEST_ID_PROP: &str = "teleport_request_id";

/// A post as listed by [`MattermostApi::posts_since`]: what the lookup needs of it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FoundPost {
    /// Post ID.
    pub id: String,
    /// The channel it is in.
    pub channel_id: String,
    /// The thread root for replies, empty for a root post.
    #[serde(default)]
    pub root_id: String,
    /// Creation time, Unix milliseconds.
    #[serde(default)]
    pub create_at: u64,
    /// The post's properties.
    #[serde(default)]
    pub props: Map<String, Value>,
}

impl FoundPost {
    /// The request this post was made for, when it is a request post.
    pub fn request_id(&self) -> Option<&str> {
        self.props.get(REQUEST_ID_PROP).and_then(Value::as_str)
    }
}

/// The documented answer: post IDs newest first, and the posts by ID.
#[derive(Deserialize)]
struct PostList {
    #[serde(default)]
    order: Vec<String>,
    #[serde(default)]
    posts: HashMap<String, FoundPost>,
}

impl MattermostApi {
    /// `POST posts`: a request's root post, marked with its request ID in `props`.
    pub async fn create_request_post(
        &self,
        channel_id: &str,
        message: &str,
        request_id: &str,
    ) -> Result<Post, MattermostError> {
        let body = json!({
            "channel_id": channel_id,
            "message": message,
            "props": { REQUEST_ID_PROP: request_id },
        });
        self.call(Method::POST, &["posts"], Some(body)).await
    }

    /// `GET channels/{id}/posts?page=&per_page=`: one page of the channel's posts, newest
    /// first (`since` would be simpler, but Mattermost caps its answer at 1 000 posts and
    /// cannot page it, so a busy channel could hide the post looked for).
    pub async fn posts_page(
        &self,
        channel_id: &str,
        page: usize,
    ) -> Result<Vec<FoundPost>, MattermostError> {
        let (page, per_page) = (page.to_string(), POSTS_PAGE.to_string());
        let mut list: PostList = self
            .call_with_query(
                Method::GET,
                &["channels", channel_id, "posts"],
                &[("page", &page), ("per_page", &per_page)],
                None,
            )
            .await?;
        Ok(list
            .order
            .iter()
            .filter_map(|id| list.posts.remove(id))
            .collect())
    }
}
