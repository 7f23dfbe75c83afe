//! Decisions taken in GitLab, against the fake GitLab, the in-process Teleport and the running
//! plugin, through the pieces the webhook route and the poller call: a delivery read with
//! its token, the issue assessed from GitLab's API and the request's record, a poll's scan,
//! and the resulting state change (end to end through `run`: webhook.rs, polling.rs). A maintainer's label decides with their latest note; a
//! reporter's, a stranger's or a copied issue's does not; seen again it decides nothing.

use crate::common;

use teleport_client::{ClientConfig, CredentialsSource, TeleportClient};
use teleport_fakes::Fault;
use teleport_gitlab::assess::{AssessError, Assessor};
use teleport_gitlab::decision::{Assessment, Ignored, Verdict};
use teleport_gitlab::webhook::{Delivery, IssueRef, read_delivery};
use teleport_plugin_runtime::config::Secret;
use teleport_testkit::wire::types::RequestState;
use time::OffsetDateTime;

use common::{Env, HOOK_SECRET, MARIA, OWEN, PROJECT_ID, RITA, STRANGER, closed, released};

fn teleport_client(env: &Env) -> TeleportClient {
    TeleportClient::new(ClientConfig::new(
        env.kit.auth_addr().to_string(),
        CredentialsSource::IdentityFile(env.identity.clone()),
    ))
    .expect("Teleport client")
}

fn assessor(env: &Env) -> Assessor {
    Assessor::new(env.api(), teleport_client(env), env.gitlab.bot_id(), 40)
}

/// A request with its issue opened and recorded by the running plugin; returns (id, iid).
async fn request_with_issue(env: &Env, user: &str) -> (String, u64) {
    let id = env.request(user, &["dev"]);
    let data = env
        .wait_data(&id, "the issue recorded", |d| {
            d.get("issue_iid").is_some_and(|v| !v.is_empty()) && released(d)
        })
        .await;
    (id, data["issue_iid"].parse().unwrap())
}

