//! Incident-style plugins (PagerDuty, Opsgenie, ServiceNow, Datadog): one incident or alert
//! per request, a note per review, the on-call auto-approval, and the incident closed once
//! the request is resolved.
//!
//! The flow lives once, in [`IncidentHandler`]; a plugin supplies an [`IncidentService`] (its
//! API calls and texts) over a record that implements [`IncidentProgress`] (its keys), and
//! names its on-call auto-approval once as an [`OnCall`] (its [`OnCallLookup`]).
//! [`effects`] holds the log-and-skip wrappers every service's sends share, [`progress`] the
//! `close_progress` key several records write alike, [`uncertain`] the creates to look up
//! before repeating (services without an idempotency key); [`run_incident`] is every incident
//! plugin's entry point.

mod driver;
pub mod effects;
mod on_call;
pub mod progress;
pub mod render;
mod run;
mod service;
pub mod uncertain;

pub use driver::IncidentHandler;
pub use on_call::{OnCall, OnCallLookup};
pub use run::run_incident;
pub use service::{IncidentProgress, IncidentService};
