//! Error types: credentials problems and Teleport's gRPC errors, typed.

use std::path::PathBuf;

use time::OffsetDateTime;

/// The credentials could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A credentials file could not be read.
    #[error("cannot read credentials file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A credentials file does not hold what Teleport writes.
    #[error("credentials file {path} is not usable: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was expected and found.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("credentials file {path}: the private key does not match the certificate")]
    KeyMismatch {
        /// The file.
        path: PathBuf,
    },
    /// The user certificate is past its validity.
    #[error(
        "credentials file {path}: the certificate for '{subject}' expired at {not_after}; \
         issue a new one (tctl auth sign, or check that tbot is renewing it)"
    )]
    Expired {
        /// The file.
        path: PathBuf,
        /// The certificate's subject (the Teleport user).
        subject: String,
        /// When it expired.
        not_after: OffsetDateTime,
    },
    /// The TLS configuration could not be built from the credentials.
    #[error("credentials from {path} cannot be used for TLS: {reason}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// An error from talking to Teleport.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Loading or using the credentials failed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The address could not be used.
    #[error("invalid Teleport address {addr:?}: {reason}")]
    InvalidAddress {
        /// The configured address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// A compare-and-swap precondition did not hold (gRPC FAILED_PRECONDITION).
    #[error("{method}: compare failed: {message}")]
    CompareFailed {
        /// The RPC.
        method: &'static str,
        /// Teleport's message.
        message: String,
    },
    /// The resource does not exist (gRPC NOT_FOUND).
    #[error("{method}: not found: {message}")]
    NotFound {
        /// The RPC.
        method: &'static str,
        /// Teleport's message.
        message: String,
    },
    /// The resource already exists (gRPC ALREADY_EXISTS).
    #[error("{method}: already exists: {message}")]
    AlreadyExists {
        /// The RPC.
        method: &'static str,
        /// Teleport's message.
        message: String,
    },
    /// The plugin's role does not allow this (gRPC PERMISSION_DENIED / UNAUTHENTICATED).
    #[error("{method}: access denied: {message}")]
    AccessDenied {
        /// The RPC.
        method: &'static str,
        /// Teleport's message.
        message: String,
    },
    /// The server does not implement this RPC (gRPC UNIMPLEMENTED).
    #[error("{method}: not implemented by this Teleport version: {message}")]
    Unimplemented {
        /// The RPC.
        method: &'static str,
        /// Teleport's message.
        message: String,
    },
    /// Teleport could not be reached, or the connection broke (gRPC UNAVAILABLE,
    /// DEADLINE_EXCEEDED, transport errors). Worth retrying.
    #[error("{method}: connection problem: {message}")]
    Connection {
        /// The RPC.
        method: &'static str,
        /// What happened.
        message: String,
    },
    /// The watch stream did not start with an INIT event in time, or broke its protocol.
    #[error("watch: {0}")]
    WatchProtocol(String),
    /// Any other gRPC status.
    #[error("{method}: {code:?}: {message}")]
    Other {
        /// The RPC.
        method: &'static str,
        /// The gRPC status code.
        code: tonic::Code,
        /// Teleport's message.
        message: String,
    },
}

impl ClientError {
    /// Maps a gRPC status the way Teleport's `trail` package produced it.
    pub fn from_status(method: &'static str, status: tonic::Status) -> Self {
        use tonic::Code;
        let message = status.message().to_owned();
        match status.code() {
            Code::FailedPrecondition => Self::CompareFailed { method, message },
            Code::NotFound => Self::NotFound { method, message },
            Code::AlreadyExists => Self::AlreadyExists { method, message },
            Code::PermissionDenied | Code::Unauthenticated => {
                Self::AccessDenied { method, message }
            }
            Code::Unimplemented => Self::Unimplemented { method, message },
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => Self::Connection {
                method,
                message: describe_transport(&status),
            },
            // tonic reports broken TLS handshakes and connection resets as Unknown
            // with a transport source; those are connection problems too.
            Code::Unknown if std::error::Error::source(&status).is_some() => Self::Connection {
                method,
                message: describe_transport(&status),
            },
            code => Self::Other {
                method,
                code,
                message,
            },
        }
    }

    /// True when retrying later may succeed (the connection, not the request, failed).
    pub fn is_connection_problem(&self) -> bool {
        matches!(self, Self::Connection { .. } | Self::WatchProtocol(_))
    }
}

fn describe_transport(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        let part = err.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        source = err.source();
    }
    text
}
