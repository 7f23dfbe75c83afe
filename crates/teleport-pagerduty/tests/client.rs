//! The PagerDuty client against the fake PagerDuty on loopback: paged lookups, headers,
//! incident_key de-duplication, notes, resolving, and every error class.

use std::time::Duration;

use teleport_fakes::pagerduty::{FakeOnCall, FakeSchedule};
use teleport_fakes::{FakePagerDuty, FakePagerDutyOptions, Fault};
use teleport_pagerduty::client::{NewIncident, PagerDutyApi, PagerDutyError};
use teleport_plugin_runtime::config::Secret;
use teleport_plugin_runtime::http::{HttpClientOptions, http_client};

const KEY: &str = "pd-api-test-key";
const BOT: &str = "bot@example.com";

async fn fake() -> FakePagerDuty {
    let fake =
        FakePagerDuty::start(FakePagerDutyOptions::default().api_key(KEY).page_size(2)).await;
    // PagerDuty's query matches parts of names and e-mails: these all match "bot@example.com"
    // and come first, so finding the bot takes more than one page of two.
    for (name, email) in [
        ("Robot", "robot@example.com"),
        ("Abbot", "abbot@example.com"),
        ("Turbot", "turbot@example.com"),
    ] {
        fake.add_user(name, email);
    }
    fake.add_user("Bot", BOT);
    fake
}

fn api(fake: &FakePagerDuty, key: &str) -> PagerDutyApi {
    let http = http_client(&HttpClientOptions::default()).unwrap();
    PagerDutyApi::new(http, &fake.base_url(), &Secret::new(key), BOT).unwrap()
}

fn incident(service: &str, key: &str) -> NewIncident {
    NewIncident {
        title: "Access request from alice@example.com".into(),
        service_id: service.into(),
        incident_key: key.into(),
        details: "alice@example.com requested permissions for roles dev on Teleport.".into(),
    }
}

#[tokio::test]
async fn lookups_page_until_an_exact_match() {
    let fake = fake().await;
    let ep = fake.add_escalation_policy("EP");
    // Partial matches come first; only the exact name (any case) counts.
    for name in [
        "Teleport Notifications (old)",
        "Old Teleport Notifications",
        "Teleport Notifications 2",
    ] {
        fake.add_service(name, &ep);
    }
    let wanted = fake.add_service("Teleport Notifications", &ep);
    let api = api(&fake, KEY);

    let user = api
        .find_user_by_email("BOT@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, BOT);
    assert!(
        api.find_user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let service = api
        .find_service_by_name("teleport notifications")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(service.id, wanted);
    assert_eq!(service.escalation_policy.id, ep);
    assert!(
        api.find_service_by_name("Teleport")
            .await
            .unwrap()
            .is_none(),
        "a partial name is not a match"
    );

    let listing: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "GET /users")
        .collect();
    assert_eq!(
        listing.len(),
        3,
        "two pages for the bot, one for nobody: {listing:?}"
    );
    assert_eq!(listing[0].query_values("limit"), ["100"]);
    assert_eq!(listing[1].query_values("offset"), ["2"]);
    let services = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "GET /services")
        .count();
    assert_eq!(services, 2 + 2, "each lookup reads both pages");
    assert_eq!(
        listing[0].query_values("query"),
        ["bot@example.com"],
        "Go lowercases the query"
    );
    assert!(
        listing.iter().all(|c| c.from.is_none()),
        "reads carry no From header"
    );
}

