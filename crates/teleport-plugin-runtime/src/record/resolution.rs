//! The final status of a request as plugins store it (`resolution`), shared by every
//! plugin's record.

use teleport_client::RequestState;

/// The final status of a request as stored in `resolution`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// Expired or deleted while pending.
    Expired,
    /// Promoted to an access list.
    Promoted,
}

impl Resolution {
    /// The stored tag.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::Denied => "DENIED",
            Self::Expired => "EXPIRED",
            Self::Promoted => "PROMOTED",
        }
    }

    /// Reads a stored tag (any case, as Go plugins wrote both).
    pub fn parse(tag: &str) -> Option<Self> {
        match tag.to_ascii_uppercase().as_str() {
            "APPROVED" => Some(Self::Approved),
            "DENIED" => Some(Self::Denied),
            "EXPIRED" => Some(Self::Expired),
            "PROMOTED" => Some(Self::Promoted),
            _ => None,
        }
    }

    /// The resolution a request state means, if resolved.
    pub fn from_state(state: RequestState) -> Option<Self> {
        match state {
            RequestState::Approved => Some(Self::Approved),
            RequestState::Denied => Some(Self::Denied),
            RequestState::Promoted => Some(Self::Promoted),
            _ => None,
        }
    }
}
