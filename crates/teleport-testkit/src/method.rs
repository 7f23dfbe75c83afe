//! The RPCs the testkit serves, for call counting and injected failures.

use std::fmt;

/// One served gRPC method. `UsersGetUser` is `teleport.users.v1.UsersService/GetUser`; every
/// other variant is the `proto.AuthService` method of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Method {
    /// `/proto.AuthService/Ping`
    Ping,
    /// `/proto.AuthService/WatchEvents`
    WatchEvents,
    /// `/proto.AuthService/GetAccessRequests` (≤ v12 unary listing)
    GetAccessRequests,
    /// `/proto.AuthService/GetAccessRequestsV2` (server stream)
    GetAccessRequestsV2,
    /// `/proto.AuthService/ListAccessRequests` (paged)
    ListAccessRequests,
    /// `/proto.AuthService/CreateAccessRequestV2`
    CreateAccessRequestV2,
    /// `/proto.AuthService/DeleteAccessRequest`
    DeleteAccessRequest,
    /// `/proto.AuthService/SetAccessRequestState`
    SetAccessRequestState,
    /// `/proto.AuthService/SubmitAccessReview`
    SubmitAccessReview,
    /// `/proto.AuthService/GetPluginData`
    GetPluginData,
    /// `/proto.AuthService/UpdatePluginData`
    UpdatePluginData,
    /// `/proto.AuthService/GetUser` (deprecated variant)
    GetUser,
    /// `/proto.AuthService/GetRole`
    GetRole,
    /// `/proto.AuthService/ListResources` (friendly names of requested resources)
    ListResources,
    /// `/teleport.users.v1.UsersService/GetUser`
    UsersGetUser,
    /// `/teleport.users.v1.UsersService/ListUsers`
    UsersListUsers,
    /// `/teleport.accessmonitoringrules.v1.AccessMonitoringRulesService/ListAccessMonitoringRulesWithFilter`
    ListAccessMonitoringRules,
    /// `/teleport.accesslist.v1.AccessListService/ListAccessLists`
    ListAccessLists,
    /// `/teleport.accesslist.v1.AccessListService/GetAccessListOwners`
    GetAccessListOwners,
}

impl Method {
    /// Every served method.
    pub const ALL: [Method; 19] = [
        Method::Ping,
        Method::WatchEvents,
        Method::GetAccessRequests,
        Method::GetAccessRequestsV2,
        Method::ListAccessRequests,
        Method::CreateAccessRequestV2,
        Method::DeleteAccessRequest,
        Method::SetAccessRequestState,
        Method::SubmitAccessReview,
        Method::GetPluginData,
        Method::UpdatePluginData,
        Method::GetUser,
        Method::GetRole,
        Method::ListResources,
        Method::UsersGetUser,
        Method::UsersListUsers,
        Method::ListAccessMonitoringRules,
        Method::ListAccessLists,
        Method::GetAccessListOwners,
    ];

    /// The HTTP/2 path, e.g. `/proto.AuthService/Ping`.
    pub fn path(self) -> &'static str {
        match self {
            Method::Ping => "/proto.AuthService/Ping",
            Method::WatchEvents => "/proto.AuthService/WatchEvents",
            Method::GetAccessRequests => "/proto.AuthService/GetAccessRequests",
            Method::GetAccessRequestsV2 => "/proto.AuthService/GetAccessRequestsV2",
            Method::ListAccessRequests => "/proto.AuthService/ListAccessRequests",
            Method::CreateAccessRequestV2 => "/proto.AuthService/CreateAccessRequestV2",
            Method::DeleteAccessRequest => "/proto.AuthService/DeleteAccessRequest",
            Method::SetAccessRequestState => "/proto.AuthService/SetAccessRequestState",
            Method::SubmitAccessReview => "/proto.AuthService/SubmitAccessReview",
            Method::GetPluginData => "/proto.AuthService/GetPluginData",
            Method::UpdatePluginData => "/proto.AuthService/UpdatePluginData",
            Method::GetUser => "/proto.AuthService/GetUser",
            Method::GetRole => "/proto.AuthService/GetRole",
            Method::ListResources => "/proto.AuthService/ListResources",
            Method::UsersGetUser => "/teleport.users.v1.UsersService/GetUser",
            Method::UsersListUsers => "/teleport.users.v1.UsersService/ListUsers",
            Method::ListAccessMonitoringRules => {
                "/teleport.accessmonitoringrules.v1.AccessMonitoringRulesService/ListAccessMonitoringRulesWithFilter"
            }
            Method::ListAccessLists => "/teleport.accesslist.v1.AccessListService/ListAccessLists",
            Method::GetAccessListOwners => {
                "/teleport.accesslist.v1.AccessListService/GetAccessListOwners"
            }
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// An injected failure: the next `remaining` calls (all calls when `None`) fail with `code`.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub(crate) code: tonic::Code,
    pub(crate) remaining: Option<usize>,
}

impl Rejection {
    /// Consumes one use; returns the status to fail with, if any is left.
    pub(crate) fn take(&mut self, method: Method) -> Option<tonic::Status> {
        match &mut self.remaining {
            Some(0) => return None,
            Some(n) => *n -= 1,
            None => {}
        }
        Some(tonic::Status::new(
            self.code,
            format!("{method} rejected by the testkit"),
        ))
    }
}