#[tokio::test]
async fn on_calls_are_paged_and_filtered_to_the_user() {
    let fake = fake().await;
    let alice = fake.add_user("Alice", "alice@example.com");
    let other = fake.add_user("Other", "other@example.com");
    let policies: Vec<String> = (0..3)
        .map(|n| fake.add_escalation_policy(&format!("EP{n}")))
        .collect();
    for (level, policy) in policies.iter().enumerate() {
        fake.add_oncall(FakeOnCall {
            user_id: alice.clone(),
            escalation_policy_id: policy.clone(),
            escalation_level: level as u32 + 1,
            schedule: (level == 0).then(|| FakeSchedule {
                id: "PSCHED1".into(),
                name: "Primary".into(),
            }),
        });
        fake.add_oncall(FakeOnCall {
            user_id: other.clone(),
            escalation_policy_id: policy.clone(),
            escalation_level: 1,
            schedule: None,
        });
    }
    let api = api(&fake, KEY);
    let entries = api.on_calls(&alice, &policies).await.unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.user.id == alice));
    assert_eq!(entries[0].schedule.as_ref().unwrap().summary, "Primary");
    assert_eq!(entries[2].escalation_level, 3);
    let call = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "GET /oncalls")
        .unwrap();
    assert_eq!(call.query_values("user_ids[]"), [alice.as_str()]);
    assert_eq!(call.query_values("escalation_policy_ids[]").len(), 3);
    assert!(api.on_calls(&alice, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn incidents_notes_and_resolution_carry_the_from_header() {
    let fake = fake().await;
    let ep = fake.add_escalation_policy("EP");
    let service = fake.add_service("Teleport Notifications", &ep);
    let api = api(&fake, KEY);

    let created = api
        .create_incident(&incident(&service, "teleport-access-request/r1"))
        .await
        .unwrap();
    api.add_note(&created.id, "bob reviewed the request")
        .await
        .unwrap();
    api.resolve_incident(&created.id).await.unwrap();
    // Resolving again (a retry after a lost answer) is fine.
    api.resolve_incident(&created.id).await.unwrap();

    let stored = fake.incident(&created.id).unwrap();
    assert_eq!(stored.title, "Access request from alice@example.com");
    assert_eq!(
        stored.incident_key.as_deref(),
        Some("teleport-access-request/r1")
    );
    assert_eq!(stored.created_by, BOT);
    assert_eq!(stored.notes[0].from, BOT);
    assert_eq!(stored.status, "resolved");
    let create = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "POST /incidents")
        .unwrap();
    let body = create.body.unwrap();
    assert_eq!(body["incident"]["service"]["type"], "service_reference");
    assert_eq!(body["incident"]["body"]["type"], "incident_body");
}

#[tokio::test]
async fn a_second_create_with_the_same_key_yields_the_open_incident() {
    let fake = fake().await;
    let ep = fake.add_escalation_policy("EP");
    let service = fake.add_service("Teleport Notifications", &ep);
    let api = api(&fake, KEY);

    // The first answer is lost: the incident exists but the client saw a 502.
    fake.lose_next_responses("POST /incidents", 1);
    let lost = api
        .create_incident(&incident(&service, "k-lost"))
        .await
        .unwrap_err();
    assert!(lost.is_transient(), "{lost}");
    let again = api
        .create_incident(&incident(&service, "k-lost"))
        .await
        .unwrap();
    assert_eq!(fake.incidents().len(), 1);
    assert_eq!(again.id, fake.incidents()[0].id);

    // A refusal that is not about an open incident stays an error.
    let refused = api
        .create_incident(&incident("PNOSUCH", "k-other"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PagerDutyError::Api { status: 400, .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("Service not found"),
        "{refused}"
    );
}

#[tokio::test]
async fn errors_are_sorted_by_what_to_do() {
    let fake = fake().await;
    let api = api(&fake, KEY);

    fake.control().fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let limited = api.abilities().await.unwrap_err();
    assert!(
        matches!(limited, PagerDutyError::RateLimited { .. }),
        "{limited}"
    );
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));

    fake.control()
        .fail_next(1, Fault::ServerError { status: 503 });
    let unavailable = api.abilities().await.unwrap_err();
    assert!(unavailable.is_transient(), "{unavailable}");

    let wrong_key = self::api(&fake, "wrong").abilities().await.unwrap_err();
    assert!(
        matches!(wrong_key, PagerDutyError::Auth { status: 401, .. }),
        "{wrong_key}"
    );
    assert!(
        wrong_key.is_transient(),
        "a refused key is retried (loudly): fixing it must lose nothing"
    );
    assert!(
        !format!("{wrong_key} {wrong_key:?} {api:?}").contains(KEY),
        "no secret in errors or Debug"
    );

    let missing = api.add_note("PNOSUCH", "x").await.unwrap_err();
    assert!(
        matches!(missing, PagerDutyError::Api { status: 404, .. }),
        "{missing}"
    );

    fake.down().await;
    let down = api.abilities().await.unwrap_err();
    assert!(down.is_transient(), "{down}");
    fake.up().await.unwrap();
    assert!(!api.abilities().await.unwrap().is_empty());
}
