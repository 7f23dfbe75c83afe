//! Access-list review reminders, as Teleport's Go plugins send them: on Go's schedule,
//! owners of lists whose review is coming up (weekly) or overdue (daily) are reminded once
//! per window, recorded in plugin data of kind `access_list` under Go's key, and under a
//! lease so that several replicas remind each owner exactly once.
//!
//! A plugin hands [`ReminderJob::run`] a "send this text to this owner" callback (the owner
//! is a Teleport user name, resolved by the bot like any recipient).

mod job;
mod notified;
mod schedule;
mod text;
mod window;

pub use job::{PassError, PassReport, ReminderJob};
pub use notified::{ListNotifications, ListNotificationsCodec, USER_NOTIFICATIONS_KEY};
pub use schedule::{FIRST_RUN, INTERVAL, seventh_jitter};
pub use text::reminder_text;
pub use window::window_start;
