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

/// Runs the call that closes `incident` (`kind` in metrics, e.g. `resolve`) and logs how it
/// went: `done` on success (`resolved the PagerDuty incident`), `cannot <verb>` otherwise
/// (`cannot resolve the PagerDuty incident`); a permanent refusal is not retried.
pub async fn close_incident<C, F>(
    effects: &Effects,
    claim: &mut Claim<'_, C>,
    kind: &'static str,
    (done, failed): (&str, &str),
    incident: &str,
    resolution: Resolution,
    send: impl Fn() -> F,
) -> Result<(), StepError>
where
    C: RecordCodec,
    F: Future<Output = Result<(), ServiceError>>,
{
    match effects.run(claim, kind, send).await? {
        Ok(()) => {
            let resolution = resolution.as_str().to_ascii_lowercase();
            tracing::info!(incident, %resolution, "{done}");
        }
        Err(error) => tracing::error!(incident, %error, "{failed}"),
    }
    Ok(())
}
