//! Reviews a plugin submits for a person (Slack's review buttons): the users listing that
//! maps a chat user to a Teleport user, and the review authored by that user, which Teleport
//! authorises against the author's own roles.

use tonic::transport::Channel;

use crate::client::{MAX_MESSAGE_SIZE, TeleportClient};
use crate::convert;
use crate::error::ClientError;
use crate::model::{AccessRequest, ReviewSubmission, User};
use crate::wire::teleport::users::v1 as users_v1;
use crate::wire::teleport::users::v1::users_service_client::UsersServiceClient;

/// Users asked for per page.
const USER_PAGE_SIZE: i32 = 500;
/// Pages followed at most, so that a server handing out tokens forever cannot keep the
/// plugin listing.
const MAX_PAGES: usize = 10_000;

impl TeleportClient {
    fn users_service(&self) -> UsersServiceClient<Channel> {
        UsersServiceClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// Lists every user (without secrets), every page. Needs `user: [list, read]`.
    pub async fn list_users(&self) -> Result<Vec<User>, ClientError> {
        const METHOD: &str = "UsersService/ListUsers";
        let mut users = Vec::new();
        let mut page_token = String::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .users_service()
                .list_users(users_v1::ListUsersRequest {
                    page_size: USER_PAGE_SIZE,
                    page_token: std::mem::take(&mut page_token),
                    with_secrets: false,
                })
                .await
                .map_err(|s| ClientError::from_status(METHOD, s))?
                .into_inner();
            users.extend(page.users.into_iter().map(convert::user));
            if page.next_page_token.is_empty() {
                return Ok(users);
            }
            page_token = page.next_page_token;
        }
        Err(ClientError::Other {
            method: METHOD,
            code: tonic::Code::OutOfRange,
            message: format!("more than {MAX_PAGES} pages; giving up"),
        })
    }

    /// Submits a review authored by `review.author`, marked as submitted by this plugin on
    /// the author's behalf, as Go's Slack plugin does. Teleport accepts it only when this
    /// plugin's roles allow `review_requests.submit_for_users` for the author and the
    /// author's own roles may review the request; the plugin's rights never stand in for
    /// the author's.
    pub async fn submit_review_on_behalf(
        &self,
        review: &ReviewSubmission,
    ) -> Result<AccessRequest, ClientError> {
        self.submit(review, true).await
    }
}
