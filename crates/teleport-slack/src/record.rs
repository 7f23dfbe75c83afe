//! How Slack messages are kept in the request's record: the Go plugin's `channel/ts` list
//! under `messages`, and its older single `channel_id` + `timestamp`.

use teleport_plugin_runtime::messaging::ChannelMessageCodec;

use crate::bot::SlackBot;

/// The Go plugin's single message was `channel_id` + `timestamp`; references are kept as
/// read, even with an empty side, as before.
impl ChannelMessageCodec for SlackBot {
    const LEGACY_ID_KEY: Option<&'static str> = Some("timestamp");
    const DROPS_INCOMPLETE: bool = false;
}
