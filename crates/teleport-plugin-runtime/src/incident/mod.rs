//! Incident-style plugins (PagerDuty, Opsgenie, ServiceNow, Datadog): one incident or alert
//! per request, a note per review, the on-call auto-approval, and the incident closed once
//! the request is resolved.
//!
//! The flow lives once, in [`IncidentHandler`]; a plugin supplies an [`IncidentService`] (its
//! API calls and texts) over a record that implements [`IncidentProgress`] (its keys).
//! [`effects`] holds the log-and-skip wrappers every service's sends share, [`progress`] the
//! `close_progress` key several records write alike, [`uncertain`] the creates to look up
//! before repeating (services without an idempotency key); [`run_incident`] is every incident
//! plugin's entry point.

mod driver;
pub mod effects;
pub mod progress;
pub mod render;
mod run;
mod service;
pub mod uncertain;

pub use driver::IncidentHandler;
pub use run::run_incident;
pub use service::{ApprovalSettings, IncidentProgress, IncidentService, approval_targets};
