//! On-call auto-approval, the part every on-call plugin (PagerDuty, Opsgenie, ...) shares:
//! the decision a plugin's on-call check reaches, acting on it once under the record's
//! lease (log a decline, log a dry run, or submit the approval as the plugin), and the
//! outcome the record keeps so that it is never taken twice.
//!
//! Submitting goes to Teleport as the plugin's own user, so Teleport's RBAC (the role's
//! `review_requests`) decides; its refusals are understood as Teleport words them: a
//! second review by the plugin is `AccessDenied` "... has already reviewed this request"
//! (the testkit's ALREADY_EXISTS too), which counts as approved.

use teleport_client::{AccessRequest, ClientError, RequestState, ReviewSubmission, TeleportClient};

use crate::metrics::Metrics;
use crate::record::{Claim, RecordCodec, StepError};

/// What a plugin's on-call check concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve, with this review reason.
    Approve {
        /// The review reason (audit logs are parsed: each plugin keeps Go's words).
        reason: String,
        /// Where the requester is on call, for the log.
        on_call: String,
    },
    /// Leave the request alone.
    Decline {
        /// Why, for the log.
        why: String,
    },
}

impl Decision {
    /// A decline for `why`.
    pub fn decline(why: impl Into<String>) -> Self {
        Self::Decline { why: why.into() }
    }
}

/// What the on-call check did for a request; recorded once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalOutcome {
    /// An approval was submitted (or Teleport already had one from the plugin).
    Approved,
    /// `dry_run`: the approval was only logged.
    DryRun,
    /// The requester did not qualify.
    Declined,
    /// Teleport refused the review (the plugin may not review these roles, or the request
    /// was resolved in between).
    Refused,
    /// A Go plugin created the record and took its one chance at auto-approval then.
    ByGo,
}

impl ApprovalOutcome {
    /// The stored word; [`ByGo`](Self::ByGo) is written back as Go left it, "".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::DryRun => "dry_run",
            Self::Declined => "declined",
            Self::Refused => "refused",
            Self::ByGo => "",
        }
    }

    /// Reads a stored word other than "" (whose meaning depends on the plugin's record:
    /// "undecided" in ours, "taken by Go" where a Go plugin wrote the record).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "approved" => Self::Approved,
            "dry_run" => Self::DryRun,
            "declined" => Self::Declined,
            "refused" => Self::Refused,
            _ => return None,
        })
    }
}

/// The role allow-list of an on-call plugin: every requested role must be allowed, and a
/// request for no role qualifies only without a list.
pub fn check_allowed_roles(
    allowed: Option<&[String]>,
    request: &AccessRequest,
) -> Result<(), String> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    if request.roles.is_empty() {
        return Err("the request names no roles and allowed_roles is set".into());
    }
    match request.roles.iter().find(|r| !allowed.contains(r)) {
        Some(role) => Err(format!("role {role:?} is not in allowed_roles")),
        None => Ok(()),
    }
}

