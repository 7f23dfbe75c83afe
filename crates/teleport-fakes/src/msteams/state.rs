//! What the fake Microsoft Teams remembers: the organisation's app catalog entry, users and
//! the app's installations for them, teams with the app, issued tokens, and every activity
//! (adaptive card) the bot posted or updated, with the wall-clock times Graph lists it by.

use std::time::{Instant, SystemTime};

use serde_json::Value;

/// The app as the organisation's app catalog lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsApp {
    /// The catalog ID (`teamsApp/id`), which installations refer to.
    pub id: String,
    /// The manifest's `id`: the plugin's `teams_app_id`.
    pub external_id: String,
    /// The name people see.
    pub display_name: String,
}

/// A person in the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsUser {
    /// The Entra ID (AAD) object ID.
    pub id: String,
    /// `mail`.
    pub mail: String,
    /// `displayName`.
    pub display_name: String,
    /// The app's installation for this user and the chat with the bot, once installed.
    pub installation: Option<Installation>,
}

/// An installation of the app in a user's personal scope or a team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    /// The installation ID.
    pub id: String,
    /// The chat between the user and the bot (for a team: unused).
    pub chat_id: String,
}

/// A team (an M365 group) and its channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsTeam {
    /// The group ID (`groupId=` in a channel link).
    pub group_id: String,
    /// The channels' conversation IDs (`19:...@thread.tacv2`).
    pub channels: Vec<String>,
    /// The app's installation in the team, if installed.
    pub installation: Option<String>,
}

/// One version of an activity: its adaptive card.
#[derive(Clone, Debug, PartialEq)]
pub struct CardVersion {
    /// The attachment's `content` (the adaptive card).
    pub card: Value,
    /// The whole activity as received.
    pub activity: Value,
}

/// An activity the bot posted, with every update.
#[derive(Clone, Debug, PartialEq)]
pub struct MsActivity {
    /// Its ID.
    pub id: String,
    /// The conversation it is in.
    pub conversation: String,
    /// The Bot Framework region in the path (`emea`, `amer`, ...).
    pub region: String,
    /// As first posted.
    pub posted: CardVersion,
    /// Every later `PUT`, oldest first.
    pub updates: Vec<CardVersion>,
    /// When it reached the fake.
    pub received: Instant,
    /// Graph's `createdDateTime`: never earlier than the activity before it, so the
    /// activities are in creation order.
    pub created: SystemTime,
    /// Graph's `lastModifiedDateTime`: the creation or the latest update.
    pub modified: SystemTime,
}

impl MsActivity {
    /// The card after the latest update.
    pub fn current(&self) -> &Value {
        &self.updates.last().unwrap_or(&self.posted).card
    }

    /// Every text of the current card (text blocks, fact titles and values, action titles
    /// and URLs), in order: what a person reading it sees.
    pub fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_texts(self.current(), &mut out);
        out
    }

    /// The current card's visible text, one item a line.
    pub fn text(&self) -> String {
        self.texts().join("\n")
    }
}

fn collect_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for key in ["text", "title", "value", "url"] {
                if let Some(Value::String(s)) = map.get(key) {
                    out.push(s.clone());
                }
            }
            for (key, child) in map {
                if matches!(child, Value::Array(_) | Value::Object(_)) && key != "$schema" {
                    collect_texts(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_texts(item, out)),
        _ => {}
    }
}

/// A token the fake issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token.
    pub token: String,
    /// The scope it was issued for.
    pub scope: String,
    /// When it stops being accepted.
    pub expires: Instant,
}

/// Everything the fake remembers.
#[derive(Debug, Default)]
pub struct MsState {
    /// The app in the catalog (`None`: not uploaded).
    pub app: Option<MsApp>,
    /// People.
    pub users: Vec<MsUser>,
    /// Teams.
    pub teams: Vec<MsTeam>,
    /// Activities in posting order.
    pub activities: Vec<MsActivity>,
    /// Tokens issued, oldest first.
    pub tokens: Vec<IssuedToken>,
    /// Calls made with a token past its expiry (answered 401).
    pub expired_token_uses: u64,
    /// Installations that were removed (`DELETE`), by user ID.
    pub uninstalled: Vec<String>,
    /// Per user, lookups of their apps that still find nothing after an install.
    pub(crate) hidden_lookups: std::collections::HashMap<String, u32>,
    pub(crate) next_id: u64,
}

impl MsState {
    /// A fresh ID with a prefix.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:08}", self.next_id)
    }

    /// Tokens issued for `scope`.
    pub fn tokens_for(&self, scope: &str) -> usize {
        self.tokens.iter().filter(|t| t.scope == scope).count()
    }

    /// The user with this ID or e-mail.
    pub fn user(&self, id_or_mail: &str) -> Option<&MsUser> {
        self.users
            .iter()
            .find(|u| u.id == id_or_mail || u.mail.eq_ignore_ascii_case(id_or_mail))
    }

    /// The activities in a conversation.
    pub fn in_conversation<'a>(
        &'a self,
        conversation: &'a str,
    ) -> impl Iterator<Item = &'a MsActivity> {
        self.activities
            .iter()
            .filter(move |a| a.conversation == conversation)
    }

    /// The activity with this ID.
    pub fn activity(&self, id: &str) -> Option<&MsActivity> {
        self.activities.iter().find(|a| a.id == id)
    }

    /// The creation time of a new activity: now, or the latest activity's if the clock
    /// stepped back, so that the activities stay in creation order.
    pub(crate) fn next_created(&self) -> SystemTime {
        let now = SystemTime::now();
        self.activities
            .last()
            .map_or(now, |latest| latest.created.max(now))
    }

    /// Whether `chat` is a user's chat with the app.
    pub(crate) fn chat_known(&self, chat: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.installation.as_ref().is_some_and(|i| i.chat_id == chat))
    }

    /// Whether the bot may post in `conversation`: a user's chat with the app, or a
    /// channel of a team the app is installed in.
    pub(crate) fn conversation_known(&self, conversation: &str) -> bool {
        self.chat_known(conversation)
            || self
                .teams
                .iter()
                .any(|t| t.installation.is_some() && t.channels.iter().any(|c| c == conversation))
    }
}
