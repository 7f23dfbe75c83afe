//! What a configured Teams recipient is: a channel link (`https://teams.microsoft.com/l/
//! channel/<conversation>/<name>?groupId=…&tenantId=…`), an e-mail address, or an Entra ID
//! user ID — read as Go's plugin reads them.

use reqwest::Url;
use teleport_plugin_runtime::config::is_plain_email;

/// A channel, from its link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelLink {
    /// The channel's conversation ID (`19:…@thread.tacv2`), decoded.
    pub conversation: String,
    /// The channel's name as in the link.
    pub name: String,
    /// The team's group ID.
    pub group_id: String,
    /// The tenant.
    pub tenant_id: String,
}

/// What a recipient string names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientKind {
    /// A channel of a team that has the app.
    Channel(ChannelLink),
    /// A person by e-mail.
    Email(String),
    /// A person by Entra ID object ID.
    UserId(String),
}

/// A channel link, if `raw` is one: a URL whose query has `tenantId` and `groupId` and whose
/// path has four segments, the last two the conversation ID and the channel name (Go's
/// test of the same).
pub fn channel_link(raw: &str) -> Option<ChannelLink> {
    let url = Url::parse(raw).ok()?;
    let mut tenant_id = None;
    let mut group_id = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "tenantId" => tenant_id = Some(value.into_owned()),
            "groupId" => group_id = Some(value.into_owned()),
            _ => {}
        }
    }
    let (tenant_id, group_id) = (
        tenant_id.filter(|t| !t.is_empty())?,
        group_id.filter(|g| !g.is_empty())?,
    );
    let segments: Vec<&str> = url.path_segments()?.collect();
    let [_, _, conversation, name] = segments.as_slice() else {
        return None;
    };
    let decode = |s: &str| percent_decode(s);
    Some(ChannelLink {
        conversation: decode(conversation),
        name: decode(name),
        group_id,
        tenant_id,
    })
}

/// Percent-decoding of a path segment (lossy on invalid UTF-8).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(high)), Some(Some(low))) = (
                bytes.get(i + 1).map(|b| hex(*b)),
                bytes.get(i + 2).map(|b| hex(*b)),
            )
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sorts a recipient the way Go does: a channel link, else an e-mail, else a user ID.
pub fn kind_of(raw: &str) -> RecipientKind {
    let raw = raw.trim();
    if let Some(channel) = channel_link(raw) {
        RecipientKind::Channel(channel)
    } else if is_plain_email(raw) {
        RecipientKind::Email(raw.to_owned())
    } else {
        RecipientKind::UserId(raw.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://teams.microsoft.com/l/channel/19%3a4ba5d2b0e2a04e8f@thread.tacv2/Access%2520requests?groupId=5b9c1a7e-0000-4000-8000-000000000001&tenantId=00000000-0000-4000-8000-00000000aaaa";

    #[test]
    fn channel_links_are_read_like_go() {
        let channel = channel_link(LINK).expect("a channel");
        assert_eq!(channel.conversation, "19:4ba5d2b0e2a04e8f@thread.tacv2");
        assert_eq!(channel.name, "Access%20requests");
        assert_eq!(channel.group_id, "5b9c1a7e-0000-4000-8000-000000000001");
        assert_eq!(channel.tenant_id, "00000000-0000-4000-8000-00000000aaaa");
        assert!(matches!(kind_of(LINK), RecipientKind::Channel(_)));
    }

    #[test]
    fn others_are_people() {
        assert_eq!(
            kind_of("alice@example.com"),
            RecipientKind::Email("alice@example.com".into())
        );
        assert_eq!(
            kind_of("8f3f0b6a-1111-4000-8000-000000000001"),
            RecipientKind::UserId("8f3f0b6a-1111-4000-8000-000000000001".into())
        );
        // No groupId: not a channel (Go's rule).
        let no_group = "https://teams.microsoft.com/l/channel/19%3aabc/General?tenantId=t";
        assert!(channel_link(no_group).is_none());
        // A path of another length: not a channel.
        assert!(
            channel_link("https://teams.microsoft.com/l/channel/x?groupId=g&tenantId=t").is_none()
        );
    }
}
