//! The inbound side shared by plugins that take decisions from outside (Jira, GitLab): the
//! `[http]` webhook listener, the periodic poll driver, and the one write path that applies
//! a decision to Teleport at most once.

pub mod answer;
pub mod config;
pub mod decision;
pub mod listener;
pub mod poll;
pub mod tuning;

pub use answer::SeenFailure;
pub use config::{HttpConfig, HttpSection, InsecureNoTls};
pub use decision::{Applied, Channel, Decision, DecisionError, DecisionWriter, Verdict};
pub use listener::{HeaderCheck, InboundListener, ListenerError, ListenerOptions, PeerAddr};
pub use poll::{LongestWait, PollOptions, PollWindow, Poller, run_poller};
pub use tuning::{InboundTuning, Polling, Webhook, start_inbound};
