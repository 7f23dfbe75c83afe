//! The Graph v1.0 calls: the app in the organisation's catalog, users by e-mail or ID, the
//! app's installation for a user (find, install, remove, its chat with the bot) and for a
//! team.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::client::{MsApi, MsApiError, Service};

/// The app as the catalog lists it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TeamsApp {
    /// The catalog ID, which installations refer to.
    pub id: String,
    /// The manifest's `id` (`teams_app_id`).
    #[serde(default)]
    pub external_id: String,
    /// Its name.
    #[serde(default)]
    pub display_name: String,
    /// `organization`, `store`, ...
    #[serde(default)]
    pub distribution_method: String,
}

/// An installation of the app (`teamsAppInstallation`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct InstalledApp {
    /// The installation ID.
    pub id: String,
}

/// A chat.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    /// The conversation ID the Bot Framework posts to.
    pub id: String,
    /// The tenant.
    #[serde(default)]
    pub tenant_id: String,
    /// Its link.
    #[serde(default)]
    pub web_url: String,
}

/// A person.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The Entra ID object ID.
    pub id: String,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `mail`.
    #[serde(default)]
    pub mail: Option<String>,
}

/// A collection answer.
#[derive(Deserialize)]
struct Collection<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
}

/// A string literal in an OData filter: `'` doubled.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

impl MsApi {
    /// One Graph call: `method` on `segments` under the Graph base, with `query` and
    /// `body`, answered with `expect` (`None` when that answer has no body).
    async fn graph<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        expect: StatusCode,
    ) -> Result<Option<T>, MsApiError> {
        let url = Self::url(&self.endpoints.graph, segments, false);
        self.call(Service::Graph, method, url, query, body, expect)
            .await
    }

    /// The one item of the Graph list at `segments` that `filter` (`$filter`) selects,
    /// each with `expand` (`$expand`) when given; `what` names it in errors.
    async fn find_one<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        expand: Option<&str>,
        filter: &str,
        what: &str,
    ) -> Result<T, MsApiError> {
        let query: Vec<(&str, &str)> = expand
            .map(|expand| ("$expand", expand))
            .into_iter()
            .chain([("$filter", filter)])
            .collect();
        let answer: Option<Collection<T>> = self
            .graph(Method::GET, segments, &query, None, StatusCode::OK)
            .await?;
        let mut items = answer.map(|c| c.value).unwrap_or_default();
        match items.len() {
            0 => Err(MsApiError::NotFound(format!("{what} not found"))),
            1 => Ok(items.remove(0)),
            n => Err(MsApiError::Ambiguous(format!("{n} matches for {what}"))),
        }
    }

    /// `GET appCatalogs/teamsApps?$filter=externalId eq '<id>'`: the app in the catalog.
    pub async fn teams_app(&self, teams_app_id: &str) -> Result<TeamsApp, MsApiError> {
        let what = format!("the Teams app {teams_app_id} in the organization's app catalog");
        let filter = format!("externalId eq {}", literal(teams_app_id));
        self.find_one(&["appCatalogs", "teamsApps"], None, &filter, &what)
            .await
    }

    /// `GET users?$filter=mail eq '<mail>'`.
    pub async fn user_by_email(&self, email: &str) -> Result<User, MsApiError> {
        let what = format!("a Microsoft user with e-mail {email}");
        let filter = format!("mail eq {}", literal(email));
        self.find_one(&["users"], None, &filter, &what).await
    }

    /// `GET users?$filter=id eq '<id>'`.
    pub async fn user_by_id(&self, id: &str) -> Result<User, MsApiError> {
        let what = format!("a Microsoft user with ID {id}");
        self.find_one(&["users"], None, &format!("id eq {}", literal(id)), &what)
            .await
    }

    /// `GET users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '<app>'`.
    pub async fn app_for_user(
        &self,
        app: &TeamsApp,
        user_id: &str,
    ) -> Result<InstalledApp, MsApiError> {
        let what = format!("the app's installation for user {user_id}");
        let segments = ["users", user_id, "teamwork", "installedApps"];
        self.installation(&segments, app, &what).await
    }

    /// `GET teams/{group}/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '<app>'`.
    pub async fn app_for_team(
        &self,
        app: &TeamsApp,
        team_id: &str,
    ) -> Result<InstalledApp, MsApiError> {
        let what = format!("the app's installation in team {team_id}");
        let segments = ["teams", team_id, "installedApps"];
        self.installation(&segments, app, &what).await
    }

    /// The one installation of `app` in the `installedApps` list at `segments`.
    async fn installation(
        &self,
        segments: &[&str],
        app: &TeamsApp,
        what: &str,
    ) -> Result<InstalledApp, MsApiError> {
        let filter = format!("teamsApp/id eq {}", literal(&app.id));
        self.find_one(segments, Some("teamsApp"), &filter, what)
            .await
    }

    /// `POST users/{id}/teamwork/installedApps`: installs the app for a user. A 409
    /// `Conflict` means it is installed already (another replica, or a race), as in Go.
    pub async fn install_for_user(&self, app: &TeamsApp, user_id: &str) -> Result<(), MsApiError> {
        let mut bind = self.endpoints.graph.clone();
        if let Ok(mut path) = bind.path_segments_mut() {
            path.pop_if_empty()
                .extend(["appCatalogs", "teamsApps", app.id.as_str()]);
        }
        let body = json!({ "teamsApp@odata.bind": bind.as_str() });
        let segments = ["users", user_id, "teamwork", "installedApps"];
        let installed: Result<Option<serde_json::Value>, _> = self
            .graph(
                Method::POST,
                &segments,
                &[],
                Some(&body),
                StatusCode::CREATED,
            )
            .await;
        match installed {
            Ok(_) => Ok(()),
            Err(error) if error.status() == Some(409) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `DELETE users/{id}/teamwork/installedApps/{installation}`.
    pub async fn uninstall_for_user(
        &self,
        user_id: &str,
        installation_id: &str,
    ) -> Result<(), MsApiError> {
        let segments = [
            "users",
            user_id,
            "teamwork",
            "installedApps",
            installation_id,
        ];
        let _: Option<serde_json::Value> = self
            .graph(Method::DELETE, &segments, &[], None, StatusCode::NO_CONTENT)
            .await?;
        Ok(())
    }

    /// `GET users/{id}/teamwork/installedApps/{installation}/chat`: the user's chat with
    /// the bot.
    pub async fn chat_for_installation(
        &self,
        user_id: &str,
        installation_id: &str,
    ) -> Result<Chat, MsApiError> {
        let segments = [
            "users",
            user_id,
            "teamwork",
            "installedApps",
            installation_id,
            "chat",
        ];
        self.graph(Method::GET, &segments, &[], None, StatusCode::OK)
            .await?
            .ok_or_else(|| MsApiError::Decode {
                service: "Microsoft Graph",
                message: "an empty answer for a chat".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn filter_literals_double_quotes() {
        assert_eq!(literal("o'brien@example.com"), "'o''brien@example.com'");
    }
}
