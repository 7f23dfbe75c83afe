//! Tests of leased records against the testkit, and the test environment other runtime
//! tests share.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::time::UNIX_EPOCH;

use teleport_client::{ClientConfig, CredentialsSource};
use teleport_testkit::{IdentityRequest, Method, Testkit};

use super::*;

const PLUGIN: &str = "notes";
const HOUR: Duration = Duration::from_secs(3600);

/// A record counting steps done.
#[derive(Clone, Debug, Default, PartialEq)]
struct Note {
    steps: usize,
    claim: Option<Lease>,
}

struct NoteCodec;

impl RecordCodec for NoteCodec {
    type Record = Note;

    fn encode(note: &Note) -> PluginDataMap {
        PluginDataMap::from([
            ("steps".to_owned(), note.steps.to_string()),
            (
                "claim".to_owned(),
                note.claim.as_ref().map(Lease::encode).unwrap_or_default(),
            ),
        ])
    }

    fn decode(data: &PluginDataMap) -> Note {
        let get = |key: &str| data.get(key).map(String::as_str).unwrap_or("");
        Note {
            steps: get("steps").parse().unwrap_or(0),
            claim: Lease::decode(get("claim")),
        }
    }

    fn empty_record() -> PluginDataMap {
        PluginDataMap::from([
            ("steps".to_owned(), String::new()),
            ("claim".to_owned(), String::new()),
        ])
    }

    fn lease(note: &mut Note) -> &mut Option<Lease> {
        &mut note.claim
    }
}

/// A testkit with one pending request and a client of it.
pub(crate) struct Env {
    pub(crate) kit: Testkit,
    pub(crate) client: TeleportClient,
    pub(crate) request_id: String,
    _dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let kit = Testkit::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity");
        kit.issue_identity(&IdentityRequest::new("access-plugin"))
            .unwrap()
            .write_identity_file(&path)
            .unwrap();
        let config = ClientConfig::new(
            kit.auth_addr().to_string(),
            CredentialsSource::IdentityFile(path),
        );
        let client = TeleportClient::new(config).unwrap();
        let request = kit.create_request("alice", &["editor"], "why").unwrap();
        let request_id = request.metadata.unwrap().name;
        Self {
            kit,
            client,
            request_id,
            _dir: dir,
        }
    }

    fn records(&self, owner: &str, lease: Duration) -> LeasedRecords<NoteCodec> {
        LeasedRecords::new(self.client.clone(), PLUGIN, owner, lease)
    }

    fn stored(&self) -> HashMap<String, String> {
        self.kit
            .plugin_data(&self.request_id, PLUGIN)
            .unwrap_or_default()
    }

    fn stored_lease(&self) -> Option<Lease> {
        Lease::decode(self.stored().get("claim").map_or("", String::as_str))
    }

    /// Writes the record as another replica or a Go plugin would, without CAS.
    fn put(&self, data: &[(&str, &str)]) {
        self.kit
            .put_plugin_data("access_request", &self.request_id, PLUGIN, data)
            .unwrap();
    }
}

/// A fresh record, created and claimed.
async fn new_claim<'a>(records: &'a LeasedRecords<NoteCodec>, env: &Env) -> Claim<'a, NoteCodec> {
    records
        .create(&env.request_id, Note::default())
        .await
        .unwrap()
        .expect("nothing stored yet")
}

