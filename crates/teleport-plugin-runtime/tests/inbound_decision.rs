//! The decision write path against the testkit: a decision is applied once however often and
//! from however many replicas it arrives, Teleport's refusals are understood, and the lease
//! it takes in plugin data is given back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use teleport_client::wire::types::RequestState as WireState;
use teleport_client::{ClientConfig, CredentialsSource, RequestState, TeleportClient};
use teleport_plugin_runtime::inbound::decision::DECISION_KEY;
use teleport_plugin_runtime::inbound::{
    Applied, Channel, Decision, DecisionError, DecisionWriter, Verdict,
};
use teleport_plugin_testsupport::{identity_dir, request_id};
use teleport_testkit::{IdentityRequest, Method, Testkit, Verdict as KitVerdict};
use tonic::Code;

const PLUGIN: &str = "jira";
const PLUGIN_USER: &str = "access-plugin";

struct Env {
    kit: Testkit,
    client: TeleportClient,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        let kit = Testkit::start().await.unwrap();
        let (dir, identity) = identity_dir(&kit, &IdentityRequest::new(PLUGIN_USER), "identity");
        let client = TeleportClient::new(ClientConfig::new(
            kit.auth_addr().to_string(),
            CredentialsSource::IdentityFile(identity),
        ))
        .unwrap();
        Self {
            kit,
            client,
            _dir: dir,
        }
    }

    fn writer(&self, replica: &str) -> DecisionWriter {
        DecisionWriter::new(self.client.clone(), PLUGIN, replica)
    }

    fn pending(&self) -> String {
        request_id(
            &self
                .kit
                .create_request("alice", &["editor"], "deploy")
                .unwrap(),
        )
    }

    fn state(&self, id: &str) -> WireState {
        let request = self.kit.get_request(id).unwrap();
        WireState::try_from(request.spec.unwrap().state).unwrap()
    }

    fn lease_key(&self, id: &str) -> String {
        self.kit
            .plugin_data(id, PLUGIN)
            .and_then(|data| data.get(DECISION_KEY).cloned())
            .unwrap_or_default()
    }
}

fn approve(id: &str, who: &str, reason: &str) -> Decision {
    Decision {
        request_id: id.to_owned(),
        verdict: Verdict::Approve,
        reason: reason.to_owned(),
        channel: Channel::SetState {
            delegator: format!("jira:{who}"),
        },
    }
}

#[tokio::test]
async fn a_decision_seen_many_times_by_two_replicas_is_applied_once() {
    let env = Env::new().await;
    let id = env.pending();
    let a = env.writer("replica-a");
    let b = env.writer("replica-b");
    let decision = approve(&id, "bob@example.com", "looks fine");

    // A webhook delivered twice and two polls, on two replicas, all at once.
    let (r1, r2, r3, r4) = tokio::join!(
        a.apply(&decision),
        a.apply(&decision),
        b.apply(&decision),
        b.apply(&decision)
    );
    let mut results = vec![r1, r2, r3, r4];
    // A replica that found the other deciding tries again, as its caller would.
    for result in &mut results {
        if let Err(DecisionError::Busy { .. }) = result {
            *result = b.apply(&decision).await;
        }
    }
    let applied = results
        .iter()
        .filter(|r| matches!(r, Ok(Applied::Applied)))
        .count();
    assert_eq!(applied, 1, "{results:?}");
    for result in &results {
        assert!(
            matches!(
                result,
                Ok(Applied::Applied) | Ok(Applied::AlreadyResolved(RequestState::Approved))
            ),
            "{result:?}"
        );
    }
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 1);
    let resolutions = env.kit.resolutions();
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].delegator, "jira:bob@example.com");
    assert_eq!(resolutions[0].reason, "looks fine");
    assert_eq!(resolutions[0].caller.as_deref(), Some(PLUGIN_USER));
    assert_eq!(env.state(&id), WireState::Approved);
    assert_eq!(env.lease_key(&id), "", "the decision lease is given back");

    // Seen again much later (the next poll): still nothing more.
    assert_eq!(
        a.apply(&decision).await.unwrap(),
        Applied::AlreadyResolved(RequestState::Approved)
    );
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 1);
}

#[tokio::test]
async fn a_denial_never_overwrites_an_earlier_approval() {
    let env = Env::new().await;
    let id = env.pending();
    let writer = env.writer("replica-a");
    assert_eq!(
        writer
            .apply(&approve(&id, "bob@example.com", ""))
            .await
            .unwrap(),
        Applied::Applied
    );
    let mut deny = approve(&id, "mallory@example.com", "changed my mind");
    deny.verdict = Verdict::Deny;
    assert_eq!(
        writer.apply(&deny).await.unwrap(),
        Applied::AlreadyResolved(RequestState::Approved)
    );
    assert_eq!(env.state(&id), WireState::Approved);
    assert_eq!(env.kit.resolutions().len(), 1);
}

