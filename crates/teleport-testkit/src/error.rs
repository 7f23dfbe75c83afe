//! The testkit's error type.

use std::time::Duration;

/// Everything the testkit's own API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Generating a key or certificate failed.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Building a TLS configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// Key material could not be read or converted.
    #[error("invalid key material: {0}")]
    Key(String),
    /// Binding a listener or writing a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Dialing the testkit with a tonic client failed.
    #[error("transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A test control was refused with the status a real client would get.
    #[error("refused with {}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    /// `wait_for*` gave up.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// The operation needs a running server (see `Testkit::restart`).
    #[error("the testkit server is not running")]
    NotRunning,
}

impl Error {
    /// The gRPC code when the error is a refused operation, for terse assertions.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Status(status) => Some(status.code()),
            _ => None,
        }
    }
}

/// Result alias used throughout the testkit.
pub type Result<T, E = Error> = std::result::Result<T, E>;