fn claimed<C: RecordCodec>(acquired: Acquired<'_, C>) -> Claim<'_, C> {
    match acquired {
        Acquired::Claimed(claim) => claim,
        Acquired::Skipped(outcome) => panic!("not claimed: {outcome:?}"),
    }
}

fn skipped<C: RecordCodec>(acquired: Acquired<'_, C>) -> Outcome {
    match acquired {
        Acquired::Claimed(_) => panic!("claimed"),
        Acquired::Skipped(outcome) => outcome,
    }
}

fn at(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

#[test]
fn lease_text_form_round_trips() {
    let lease = Lease {
        owner: "host-1 abc".into(),
        until: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    };
    assert_eq!(lease.encode(), "host-1 abc 1700000000123");
    assert_eq!(Lease::decode("host-1 abc 1700000000123"), Some(lease));
    assert_eq!(Lease::decode(""), None);
    assert_eq!(Lease::decode("host-1"), None);
    assert_eq!(Lease::decode("host-1 soon"), None);
}

#[tokio::test]
async fn no_work_writes_nothing() {
    let env = Env::new().await;
    let records = env.records("me", HOUR);
    let outcome = skipped(records.claim(&env.request_id, |_| None).await.unwrap());
    assert_eq!(outcome, Outcome::Done);
    assert!(env.kit.plugin_data(&env.request_id, PLUGIN).is_none());
}

#[tokio::test]
async fn claims_saves_with_a_renewed_lease_and_releases() {
    let env = Env::new().await;
    let records = env.records("me", HOUR);
    let before = SystemTime::now();
    let mut claim = claimed(
        records
            .claim(&env.request_id, |stored| {
                assert_eq!(stored, None);
                Some(Note::default())
            })
            .await
            .unwrap(),
    );
    let lease = env.stored_lease().expect("a lease is stored");
    assert_eq!(lease.owner, "me");
    assert!(lease.until >= before + HOUR - Duration::from_millis(1));
    assert_eq!(claim.claim.as_ref(), Some(&lease));

    let mut next = claim.record().clone();
    next.steps = 1;
    claim.save(next).await.unwrap();
    assert_eq!(claim.steps, 1);
    assert_eq!(env.stored()["steps"], "1");
    let renewed = env.stored_lease().unwrap();
    assert!(renewed.until >= lease.until, "the lease is renewed on save");

    claim.release().await;
    let stored = env.stored();
    assert_eq!(stored["steps"], "1");
    assert!(
        stored.get("claim").is_none_or(String::is_empty),
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_conflict_is_retried_on_the_new_record() {
    let env = Env::new().await;
    env.put(&[("steps", "1")]);
    let records = env.records("me", HOUR);
    let calls = AtomicUsize::new(0);
    let claim = claimed(
        records
            .claim(&env.request_id, |stored| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Another writer between our read and our write.
                    env.put(&[("steps", "7")]);
                }
                stored
            })
            .await
            .unwrap(),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(claim.steps, 7, "the claim is of the record as rewritten");
    assert_eq!(env.stored()["steps"], "7");
    assert_eq!(env.stored_lease().unwrap().owner, "me");
}

#[tokio::test]
async fn endless_conflicts_back_off() {
    let env = Env::new().await;
    env.put(&[("steps", "0")]);
    let records = env.records("me", HOUR);
    let calls = AtomicUsize::new(0);
    let outcome = skipped(
        records
            .claim(&env.request_id, |stored| {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                env.put(&[("steps", &n.to_string())]);
                stored
            })
            .await
            .unwrap(),
    );
    assert_eq!(outcome, Outcome::Retry(None));
    assert_eq!(calls.load(Ordering::SeqCst), MAX_CAS_ROUNDS);
    assert!(env.stored_lease().is_none());
}

#[tokio::test]
async fn a_foreign_lease_is_waited_for_capped() {
    let env = Env::new().await;
    let claim = format!("other {}", at(SystemTime::now() + HOUR));
    env.put(&[("steps", "1"), ("claim", &claim)]);
    let records = env.records("me", HOUR);
    let outcome = skipped(records.claim(&env.request_id, |s| s).await.unwrap());
    assert_eq!(outcome, Outcome::Retry(Some(MAX_LEASE_WAIT + AFTER_LAPSE)));
    assert_eq!(env.stored()["claim"], claim, "the lease is left alone");

    // A lease about to lapse is waited for only as long as it has left.
    let soon = format!("other {}", at(SystemTime::now() + Duration::from_secs(1)));
    env.put(&[("steps", "1"), ("claim", &soon)]);
    let Outcome::Retry(Some(wait)) = skipped(records.claim(&env.request_id, |s| s).await.unwrap())
    else {
        panic!("not waiting");
    };
    assert!(wait <= Duration::from_secs(1) + AFTER_LAPSE, "{wait:?}");
    assert!(wait >= AFTER_LAPSE, "{wait:?}");
}

#[tokio::test]
async fn a_lapsed_lease_or_our_own_is_taken_over() {
    let env = Env::new().await;
    let lapsed = format!("other {}", at(SystemTime::now() - Duration::from_secs(1)));
    env.put(&[("steps", "3"), ("claim", &lapsed)]);
    let records = env.records("me", HOUR);
    let claim = claimed(records.claim(&env.request_id, |s| s).await.unwrap());
    assert_eq!(claim.steps, 3);
    assert_eq!(env.stored_lease().unwrap().owner, "me");
    drop(claim);

    // This replica's own live lease (a restart under the same ID) does not block it.
    let again = claimed(records.claim(&env.request_id, |s| s).await.unwrap());
    assert_eq!(again.steps, 3);
}

#[tokio::test]
async fn a_lease_written_into_a_go_record_is_seen() {
    let env = Env::new().await;
    // A Go plugin's record has no `claim` key at all.
    env.put(&[("steps", "2")]);
    let records = env.records("me", HOUR);
    let other = format!("other {}", at(SystemTime::now() + HOUR));
    let calls = AtomicUsize::new(0);
    let outcome = skipped(
        records
            .claim(&env.request_id, |stored| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Another replica claims it between our read and our write,
                    // leaving every other key as it was.
                    env.put(&[("steps", "2"), ("claim", &other)]);
                }
                stored
            })
            .await
            .unwrap(),
    );
    assert!(matches!(outcome, Outcome::Retry(Some(_))), "{outcome:?}");
    assert_eq!(env.stored()["claim"], other);
}

#[tokio::test]
async fn a_save_after_a_takeover_fails_and_leaves_the_new_lease() {
    let env = Env::new().await;
    let records = env.records("me", HOUR);
    let mut claim = claimed(
        records
            .claim(&env.request_id, |_| Some(Note::default()))
            .await
            .unwrap(),
    );
    // Our lease lapsed (we stalled) and another replica took the request over.
    let other = format!("other {}", at(SystemTime::now() + HOUR));
    env.put(&[("steps", "5"), ("claim", &other)]);

    let mut next = claim.record().clone();
    next.steps = 1;
    let error = claim.save(next).await.unwrap_err();
    assert!(matches!(error, SaveError::LostLease), "{error:?}");
    assert_eq!(claim.steps, 0, "the claim still shows what it last stored");

    claim.release().await;
    assert_eq!(
        env.stored()["claim"],
        other,
        "another's lease is not released"
    );
    assert_eq!(env.stored()["steps"], "5");
}

#[tokio::test]
async fn create_claims_only_when_nothing_is_stored() {
    let env = Env::new().await;
    let records = env.records("me", HOUR);
    let claim = records
        .create(
            &env.request_id,
            Note {
                steps: 4,
                claim: None,
            },
        )
        .await
        .unwrap()
        .expect("created");
    assert_eq!(claim.steps, 4);
    assert_eq!(env.stored()["steps"], "4");
    assert_eq!(env.stored_lease().unwrap().owner, "me");
    drop(claim);

    let again = records
        .create(&env.request_id, Note::default())
        .await
        .unwrap();
    assert!(again.is_none(), "a stored record is never overwritten");
    assert_eq!(env.stored()["steps"], "4");
}

#[tokio::test]
async fn staged_changes_cost_no_write_until_the_release_writes_them_at_once() {
    let env = Env::new().await;
    let records = env.records("me", HOUR);
    let mut claim = new_claim(&records, &env).await;
    let writes = || env.kit.call_count(Method::UpdatePluginData);
    let after_claim = writes();

    let mut next = claim.record().clone();
    next.steps = 1;
    claim.stage(next);
    claim.before_effect().await.unwrap();
    assert_eq!(
        writes(),
        after_claim,
        "a staged lookup waits for an outcome"
    );
    let mut next = claim.record().clone();
    next.steps = 2;
    claim.record_effect(next);
    assert_eq!(claim.steps, 2);
    assert_eq!(env.stored()["steps"], "0", "staged, not yet written");

    claim.release().await;
    assert_eq!(writes(), after_claim + 1, "record and release in one write");
    assert_eq!(env.stored()["steps"], "2");
    assert!(env.stored_lease().is_none());
}

#[tokio::test]
async fn an_unrecorded_effect_is_written_before_the_next_one() {
    let env = Env::new().await;
    let records = env.records("me", HOUR);
    let mut claim = new_claim(&records, &env).await;
    let mut next = claim.record().clone();
    next.steps = 1;
    claim.record_effect(next);
    claim.before_effect().await.unwrap();
    assert_eq!(env.stored()["steps"], "1");
    assert_eq!(env.stored_lease().unwrap().owner, "me");

    // Taken over meanwhile: the next side effect must not happen.
    let other = format!("other {}", at(SystemTime::now() + HOUR));
    env.put(&[("steps", "1"), ("claim", &other)]);
    let mut next = claim.record().clone();
    next.steps = 2;
    claim.record_effect(next);
    let error = claim.before_effect().await.unwrap_err();
    assert!(matches!(error, SaveError::LostLease), "{error:?}");
    claim.release().await;
    assert_eq!(env.stored()["claim"], other);
}

#[tokio::test]
async fn a_lease_running_out_is_renewed_before_a_side_effect() {
    let env = Env::new().await;
    let lease = Duration::from_secs(2);
    let records = env.records("me", lease);
    let mut claim = new_claim(&records, &env).await;
    let first = env.stored_lease().unwrap();
    let writes = env.kit.call_count(Method::UpdatePluginData);
    claim.before_effect().await.unwrap();
    assert_eq!(
        env.kit.call_count(Method::UpdatePluginData),
        writes,
        "plenty left"
    );

    tokio::time::sleep(lease / 2 + Duration::from_millis(100)).await;
    claim.before_effect().await.unwrap();
    let renewed = env.stored_lease().unwrap();
    assert!(renewed.until > first.until, "{renewed:?} vs {first:?}");
}

#[test]
fn blind_creates_are_only_probed_after_a_run_of_misses() {
    let blind = BlindCreates::default();
    for _ in 0..BLIND_MISSES_TOLERATED {
        assert!(blind.worth_trying());
        blind.record(false);
    }
    let tried = (0..BLIND_PROBE_EVERY * 2)
        .filter(|_| blind.worth_trying())
        .count();
    assert_eq!(tried, 2, "one probe in {BLIND_PROBE_EVERY}");
    blind.record(true);
    assert!(
        blind.worth_trying() && blind.worth_trying(),
        "back on after a hit"
    );
}

#[test]
fn only_fresh_pending_requests_without_reviews_look_new() {
    use teleport_client::AccessReview;
    use time::OffsetDateTime;

    let now = SystemTime::now();
    let created = |ago: Duration| Some(OffsetDateTime::from(now - ago));
    let mut request = AccessRequest {
        id: "id".into(),
        user: "alice".into(),
        roles: vec!["editor".into()],
        state: RequestState::Pending,
        ..Default::default()
    };
    request.created = created(Duration::from_secs(1));
    assert!(likely_new(&request, now));

    request.created = created(LIKELY_NEW_FOR + Duration::from_secs(1));
    assert!(!likely_new(&request, now), "old: probably known already");
    request.created = None;
    assert!(!likely_new(&request, now));

    request.created = created(Duration::from_secs(1));
    request.reviews.push(AccessReview {
        author: "bob".into(),
        proposed_state: RequestState::Approved,
        reason: String::new(),
        created: None,
    });
    assert!(!likely_new(&request, now), "reviewed: seen before");
    request.reviews.clear();
    request.state = RequestState::Approved;
    assert!(!likely_new(&request, now));
}

#[tokio::test]
async fn a_failed_step_released_lets_another_replica_in_at_once() {
    let env = Env::new().await;
    let first = env.records("first", HOUR);
    let mut claim = claimed(
        first
            .claim(&env.request_id, |_| Some(Note::default()))
            .await
            .unwrap(),
    );
    let mut next = claim.record().clone();
    next.steps = 1;
    claim.save(next).await.unwrap();
    // The next side effect fails: the step ends in Retry and releases.
    claim.release().await;

    let second = env.records("second", HOUR);
    let claim = claimed(second.claim(&env.request_id, |s| s).await.unwrap());
    assert_eq!(claim.steps, 1, "the saved progress is kept");
    assert_eq!(env.stored_lease().unwrap().owner, "second");
}
