//! The catch-up listings, held lean: access requests a page at a time instead of all at
//! once, and the IDs of a plugin's records without their data.
//!
//! After a watch overflow the plugin re-lists everything, which in a burst means tens of
//! thousands of requests and records; read whole, they made the process peak at
//! 53–65 MiB (issue 16). A caller of [`AccessRequestPages`] decides when it can take the
//! next page, and [`TeleportClient::list_plugin_data_ids`] decodes only names.

use std::collections::HashSet;

use tonic::codegen::http::uri::PathAndQuery;

use crate::client::{ACCESS_REQUEST_KIND, MAX_MESSAGE_SIZE, TeleportClient};
use crate::convert;
use crate::error::ClientError;
use crate::model::{AccessRequest, RequestFilter};
use crate::wire::types;

/// Access requests matching a filter, one page (ListAccessRequests) per call of
/// [`AccessRequestPages::next_page`]. A server without ListAccessRequests answers with
/// everything in one page.
pub struct AccessRequestPages {
    client: TeleportClient,
    filter: types::AccessRequestFilter,
    /// The next page's start key; `None` once the last page was returned.
    next: Option<String>,
}

impl AccessRequestPages {
    /// The next page, or `None` when every page was returned.
    pub async fn next_page(&mut self) -> Result<Option<Vec<AccessRequest>>, ClientError> {
        let Some(start_key) = self.next.take() else {
            return Ok(None);
        };
        if self.client.paged_listing() {
            match self.client.list_page(&self.filter, start_key).await {
                Ok((page, next_key)) => {
                    self.next = Some(next_key).filter(|key| !key.is_empty());
                    return Ok(Some(page));
                }
                // Only a first page can be refused this way: the server lacks the method.
                Err(ClientError::Unimplemented { .. }) => self.client.no_paged_listing(),
                Err(error) => return Err(error),
            }
        }
        self.client.list_unpaged(&self.filter).await.map(Some)
    }
}

/// What this module decodes of a `PluginDataSeq`: per record, its name and which
/// plugins have entries; prost skips the entries' data (and every other field) unread.
#[derive(Clone, PartialEq, prost::Message)]
struct PluginDataNames {
    #[prost(message, repeated, tag = "1")]
    plugin_data: Vec<PluginDataName>,
}

/// `types.PluginDataV3` with only `Metadata` (4) and `Spec` (5).
#[derive(Clone, PartialEq, prost::Message)]
struct PluginDataName {
    #[prost(message, optional, tag = "4")]
    metadata: Option<NameOnly>,
    #[prost(message, optional, tag = "5")]
    spec: Option<EntryKeys>,
}

/// `types.Metadata` with only `Name` (1).
#[derive(Clone, PartialEq, prost::Message)]
struct NameOnly {
    #[prost(string, tag = "1")]
    name: String,
}

/// `types.PluginDataSpecV3`: the entries' plugin names, their data skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct EntryKeys {
    #[prost(map = "string, message", tag = "1")]
    entries: std::collections::HashMap<String, Skipped>,
}

/// A message whose fields are all skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

impl TeleportClient {
    /// Access requests matching `filter`, a page at a time.
    pub fn access_request_pages(&self, filter: &RequestFilter) -> AccessRequestPages {
        AccessRequestPages {
            client: self.clone(),
            filter: convert::to_filter(filter),
            next: Some(String::new()),
        }
    }

    /// The IDs of the access requests that have a record of `plugin` in plugin data
    /// (the same GetPluginData call as `list_plugin_data`, decoded without the records).
    pub async fn list_plugin_data_ids(&self, plugin: &str) -> Result<HashSet<String>, ClientError> {
        const METHOD: &str = "GetPluginData";
        let filter = types::PluginDataFilter {
            kind: ACCESS_REQUEST_KIND.to_owned(),
            resource: String::new(),
            plugin: plugin.to_owned(),
        };
        let mut grpc = tonic::client::Grpc::new(self.channel())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        grpc.ready()
            .await
            .map_err(|e| ClientError::from_status(METHOD, tonic::Status::unknown(e.to_string())))?;
        let codec = tonic_prost::ProstCodec::<types::PluginDataFilter, PluginDataNames>::default();
        let path = PathAndQuery::from_static("/proto.AuthService/GetPluginData");
        let reply = grpc
            .unary(tonic::Request::new(filter), path, codec)
            .await
            .map_err(|s| ClientError::from_status(METHOD, s))?;
        Ok(reply
            .into_inner()
            .plugin_data
            .into_iter()
            .filter(|d| {
                d.spec
                    .as_ref()
                    .is_some_and(|s| s.entries.contains_key(plugin))
            })
            .filter_map(|d| d.metadata.map(|m| m.name))
            .collect())
    }
}
