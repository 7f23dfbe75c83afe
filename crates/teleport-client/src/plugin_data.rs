//! Plugin data (GetPluginData, UpdatePluginData): one record per resource and plugin, with
//! Teleport's compare-and-swap, and the listing of a plugin's records on access requests.

use crate::client::{ACCESS_REQUEST_KIND, TeleportClient};
use crate::convert;
use crate::error::ClientError;
use crate::model::PluginDataMap;
use crate::wire::{proto, types};

impl TeleportClient {
    /// Reads this plugin's data on an access request; `None` when it has none.
    pub async fn get_plugin_data(
        &self,
        plugin: &str,
        request_id: &str,
    ) -> Result<Option<PluginDataMap>, ClientError> {
        self.get_plugin_data_of(ACCESS_REQUEST_KIND, plugin, request_id)
            .await
    }

    /// Reads this plugin's data on a resource of `kind` ([`ACCESS_REQUEST_KIND`] or
    /// [`ACCESS_LIST_KIND`]); `None` when it has none.
    pub async fn get_plugin_data_of(
        &self,
        kind: &str,
        plugin: &str,
        resource: &str,
    ) -> Result<Option<PluginDataMap>, ClientError> {
        let seq = self.plugin_data_seq(kind, plugin, resource).await?;
        Ok(convert::plugin_entry(seq, plugin))
    }

    /// Every access request's data of `plugin`, by request ID (GetPluginData without a
    /// resource lists the kind; plugin data outlives its request by about an hour).
    pub async fn list_plugin_data(
        &self,
        plugin: &str,
    ) -> Result<Vec<(String, PluginDataMap)>, ClientError> {
        let seq = self
            .plugin_data_seq(ACCESS_REQUEST_KIND, plugin, "")
            .await?;
        Ok(convert::plugin_entries(seq, plugin))
    }

    async fn plugin_data_seq(
        &self,
        kind: &str,
        plugin: &str,
        resource: &str,
    ) -> Result<proto::PluginDataSeq, ClientError> {
        let filter = types::PluginDataFilter {
            kind: kind.to_owned(),
            resource: resource.to_owned(),
            plugin: plugin.to_owned(),
        };
        let reply = self.auth().get_plugin_data(filter).await;
        Ok(reply
            .map_err(|s| ClientError::from_status("GetPluginData", s))?
            .into_inner())
    }

    /// Writes this plugin's data on an access request, but only if every key in
    /// `expect` currently has that value ("" = absent); otherwise
    /// [`ClientError::CompareFailed`]. A `set` value of "" deletes the key.
    pub async fn update_plugin_data(
        &self,
        plugin: &str,
        request_id: &str,
        set: PluginDataMap,
        expect: PluginDataMap,
    ) -> Result<(), ClientError> {
        self.update_plugin_data_of(ACCESS_REQUEST_KIND, plugin, request_id, set, expect)
            .await
    }

    /// [`update_plugin_data`](Self::update_plugin_data) on a resource of `kind`.
    pub async fn update_plugin_data_of(
        &self,
        kind: &str,
        plugin: &str,
        resource: &str,
        set: PluginDataMap,
        expect: PluginDataMap,
    ) -> Result<(), ClientError> {
        self.auth()
            .update_plugin_data(types::PluginDataUpdateParams {
                kind: kind.to_owned(),
                resource: resource.to_owned(),
                plugin: plugin.to_owned(),
                set,
                expect,
            })
            .await
            .map_err(|s| ClientError::from_status("UpdatePluginData", s))?;
        Ok(())
    }
}
