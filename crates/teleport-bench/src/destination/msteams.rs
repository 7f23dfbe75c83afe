//! The fake Microsoft Teams as a chaos destination: one reviewer who has the app, so each
//! request is one card in one chat; the card is final once updated to the resolution. The
//! plugin looks cards up through Graph (`lookup_posted`), so a replica killed between a
//! post and its record leaves one card, not two.

use teleport_fakes::msteams::{FakeMsTeams, FakeMsTeamsOptions};

use super::{Post, request_id_in, shows_final_status};

/// The app's client secret (a secret the plugin must never log).
pub(super) const SECRET: &str = "msteams-bench-app-secret";
const REVIEWER_ID: &str = "8f3f0b6a-0000-4000-8000-0000000000b1";
const REVIEWER: &str = "reviewer@example.com";

pub(super) async fn start() -> FakeMsTeams {
    let fake = FakeMsTeams::start(FakeMsTeamsOptions::default().app_secret(SECRET).user(
        REVIEWER_ID,
        REVIEWER,
        "Reviewer",
    ))
    .await;
    // The reviewer has the app already, so the chaos run measures posting, not installs.
    fake.install_for(REVIEWER_ID);
    fake
}

pub(super) fn config_section(fake: &FakeMsTeams) -> String {
    format!(
        "[msapi]\napp_id = \"{app}\"\ntenant_id = \"{tenant}\"\n\
         teams_app_id = \"00000000-0000-4000-8000-00000000cccc\"\napp_secret = \"{SECRET}\"\n\
         login_url = \"{login}\"\ngraph_url = \"{graph}\"\nbot_framework_url = \"{bot}\"\n\
         lookup_posted = true\n\n\
         [role_to_recipients]\n\"*\" = \"{REVIEWER}\"\n",
        app = fake.app_id(),
        tenant = fake.tenant_id(),
        login = fake.login_url(),
        graph = fake.graph_url(),
        bot = fake.bot_framework_url(),
    )
}

/// One post per card; its request is named by the card's "Access Request <id>" heading
/// (other UUIDs, the tenant's say, may appear in links).
pub(super) fn posts(fake: &FakeMsTeams) -> Vec<Post> {
    fake.activities()
        .iter()
        .map(|activity| {
            let texts = activity.texts();
            let request_id = texts
                .iter()
                .find_map(|text| text.strip_prefix("Access Request "))
                .and_then(request_id_in)
                .map(str::to_owned);
            Post {
                request_id,
                is_final: shows_final_status(&texts.join("\n")),
                received: Some(activity.received),
            }
        })
        .collect()
}
