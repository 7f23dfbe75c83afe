//! The Bot Framework connector: an activity carrying an adaptive card, posted to a
//! conversation (201) and replaced in place (200).

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{MsApi, MsApiError, Service};

/// The bot's name on its activities (Go's).
pub const BOT_NAME: &str = "TeleBot";
/// The attachment type of an adaptive card (also in Graph's listing of a posted card).
pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

#[derive(Deserialize)]
struct ActivityId {
    #[serde(default)]
    id: String,
}

/// The activity wrapping `card`, from the bot (`28:`-less IDs get Teams' `29:` prefix, as
/// Go's plugin sends them).
pub fn card_activity(from_id: &str, card: &Value) -> Value {
    json!({
        "type": "message",
        "from": { "id": format!("29:{from_id}"), "name": BOT_NAME },
        "attachments": [{
            "contentType": ADAPTIVE_CARD,
            "content": card,
        }],
    })
}

impl MsApi {
    fn activities_url(&self, conversation: &str, activity: Option<&str>) -> reqwest::Url {
        let mut segments = vec![
            self.endpoints.region.as_str(),
            "v3",
            "conversations",
            conversation,
            "activities",
        ];
        segments.extend(activity);
        // Go posts to `.../activities/` (an empty activity ID); kept for the same routes.
        Self::url(&self.endpoints.bot_framework, &segments, activity.is_none())
    }

    /// `POST {region}/v3/conversations/{conversation}/activities/`: the new activity's ID.
    pub async fn post_card(
        &self,
        conversation: &str,
        from_id: &str,
        card: &Value,
    ) -> Result<String, MsApiError> {
        let url = self.activities_url(conversation, None);
        let body = card_activity(from_id, card);
        let answer: Option<ActivityId> = self
            .call(
                Service::BotFramework,
                Method::POST,
                url,
                &[],
                Some(&body),
                StatusCode::CREATED,
            )
            .await?;
        match answer.map(|a| a.id).filter(|id| !id.is_empty()) {
            Some(id) => Ok(id),
            None => Err(MsApiError::Decode {
                service: "the Bot Framework",
                message: "no activity ID in the answer".into(),
            }),
        }
    }

    /// `PUT {region}/v3/conversations/{conversation}/activities/{id}`: replaces the card.
    pub async fn update_card(
        &self,
        conversation: &str,
        activity_id: &str,
        from_id: &str,
        card: &Value,
    ) -> Result<(), MsApiError> {
        let url = self.activities_url(conversation, Some(activity_id));
        let body = card_activity(from_id, card);
        let _: Option<Value> = self
            .call(
                Service::BotFramework,
                Method::PUT,
                url,
                &[],
                Some(&body),
                StatusCode::OK,
            )
            .await?;
        Ok(())
    }
}
