//! The crate's integration tests, one module per file, linked as one test binary:
//! one link of the crate and its dependencies instead of one per file keeps the
//! build's time and disk small. Files that change process-wide state stay
//! binaries of their own (`[[test]]` in Cargo.toml).

mod datadog_fake;
mod gitlab_fake;
mod jira_fake;
mod mailgun_fake;
mod opsgenie_fake;
mod pagerduty_fake;
mod servicenow_fake;
mod slack_fake;
