//! Why a handling step stopped early, and what the dispatcher should do about it: the one
//! step-error → outcome mapping every handler shares.

use teleport_client::ClientError;

use super::SaveError;
use crate::dispatch::Outcome;
use crate::service_error::ServiceError;

/// A handling step that could not finish; every one of them is retried.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Teleport failed; retry later.
    #[error("Teleport call failed: {0}")]
    Teleport(#[from] ClientError),
    /// Someone else changed the record while this replica held the lease.
    #[error("the request's record changed while this replica held its lease")]
    LostLease,
    /// The service failed in a way that may pass (transient, or refused credentials); the
    /// effect runner has logged and counted it.
    #[error(transparent)]
    Service(ServiceError),
}

impl From<SaveError> for StepError {
    fn from(error: SaveError) -> Self {
        match error {
            SaveError::LostLease => Self::LostLease,
            SaveError::Teleport(error) => Self::Teleport(error),
        }
    }
}

impl StepError {
    /// Whether the side effect that failed may have been done all the same: a timeout, a
    /// dropped connection or a 5xx without `Retry-After` says nothing about it. A refusal
    /// with `Retry-After` (429, a 503 asking to come back) did not do the work, nor did a
    /// refusal of the credentials, nor a failure before the send (Teleport, the lease).
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Service(ServiceError::Transient {
                retry_after: None,
                ..
            })
        )
    }

    /// Whether the side effect whose outcome is unknown may be carried out even after this
    /// failure came back: no answer came (a timeout, a dropped connection) or a gateway gave
    /// up on the service. When the service itself answered, whatever it did, it did before.
    pub fn may_still_land(&self) -> bool {
        matches!(
            self,
            Self::Service(ServiceError::Transient {
                retry_after: None,
                answered: false,
                ..
            })
        )
    }

    /// What the dispatcher does next: a request gone from Teleport needs nothing more;
    /// everything else is retried, after the service's `Retry-After` when it gave one.
    pub fn into_outcome(self) -> Outcome {
        match self {
            Self::Teleport(ClientError::NotFound { .. }) => Outcome::Done,
            Self::Teleport(error) => {
                tracing::warn!(%error, "Teleport call failed; will retry");
                Outcome::Retry(None)
            }
            Self::LostLease => {
                tracing::warn!(
                    "the request's record changed while this replica held its lease; starting over"
                );
                Outcome::Retry(None)
            }
            Self::Service(error) => Outcome::Retry(error.retry_after()),
        }
    }
}

/// The outcome of a step's result: `Ok` as it is, errors by [`StepError::into_outcome`].
pub fn outcome(result: Result<Outcome, StepError>) -> Outcome {
    result.unwrap_or_else(StepError::into_outcome)
}
