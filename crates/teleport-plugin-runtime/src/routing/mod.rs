//! Access monitoring rule routing: which recipients a request goes to when a rule for this
//! plugin matches it, instead of `role_to_recipients` (as Teleport's Go plugins decide).

mod cache;
mod env;

pub use cache::{RuleCache, RuleStatus};
pub use env::request_env;
