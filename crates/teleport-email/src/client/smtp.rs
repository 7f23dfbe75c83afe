//! Sending over SMTP with lettre: STARTTLS policy, implicit TLS on 465, AUTH PLAIN/LOGIN.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use teleport_plugin_runtime::service_error::ServiceError;

use super::OutgoingMail;
use crate::config::{SmtpSettings, StartTlsPolicy};

/// The Go plugin's dial and read/write timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why the SMTP transport cannot be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    /// The CA file could not be read or used.
    #[error("cannot use smtp.ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// lettre refused the TLS settings.
    #[error("cannot set up TLS for the SMTP server: {0}")]
    Tls(lettre::transport::smtp::Error),
}

/// An SMTP transport: one connection per mail, as the Go plugin does.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A transport for `[smtp]`. The system roots (honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`,
    /// like every other client of the plugins) are trusted, plus `ca_file`.
    pub fn new(settings: &SmtpSettings) -> Result<Self, SmtpSetupError> {
        let mut tls = TlsParameters::builder(settings.host.clone());
        if let Some(path) = &settings.ca_file {
            let ca_error = |reason: String| SmtpSetupError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
            tls = tls.add_root_certificate(certificate);
        }
        let parameters = tls.build_rustls().map_err(SmtpSetupError::Tls)?;
        let tls = if settings.implicit_tls() {
            Tls::Wrapper(parameters)
        } else {
            match settings.starttls {
                StartTlsPolicy::Mandatory => Tls::Required(parameters),
                StartTlsPolicy::Opportunistic => Tls::Opportunistic(parameters),
                StartTlsPolicy::Disabled => Tls::None,
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if let Some((user, password)) = &settings.credentials {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.expose().to_owned()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Self {
            transport: builder.build(),
            server: format!("{}:{}", settings.host, settings.port),
        })
    }

    /// Connects, negotiates TLS and authenticates, without sending. A refusal for good (5xx:
    /// bad credentials; or a setup the server cannot do: no STARTTLS, no matching AUTH
    /// mechanism) is permanent; a server that is down is transient.
    pub async fn check(&self) -> Result<(), ServiceError> {
        match self.transport.test_connection().await {
            Ok(_) => {
                tracing::info!(server = %self.server, "SMTP server accepted the connection check");
                Ok(())
            }
            Err(error) if error.is_permanent() || error.is_client() => Err(
                ServiceError::permanent(format!("{} refused the plugin: {error}", self.server)),
            ),
            Err(error) => Err(ServiceError::transient(format!(
                "{} is not reachable: {error}",
                self.server
            ))),
        }
    }

    /// Sends one mail.
    pub async fn send(&self, sender: &Mailbox, mail: &OutgoingMail) -> Result<(), ServiceError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| ServiceError::permanent(format!("bad recipient address: {e}")))?;
        let mut builder = Message::builder()
            .from(sender.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}>", mail.message_id)));
        if let Some(root) = mail.in_reply_to.as_deref().filter(|r| !r.is_empty()) {
            builder = builder
                .in_reply_to(format!("<{root}>"))
                .references(format!("<{root}>"));
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| ServiceError::permanent(format!("cannot build the e-mail: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

/// 5xx replies (a recipient refused for good) are permanent. Everything else may pass: 4xx
/// replies, connection and TLS problems, timeouts, and a server that stopped offering
/// STARTTLS or AUTH (fixing the server must not have lost the mail meanwhile).
fn classify(error: lettre::transport::smtp::Error) -> ServiceError {
    if error.is_permanent() {
        ServiceError::permanent(format!("SMTP server refused the mail: {error}"))
    } else {
        ServiceError::transient(format!("SMTP delivery failed: {error}"))
    }
}
