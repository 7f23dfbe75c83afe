//! Ready-made tonic clients that dial the auth listener directly with an identity.

use teleport_client::wire::proto::auth_service_client::AuthServiceClient;
use teleport_client::wire::teleport::users::v1::users_service_client::UsersServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::ca::AUTH_SERVER_NAME;
use crate::error::Result;
use crate::identity::Identity;
use crate::testkit::Testkit;

impl Testkit {
    /// A mutual-TLS channel to the auth listener as `identity` (SNI and verified name
    /// `teleport.cluster.local`, roots = the identity's host CA).
    pub async fn channel(&self, identity: &Identity) -> Result<Channel> {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&identity.host_ca_pem))
            .identity(identity.tonic_identity())
            .domain_name(AUTH_SERVER_NAME);
        let endpoint =
            Endpoint::from_shared(format!("https://{}", self.auth_addr()))?.tls_config(tls)?;
        Ok(endpoint.connect().await?)
    }

    /// A raw `proto.AuthService` client as `identity`.
    pub async fn auth_client(&self, identity: &Identity) -> Result<AuthServiceClient<Channel>> {
        Ok(AuthServiceClient::new(self.channel(identity).await?))
    }

    /// A raw `teleport.users.v1.UsersService` client as `identity`.
    pub async fn users_client(&self, identity: &Identity) -> Result<UsersServiceClient<Channel>> {
        Ok(UsersServiceClient::new(self.channel(identity).await?))
    }
}
