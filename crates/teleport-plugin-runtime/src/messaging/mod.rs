//! Messaging plugins (chat, e-mail): the generic request → messages state machine; each
//! plugin supplies only a [`MessagingBot`].

mod bot;
mod handler;
mod record;
mod run;

pub use bot::{MessagingBot, Recipient, RequestView, Status};
pub use handler::{MessagingHandler, MessagingOptions};
pub use record::{ChannelMessage, MessageCodec, MessageState, StateCodec};
pub use run::{MessagingPlugin, run_messaging, run_messaging_with_companions};