#[tokio::test]
async fn a_maintainers_label_decides_once_and_the_plugin_closes_the_issue() {
    let env = Env::new().await;
    let plugin = env.started().await;
    let (id, iid) = request_with_issue(&env, "alice").await;

    env.gitlab.add_note_as(iid, MARIA, "an older thought");
    env.gitlab
        .add_note_as(iid, MARIA, "  On call this week; approved.  ");
    let change = env.gitlab.add_label_as(iid, MARIA, "Teleport: Approved");

    // The webhook: GitLab's own body and headers, read with the secret.
    let body = env
        .gitlab
        .issue_hook_body(iid, MARIA, "update", Some(&change))
        .unwrap()
        .to_string();
    let secret = Secret::new(HOOK_SECRET);
    let delivery = read_delivery(
        &secret,
        Some(HOOK_SECRET.as_bytes()),
        Some(b"Issue Hook"),
        body.as_bytes(),
    )
    .unwrap();
    let issue = IssueRef {
        project_id: PROJECT_ID,
        iid,
    };
    assert_eq!(delivery, Delivery::Assess(issue));
    let wrong = read_delivery(
        &secret,
        Some(b"guess"),
        Some(b"Issue Hook"),
        body.as_bytes(),
    );
    assert_eq!(wrong.unwrap_err().status(), 401);

    let assessor = assessor(&env);
    let Assessment::Decide(decision) = assessor.assess(issue.project_id, issue.iid).await.unwrap()
    else {
        panic!("no decision");
    };
    assert_eq!(decision.request_id, id);
    assert_eq!(decision.verdict, Verdict::Approve);
    assert_eq!(decision.delegator, "gitlab:maria");
    assert_eq!(decision.reason, "On call this week; approved.");

    // What the runtime's decision writer will do with it.
    teleport_client(&env)
        .set_request_state(&decision.state_change())
        .await
        .unwrap();
    let resolution = env
        .kit
        .resolutions()
        .into_iter()
        .find(|r| r.request_id == id)
        .expect("the request was resolved");
    assert_eq!(resolution.delegator, "gitlab:maria");
    assert_eq!(resolution.reason, "On call this week; approved.");

    let done = env
        .wait_issue(&id, "closed by the plugin", |i| i.state == "closed")
        .await;
    assert_eq!(done.labels, ["Teleport: Approved"], "pending swapped out");
    let notes: Vec<&str> = done.user_notes().map(|n| n.body.as_str()).collect();
    assert_eq!(
        notes.last().copied(),
        Some("Access request has been approved\n\nReason: `On call this week; approved.`")
    );
    env.wait_data(&id, "closed", closed).await;

    // Seen again (a redelivery, the poller): nothing more to decide.
    assert_eq!(
        assessor.assess(PROJECT_ID, iid).await.unwrap(),
        Assessment::Nothing
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn labels_by_reporters_strangers_or_on_copied_issues_are_ignored() {
    let env = Env::new().await;
    let plugin = env.started().await;
    let assessor = assessor(&env);

    let (_, by_reporter) = request_with_issue(&env, "alice").await;
    env.gitlab
        .add_label_as(by_reporter, RITA, "Teleport: Approved");
    assert_eq!(
        assessor.assess(PROJECT_ID, by_reporter).await.unwrap(),
        Assessment::Ignore(Ignored::NotAllowed {
            username: "rita".into(),
            access_level: Some(20),
            required: 40
        })
    );

    let (_, by_stranger) = request_with_issue(&env, "bob").await;
    env.gitlab
        .add_label_as(by_stranger, STRANGER, "Teleport: Denied");
    assert!(matches!(
        assessor.assess(PROJECT_ID, by_stranger).await.unwrap(),
        Assessment::Ignore(Ignored::NotAllowed {
            access_level: None,
            ..
        })
    ));

    // An issue someone wrote by copying another's description names a request that is not
    // its own.
    let original = env
        .gitlab
        .with_state(|s| s.issue(by_stranger).unwrap().description.clone());
    let copy = env.gitlab.open_issue_as(MARIA, "copied", &original);
    env.gitlab.add_label_as(copy, MARIA, "Teleport: Approved");
    assert!(matches!(
        assessor.assess(PROJECT_ID, copy).await.unwrap(),
        Assessment::Ignore(Ignored::NotTheRequestsIssue { .. })
    ));

    // An owner through a parent group counts.
    let (id, by_owner) = request_with_issue(&env, "carol").await;
    env.gitlab.add_label_as(by_owner, OWEN, "Teleport: Denied");
    let Assessment::Decide(decision) = assessor.assess(PROJECT_ID, by_owner).await.unwrap() else {
        panic!("the owner decides");
    };
    assert_eq!(
        (decision.request_id.as_str(), decision.verdict),
        (id.as_str(), Verdict::Deny)
    );
    assert_eq!(decision.reason, "", "no note, no reason");

    let pending = RequestState::Pending as i32;
    for request in env.kit.requests() {
        assert_eq!(request.spec.unwrap().state, pending, "nothing was applied");
    }
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_poll_finds_labelled_issues_open_or_closed_and_survives_gitlab_trouble() {
    let env = Env::new().await;
    let plugin = env.started().await;
    let assessor = assessor(&env);
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(5);

    let (_, untouched) = request_with_issue(&env, "alice").await;
    let (_, open) = request_with_issue(&env, "bob").await;
    let (_, labelled_and_closed) = request_with_issue(&env, "carol").await;
    env.gitlab.add_label_as(open, MARIA, "Teleport: Approved");
    env.gitlab
        .add_label_as(labelled_and_closed, MARIA, "Teleport: Denied");
    env.gitlab.close_issue_as(labelled_and_closed, MARIA);

    let scan = assessor.scan(PROJECT_ID, before).await.unwrap();
    assert_eq!(scan.candidates, [open, labelled_and_closed]);
    assert!(!scan.candidates.contains(&untouched));
    let newest = scan.newest_change.expect("issues were listed");
    assert!(newest >= before);
    let later = assessor
        .scan(PROJECT_ID, newest + time::Duration::seconds(1))
        .await
        .unwrap();
    assert!(later.candidates.is_empty(), "nothing changed since");
    for iid in scan.candidates {
        assert!(matches!(
            assessor.assess(PROJECT_ID, iid).await.unwrap(),
            Assessment::Decide(_)
        ));
    }

    // A 429 or GitLab down fails the poll as transient: the poller keeps its cursor and
    // tries again, so nothing is lost.
    env.gitlab.control().fail_next_for(
        "GET /api/v4/projects/{project}/issues",
        1,
        Fault::RateLimited {
            retry_after_secs: 2,
        },
    );
    let limited = assessor.scan(PROJECT_ID, before).await.unwrap_err();
    assert!(
        limited.is_transient() && limited.retry_after().is_some(),
        "{limited}"
    );
    env.gitlab.down().await;
    let error = AssessError::from(assessor.scan(PROJECT_ID, before).await.unwrap_err());
    assert!(error.is_transient(), "{error}");
    let error = assessor.assess(PROJECT_ID, open).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    env.gitlab.up().await.unwrap();
    assert_eq!(
        assessor
            .scan(PROJECT_ID, before)
            .await
            .unwrap()
            .candidates
            .len(),
        2
    );
    plugin.shutdown().await;
}
