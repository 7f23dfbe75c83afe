//! Messaging plugins (chat, e-mail): the generic request → messages state machine; each
//! plugin supplies only a [`MessagingBot`].

mod bot;
mod go_data;
mod handler;
mod reconcile;
mod record;
mod resource_names;
mod run;

pub use bot::{MessagingBot, PostWindow, Recipient, RequestView, Status};
pub use go_data::GoRequestData;
pub use handler::{MessagingHandler, MessagingOptions};
pub use record::{ChannelMessage, ChannelMessageCodec, MessageCodec, MessageState, StateCodec};
pub use run::{MessagingPlugin, run_messaging, run_messaging_with_companions};
