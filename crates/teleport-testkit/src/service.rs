//! The tonic services: thin adapters from gRPC calls to the state operations.

use std::sync::Arc;

use teleport_client::wire::proto::auth_service_server::AuthService;
use teleport_client::wire::proto::{
    AccessRequests, Features, GetRoleRequest, GetUserRequest, ListAccessRequestsRequest,
    ListAccessRequestsResponse, ListResourcesRequest, ListResourcesResponse, PingRequest,
    PingResponse, PluginDataSeq, RequestId, RequestStateSetter, Watch,
};
use teleport_client::wire::teleport::users::v1::users_service_server::UsersService;
use teleport_client::wire::teleport::users::v1::{
    GetUserRequest as UsersGetUserRequest, GetUserResponse, ListUsersRequest, ListUsersResponse,
};
use teleport_client::wire::types::{
    AccessRequestFilter, AccessRequestV3, AccessReviewSubmission, PluginDataFilter,
    PluginDataUpdateParams, RoleV6, UserV2,
};
use tonic::{Request, Response, Status};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::method::Method;
use crate::shared::Shared;
use crate::state::Caller;
use crate::watch::EventStream;

/// `proto.AuthService`.
pub(crate) struct AuthApi {
    pub(crate) shared: Arc<Shared>,
}

/// `teleport.users.v1.UsersService`.
pub(crate) struct UsersApi {
    pub(crate) shared: Arc<Shared>,
}

/// The caller's Teleport user: the client certificate's subject CN.
fn caller_name<T>(request: &Request<T>) -> Result<String, Status> {
    let certs = request
        .peer_certs()
        .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
    let leaf = certs
        .first()
        .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
    let (_, cert) = X509Certificate::from_der(leaf)
        .map_err(|_| Status::unauthenticated("unreadable client certificate"))?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Status::permission_denied("client certificate has no common name"))
}

impl AuthApi {
    /// Counts the call, applies injected failures and authenticates, in that order.
    pub(crate) fn begin<T>(&self, method: Method, request: &Request<T>) -> Result<String, Status> {
        self.shared.begin_call(method)?;
        caller_name(request)
    }
}

type RequestStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<AccessRequestV3, Status>> + Send>>;

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        self.begin(Method::Ping, &request)?;
        let config = &self.shared.config;
        Ok(Response::new(PingResponse {
            cluster_name: config.cluster_name.clone(),
            server_version: config.server_version.clone(),
            server_features: Some(Features {
                access_controls: true,
                advanced_access_workflows: config.advanced_workflows,
                ..Default::default()
            }),
            proxy_public_addr: config.proxy_public_addr.clone(),
            remote_addr: request
                .remote_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            ..Default::default()
        }))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<Watch>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.begin(Method::WatchEvents, &request)?;
        let watch = request.into_inner();
        let stream = self.shared.mutate(|state| {
            let rules = state.governance.rules;
            state.watchers.register(&watch, &self.shared, rules)
        })?;
        Ok(Response::new(stream))
    }

    async fn get_access_requests(
        &self,
        request: Request<AccessRequestFilter>,
    ) -> Result<Response<AccessRequests>, Status> {
        let me = self.begin(Method::GetAccessRequests, &request)?;
        let filter = request.into_inner();
        let access_requests = self
            .shared
            .read(|state| state.matching_requests(&filter, Caller::User(&me)));
        Ok(Response::new(AccessRequests { access_requests }))
    }

    type GetAccessRequestsV2Stream = RequestStream;

    async fn get_access_requests_v2(
        &self,
        request: Request<AccessRequestFilter>,
    ) -> Result<Response<Self::GetAccessRequestsV2Stream>, Status> {
        let me = self.begin(Method::GetAccessRequestsV2, &request)?;
        let filter = request.into_inner();
        let all = self
            .shared
            .read(|state| state.matching_requests(&filter, Caller::User(&me)));
        Ok(Response::new(Box::pin(futures::stream::iter(
            all.into_iter().map(Ok),
        ))))
    }

    async fn list_access_requests(
        &self,
        request: Request<ListAccessRequestsRequest>,
    ) -> Result<Response<ListAccessRequestsResponse>, Status> {
        let me = self.begin(Method::ListAccessRequests, &request)?;
        let list = request.into_inner();
        self.shared
            .read(|state| state.list_requests(&list, Caller::User(&me)))
            .map(Response::new)
    }

    async fn create_access_request_v2(
        &self,
        request: Request<AccessRequestV3>,
    ) -> Result<Response<AccessRequestV3>, Status> {
        let me = self.begin(Method::CreateAccessRequestV2, &request)?;
        let new = request.into_inner();
        self.shared
            .mutate(|state| state.create_request(new, Caller::User(&me)))
            .map(Response::new)
    }

    async fn delete_access_request(
        &self,
        request: Request<RequestId>,
    ) -> Result<Response<()>, Status> {
        self.begin(Method::DeleteAccessRequest, &request)?;
        let id = request.into_inner().id;
        self.shared
            .mutate(|state| state.delete_request(&id))
            .map(Response::new)
    }

    async fn set_access_request_state(
        &self,
        request: Request<RequestStateSetter>,
    ) -> Result<Response<()>, Status> {
        let me = self.begin(Method::SetAccessRequestState, &request)?;
        let setter = request.into_inner();
        self.shared
            .mutate(|state| state.set_request_state(setter, Caller::User(&me)))
            .map(Response::new)
    }

    async fn submit_access_review(
        &self,
        request: Request<AccessReviewSubmission>,
    ) -> Result<Response<AccessRequestV3>, Status> {
        let me = self.begin(Method::SubmitAccessReview, &request)?;
        let submission = request.into_inner();
        let review = submission
            .review
            .ok_or_else(|| Status::invalid_argument("missing review"))?;
        self.shared
            .mutate(|state| state.submit_review(&submission.request_id, review, Caller::User(&me)))
            .map(Response::new)
    }

    async fn get_plugin_data(
        &self,
        request: Request<PluginDataFilter>,
    ) -> Result<Response<PluginDataSeq>, Status> {
        self.begin(Method::GetPluginData, &request)?;
        let filter = request.into_inner();
        let plugin_data = self.shared.read(|state| state.get_plugin_data(&filter))?;
        Ok(Response::new(PluginDataSeq { plugin_data }))
    }

    async fn update_plugin_data(
        &self,
        request: Request<PluginDataUpdateParams>,
    ) -> Result<Response<()>, Status> {
        self.begin(Method::UpdatePluginData, &request)?;
        let params = request.into_inner();
        self.shared
            .mutate(|state| state.update_plugin_data(params))
            .map(Response::new)
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<UserV2>, Status> {
        self.begin(Method::GetUser, &request)?;
        let name = request.into_inner().name;
        lookup_user(&self.shared, &name).map(Response::new)
    }

    async fn get_role(&self, request: Request<GetRoleRequest>) -> Result<Response<RoleV6>, Status> {
        self.begin(Method::GetRole, &request)?;
        let name = request.into_inner().name;
        self.shared
            .read(|state| state.roles.get(&name).cloned())
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("role {name} is not found")))
    }

    async fn list_resources(
        &self,
        request: Request<ListResourcesRequest>,
    ) -> Result<Response<ListResourcesResponse>, Status> {
        self.list_resources_for(request)
    }
}

impl AuthApi {
    /// `ListResources`, answered from the nodes (see `resources.rs`).
    pub(crate) fn list_resources_for(
        &self,
        request: Request<ListResourcesRequest>,
    ) -> Result<Response<ListResourcesResponse>, Status> {
        let caller = self.begin(Method::ListResources, &request)?;
        let request = request.into_inner();
        self.shared
            .read(|state| state.list_resources(&caller, &request))
            .map(Response::new)
    }
}

fn lookup_user(shared: &Shared, name: &str) -> Result<UserV2, Status> {
    shared
        .read(|state| state.users.get(name).map(|u| state.outgoing_user(u)))
        .ok_or_else(|| Status::not_found(format!("user {name:?} is not found")))
}

#[tonic::async_trait]
impl UsersService for UsersApi {
    async fn get_user(
        &self,
        request: Request<UsersGetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        self.shared.begin_call(Method::UsersGetUser)?;
        let me = caller_name(&request)?;
        let get = request.into_inner();
        let name = if get.current_user { me } else { get.name };
        let user = lookup_user(&self.shared, &name)?;
        Ok(Response::new(GetUserResponse { user: Some(user) }))
    }

    /// Every user in one page, whatever page size was asked: enough for the plugins, which
    /// follow `next_page_token` anyway.
    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        self.shared.begin_call(Method::UsersListUsers)?;
        caller_name(&request)?;
        let users = self.shared.read(|state| {
            state
                .users
                .values()
                .map(|u| state.outgoing_user(u))
                .collect()
        });
        Ok(Response::new(ListUsersResponse {
            users,
            next_page_token: String::new(),
        }))
    }
}
