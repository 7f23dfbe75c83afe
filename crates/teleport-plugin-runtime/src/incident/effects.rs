//! The sends every incident service makes alike, through [`Effects::run`]: a note that is
//! skipped when refused for good, and the closing call whose outcome is logged either way.

use std::future::Future;

use crate::record::{Claim, Effects, RecordCodec, Resolution, StepError};
use crate::service_error::ServiceError;

/// Posts a note (`what` in logs, `kind` in metrics) on `incident`; a permanent refusal is
/// logged and skipped, anything that may pass ends the step.
pub async fn post_note<C, F>(
    effects: &Effects,
    claim: &mut Claim<'_, C>,
    kind: &'static str,
    what: &str,
    incident: &str,
    send: impl Fn() -> F,
) -> Result<(), StepError>
where
    C: RecordCodec,
    F: Future<Output = Result<(), ServiceError>>,
{
    if let Err(error) = effects.run(claim, kind, send).await? {
        tracing::error!(incident, %error, "cannot post the {what}; skipping it");
    }
    Ok(())
}

/// The call that closes a service's incident, as logs and metrics name it; the argument is
/// the incident as logs name it (`PagerDuty incident`, `Opsgenie alert`).
#[derive(Clone, Copy, Debug)]
pub enum CloseCall {
    /// `resolve` in metrics; `resolved the <incident>` / `cannot resolve the <incident>`.
    Resolve(&'static str),
    /// `close` in metrics; `closed the <incident>` / `cannot close the <incident>`.
    Close(&'static str),
}

impl CloseCall {
    /// The metric label, the verb and its past tense.
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Resolve(what) => ("resolve", "resolved", what),
            Self::Close(what) => ("close", "closed", what),
        }
    }
}

/// Runs `call`, the request that closes `incident`, and logs how it went: `resolved the
/// PagerDuty incident` on success, `cannot resolve the PagerDuty incident` otherwise; a
/// permanent refusal is not retried.
pub async fn close_incident<C, F>(
    effects: &Effects,
    claim: &mut Claim<'_, C>,
    call: CloseCall,
    incident: &str,
    resolution: Resolution,
    send: impl Fn() -> F,
) -> Result<(), StepError>
where
    C: RecordCodec,
    F: Future<Output = Result<(), ServiceError>>,
{
    let (kind, done, what) = call.words();
    match effects.run(claim, kind, send).await? {
        Ok(()) => {
            let resolution = resolution.as_str().to_ascii_lowercase();
            tracing::info!(incident, %resolution, "{done} the {what}");
        }
        Err(error) => tracing::error!(incident, %error, "cannot {kind} the {what}"),
    }
    Ok(())
}