#[tokio::test]
async fn resolved_or_gone_requests_are_nothing_to_do() {
    let env = Env::new().await;
    let writer = env.writer("replica-a");
    let denied = env.pending();
    env.kit.deny(&denied, "no").unwrap();
    assert_eq!(
        writer
            .apply(&approve(&denied, "bob@example.com", ""))
            .await
            .unwrap(),
        Applied::AlreadyResolved(RequestState::Denied)
    );
    let gone = env.pending();
    env.kit.expire(&gone).unwrap();
    assert_eq!(
        writer
            .apply(&approve(&gone, "bob@example.com", ""))
            .await
            .unwrap(),
        Applied::Gone
    );
    assert_eq!(
        writer
            .apply(&approve("no-such-request", "bob@example.com", ""))
            .await
            .unwrap(),
        Applied::Gone
    );
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 0);
    assert_eq!(env.state(&denied), WireState::Denied);
}

#[tokio::test]
async fn another_replicas_live_lease_is_waited_for_and_a_lapsed_one_taken_over() {
    let env = Env::new().await;
    let id = env.pending();
    let millis = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis();
    let live = format!(
        "replica-b {}",
        millis(SystemTime::now() + Duration::from_secs(20))
    );
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            PLUGIN,
            &[("issue_id", "10001"), (DECISION_KEY, &live)],
        )
        .unwrap();
    let writer = env.writer("replica-a");
    let Err(DecisionError::Busy { retry_after }) =
        writer.apply(&approve(&id, "bob@example.com", "")).await
    else {
        panic!("expected to wait for replica-b");
    };
    assert!(
        retry_after <= Duration::from_secs(20) && retry_after > Duration::from_secs(15),
        "{retry_after:?}"
    );
    assert_eq!(env.kit.call_count(Method::SetAccessRequestState), 0);
    assert_eq!(
        env.lease_key(&id),
        live,
        "the other replica's lease is left alone"
    );

    let lapsed = format!(
        "replica-b {}",
        millis(SystemTime::now() - Duration::from_secs(1))
    );
    env.kit
        .put_plugin_data(
            "access_request",
            &id,
            PLUGIN,
            &[("issue_id", "10001"), (DECISION_KEY, &lapsed)],
        )
        .unwrap();
    assert_eq!(
        writer
            .apply(&approve(&id, "bob@example.com", ""))
            .await
            .unwrap(),
        Applied::Applied
    );
    let data = env.kit.plugin_data(&id, PLUGIN).unwrap();
    assert_eq!(
        data["issue_id"], "10001",
        "the plugin's own keys are untouched"
    );
    assert!(
        data.get(DECISION_KEY).is_none_or(String::is_empty),
        "{data:?}"
    );
}

#[tokio::test]
async fn teleport_refusing_for_good_is_reported_and_a_failure_is_retryable() {
    let env = Env::new().await;
    let id = env.pending();
    let writer = env.writer("replica-a");
    env.kit.reject(
        Method::SetAccessRequestState,
        Code::PermissionDenied,
        Some(1),
    );
    let error = writer
        .apply(&approve(&id, "bob@example.com", ""))
        .await
        .unwrap_err();
    assert!(matches!(error, DecisionError::Refused(_)), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(env.state(&id), WireState::Pending);
    assert_eq!(env.lease_key(&id), "", "released after a refusal too");

    env.kit
        .reject(Method::SetAccessRequestState, Code::Unavailable, Some(1));
    let error = writer
        .apply(&approve(&id, "bob@example.com", ""))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(
        writer
            .apply(&approve(&id, "bob@example.com", ""))
            .await
            .unwrap(),
        Applied::Applied
    );
    assert_eq!(env.state(&id), WireState::Approved);
}

#[tokio::test]
async fn a_review_decision_is_submitted_once_as_the_plugins_user() {
    let env = Env::new().await;
    env.kit.add_reviewer(PLUGIN_USER, &["editor"]);
    let id = request_id(
        &env.kit
            .new_request("alice", &["editor"])
            .threshold("two", 2, 2)
            .create()
            .unwrap(),
    );
    let writer = env.writer("replica-a");
    let decision = Decision {
        request_id: id.clone(),
        verdict: Verdict::Approve,
        reason: "on call".into(),
        channel: Channel::Review,
    };
    assert_eq!(writer.apply(&decision).await.unwrap(), Applied::Applied);
    // Still pending (two approvals needed): a second delivery meets Teleport's refusal.
    assert_eq!(env.state(&id), WireState::Pending);
    assert_eq!(
        writer.apply(&decision).await.unwrap(),
        Applied::AlreadyReviewed
    );
    let reviews = env.kit.get_request(&id).unwrap().spec.unwrap().reviews;
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].author, PLUGIN_USER);
    assert_eq!(reviews[0].reason, "on call");

    // Resolved by a person meanwhile: nothing to do.
    env.kit
        .review(&id, "carol", KitVerdict::Approve, "")
        .unwrap();
    env.kit
        .review(&id, "dave", KitVerdict::Approve, "")
        .unwrap_or_else(|_| env.kit.get_request(&id).unwrap());
    assert_eq!(
        writer.apply(&decision).await.unwrap(),
        Applied::AlreadyResolved(RequestState::Approved)
    );
}
