//! Access monitoring rules (notification routing) and access lists (review reminders):
//! the newer Teleport services, paged, with the fallbacks older clusters need.

use tonic::transport::Channel;

use crate::client::{MAX_MESSAGE_SIZE, TeleportClient};
use crate::convert;
use crate::error::ClientError;
use crate::model::{AccessList, AccessListOwner, AccessMonitoringRule, RuleFilter};
use crate::wire::teleport::accesslist::v1 as accesslist;
use crate::wire::teleport::accesslist::v1::access_list_service_client::AccessListServiceClient;
use crate::wire::teleport::accessmonitoringrules::v1 as amr;
use crate::wire::teleport::accessmonitoringrules::v1::access_monitoring_rules_service_client::AccessMonitoringRulesServiceClient;

/// The resource kind of access monitoring rules (watch kind, event header kind).
pub const ACCESS_MONITORING_RULE_KIND: &str = "access_monitoring_rule";
/// Rules asked for per page, as the Go plugins do.
pub const RULE_PAGE_SIZE: i64 = 1000;
/// Pages followed at most: a server that keeps handing out next-page tokens must not keep
/// the plugin listing forever.
const MAX_PAGES: usize = 10_000;

impl TeleportClient {
    fn rules_service(&self) -> AccessMonitoringRulesServiceClient<Channel> {
        AccessMonitoringRulesServiceClient::new(self.channel())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
    }

    fn lists_service(&self) -> AccessListServiceClient<Channel> {
        AccessListServiceClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// Lists the access monitoring rules matching `filter`, every page.
    ///
    /// [`ClientError::Unimplemented`] on clusters without access monitoring rules,
    /// [`ClientError::AccessDenied`] when the role lacks `access_monitoring_rule: [list, read]`.
    pub async fn list_access_monitoring_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<AccessMonitoringRule>, ClientError> {
        const METHOD: &str = "ListAccessMonitoringRulesWithFilter";
        let mut rules = Vec::new();
        let mut page_token = String::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .rules_service()
                .list_access_monitoring_rules_with_filter(
                    amr::ListAccessMonitoringRulesWithFilterRequest {
                        page_size: RULE_PAGE_SIZE,
                        page_token: std::mem::take(&mut page_token),
                        subjects: filter.subjects.clone(),
                        notification_name: filter.notification_name.clone(),
                        automatic_review_name: String::new(),
                    },
                )
                .await
                .map_err(|s| ClientError::from_status(METHOD, s))?
                .into_inner();
            rules.extend(page.rules.into_iter().map(convert::access_monitoring_rule));
            if page.next_page_token.is_empty() {
                return Ok(rules);
            }
            page_token = page.next_page_token;
        }
        Err(too_many_pages(METHOD))
    }

    /// Lists every access list, every page.
    ///
    /// [`ClientError::Unimplemented`] on clusters without access lists,
    /// [`ClientError::AccessDenied`] when the role lacks `access_list: [list, read]`.
    pub async fn list_access_lists(&self) -> Result<Vec<AccessList>, ClientError> {
        const METHOD: &str = "ListAccessLists";
        let mut lists = Vec::new();
        let mut next_token = String::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .lists_service()
                .list_access_lists(accesslist::ListAccessListsRequest {
                    // 0: the server's default page size, as the Go plugins ask.
                    page_size: 0,
                    next_token: std::mem::take(&mut next_token),
                })
                .await
                .map_err(|s| ClientError::from_status(METHOD, s))?
                .into_inner();
            lists.extend(page.access_lists.into_iter().map(convert::access_list));
            if page.next_token.is_empty() {
                return Ok(lists);
            }
            next_token = page.next_token;
        }
        Err(too_many_pages(METHOD))
    }

    /// The owners of `list`, nested owners included; on clusters without
    /// `GetAccessListOwners` (before v15) the owners named in the list itself, as in Go.
    pub async fn get_access_list_owners(
        &self,
        list: &AccessList,
    ) -> Result<Vec<AccessListOwner>, ClientError> {
        let reply = self
            .lists_service()
            .get_access_list_owners(accesslist::GetAccessListOwnersRequest {
                access_list: list.name.clone(),
            })
            .await;
        match reply {
            Ok(reply) => Ok(reply
                .into_inner()
                .owners
                .into_iter()
                .map(convert::access_list_owner)
                .collect()),
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                tracing::warn!(
                    access_list = %list.name,
                    "this Teleport cannot list nested access-list owners; using the list's own owners"
                );
                Ok(list.owners.clone())
            }
            Err(status) => Err(ClientError::from_status("GetAccessListOwners", status)),
        }
    }
}

fn too_many_pages(method: &'static str) -> ClientError {
    ClientError::Other {
        method,
        code: tonic::Code::OutOfRange,
        message: format!("more than {MAX_PAGES} pages; giving up"),
    }
}
