//! Messaging plugins (chat, e-mail): the generic request → messages state
//! machine; each plugin supplies only a [`MessagingBot`].

mod app;
mod bot;
mod pause;

pub use app::{MessagingApp, MessagingOptions};
pub use bot::{MessagingBot, Recipient, RequestView, SendError, Status};