/// An annotation's values as the on-call plugins read them (schedules, teams, services):
/// trimmed, empty ones dropped; none when the request lacks the annotation.
pub fn annotation_values(request: &AccessRequest, key: &str) -> Vec<String> {
    request
        .system_annotations
        .get(key)
        .into_iter()
        .flatten()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Acts on decisions for one plugin: its Teleport client (the review's author) and metrics.
#[derive(Clone)]
pub struct AutoApprover {
    client: TeleportClient,
    metrics: Metrics,
}

impl AutoApprover {
    /// An approver submitting reviews through `client`.
    pub fn new(client: TeleportClient, metrics: Metrics) -> Self {
        Self { client, metrics }
    }

    /// Logs a decline or a dry run, or — after recording what came before, since the review
    /// is a side effect — submits the approval. The caller records the returned outcome.
    pub async fn settle<C: RecordCodec>(
        &self,
        request: &AccessRequest,
        decision: Decision,
        dry_run: bool,
        claim: &mut Claim<'_, C>,
    ) -> Result<ApprovalOutcome, StepError> {
        match decision {
            Decision::Decline { why } => {
                tracing::info!(requester = %request.user, %why, "not auto-approving the request");
                Ok(ApprovalOutcome::Declined)
            }
            Decision::Approve { reason, on_call } if dry_run => {
                tracing::info!(requester = %request.user, %reason, %on_call, "dry run: would auto-approve the request (auto_approval.dry_run is set)");
                Ok(ApprovalOutcome::DryRun)
            }
            Decision::Approve { reason, on_call } => {
                tracing::info!(requester = %request.user, %on_call, "the requester is on call within the limits");
                claim.before_effect().await?;
                self.submit(request, reason).await
            }
        }
    }

    async fn submit(
        &self,
        request: &AccessRequest,
        reason: String,
    ) -> Result<ApprovalOutcome, StepError> {
        let review = ReviewSubmission {
            request_id: request.id.clone(),
            author: self.client.identity().username().to_owned(),
            proposed_state: RequestState::Approved,
            reason,
        };
        match self.client.submit_review(&review).await {
            Ok(_) => {
                self.metrics.sent("approval");
                tracing::info!(requester = %request.user, reason = %review.reason, "auto-approved the request: the requester is on call");
                Ok(ApprovalOutcome::Approved)
            }
            Err(
                ClientError::AlreadyExists { message, .. }
                | ClientError::AccessDenied { message, .. },
            ) if message.contains("has already reviewed this request") => {
                tracing::info!("the plugin has already reviewed this request");
                Ok(ApprovalOutcome::Approved)
            }
            Err(error) if error.is_connection_problem() => Err(error.into()),
            Err(ClientError::AccessDenied { message, .. }) if message.contains("already") => {
                // Resolved by someone else between the observation and the review.
                tracing::info!(%message, "the request was resolved before the auto-approval");
                Ok(ApprovalOutcome::Refused)
            }
            Err(error) => {
                self.metrics.send_failed("approval");
                tracing::error!(%error, reviewer = %review.author, "Teleport refused the auto-approval; does the plugin's role allow review_requests for these roles?");
                Ok(ApprovalOutcome::Refused)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(roles: &[&str]) -> AccessRequest {
        teleport_plugin_testsupport::access_request("r1", "alice@example.com", roles, "")
    }

    #[test]
    fn allowed_roles_must_cover_every_requested_role() {
        assert_eq!(check_allowed_roles(None, &request(&[])), Ok(()));
        let allowed = ["dev".to_owned()];
        assert_eq!(
            check_allowed_roles(Some(&allowed), &request(&["dev"])),
            Ok(())
        );
        let why = check_allowed_roles(Some(&allowed), &request(&["dev", "admin"])).unwrap_err();
        assert!(why.contains("\"admin\""), "{why}");
        assert!(check_allowed_roles(Some(&allowed), &request(&[])).is_err());
    }

    #[test]
    fn annotation_values_are_trimmed_and_never_empty() {
        let mut request = request(&[]);
        request.system_annotations.insert(
            "teleport.dev/schedules".into(),
            vec![" primary ".into(), "".into(), "  ".into(), "night".into()],
        );
        assert_eq!(
            annotation_values(&request, "teleport.dev/schedules"),
            ["primary", "night"]
        );
        assert!(annotation_values(&request, "teleport.dev/teams").is_empty());
    }

    #[test]
    fn outcomes_round_trip_and_go_records_stay_empty() {
        for outcome in [
            ApprovalOutcome::Approved,
            ApprovalOutcome::DryRun,
            ApprovalOutcome::Declined,
            ApprovalOutcome::Refused,
        ] {
            assert_eq!(ApprovalOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(ApprovalOutcome::ByGo.as_str(), "");
        assert_eq!(ApprovalOutcome::parse(""), None);
        assert_eq!(ApprovalOutcome::parse("pending"), None);
    }
}
