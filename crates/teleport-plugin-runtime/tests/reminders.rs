//! Access-list review reminders against the testkit: Go's windows and text, once per
//! window per owner across two replicas and a restart, Go's record read and continued, and
//! clusters or roles without access lists.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use teleport_client::{ACCESS_LIST_KIND, TeleportClient};
use teleport_plugin_runtime::reminders::{PassError, PassReport, ReminderJob};
use teleport_plugin_testsupport::client_of;
use teleport_testkit::{Availability, Method, Testkit, access_list};
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;

const PLUGIN: &str = "slack";
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
/// The lists are due at this moment; reminders start two weeks before.
const DUE: OffsetDateTime = datetime!(2030-03-01 00:00 UTC);

struct Env {
    kit: Testkit,
    client: TeleportClient,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let kit = Testkit::start().await.unwrap();
    let (dir, client) = client_of(&kit, "access-plugin");
    Env {
        kit,
        client,
        _dir: dir,
    }
}

fn system(t: OffsetDateTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap())
}

impl Env {
    fn list(&self, name: &str, title: &str, owners: &[&str], due: OffsetDateTime) {
        self.kit
            .upsert_access_list(access_list(name, title, owners, system(due), 2 * WEEK));
    }

    fn job(&self, replica: &str) -> ReminderJob {
        ReminderJob::new(self.client.clone(), PLUGIN, replica, None)
    }
}

/// What was sent, to whom.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<(String, String)>>>);

impl Outbox {
    async fn send(&self, to: String, text: String) -> Result<(), String> {
        // A slow chat API, so that concurrent replicas overlap.
        tokio::time::sleep(Duration::from_millis(30)).await;
        if to == "broken" {
            return Err("no such user".into());
        }
        self.0.lock().unwrap().push((to, text));
        Ok(())
    }

    fn take(&self) -> Vec<(String, String)> {
        let mut sent = std::mem::take(&mut *self.0.lock().unwrap());
        sent.sort();
        sent
    }

    fn recipients(&self) -> Vec<String> {
        self.take().into_iter().map(|(to, _)| to).collect()
    }
}

async fn pass(job: &ReminderJob, outbox: &Outbox, now: OffsetDateTime) -> PassReport {
    let out = outbox.clone();
    job.run_once(now, move |to, text| {
        let out = out.clone();
        async move { out.send(to, text).await }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn owners_are_reminded_once_per_window_weekly_then_daily() {
    let env = env().await;
    env.list("payroll", "Payroll", &["alice", "bob"], DUE);
    let job = env.job("replica-a");
    let outbox = Outbox::default();

    // Before the reminders start: nothing.
    pass(&job, &outbox, datetime!(2030-02-14 12:00 UTC)).await;
    assert!(outbox.take().is_empty());

    // First weekly window.
    pass(&job, &outbox, datetime!(2030-02-15 03:00 UTC)).await;
    let text = "Access List *Payroll* is due for a review by 2030-03-01. Please review it soon!\n";
    assert_eq!(
        outbox.take(),
        [("alice".into(), text.into()), ("bob".into(), text.into())]
    );
    // The same window, three hours later: nothing.
    pass(&job, &outbox, datetime!(2030-02-15 06:00 UTC)).await;
    pass(&job, &outbox, datetime!(2030-02-21 23:00 UTC)).await;
    assert!(outbox.take().is_empty());
    // The next week.
    pass(&job, &outbox, datetime!(2030-02-22 01:00 UTC)).await;
    assert_eq!(outbox.recipients(), ["alice", "bob"]);
    // Overdue: daily.
    pass(&job, &outbox, datetime!(2030-03-02 09:00 UTC)).await;
    let sent = outbox.take();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].1,
        "Access List *Payroll* is 1 day(s) past due for a review! Please review it.\n"
    );
    pass(&job, &outbox, datetime!(2030-03-02 21:00 UTC)).await;
    assert!(outbox.take().is_empty());
    pass(&job, &outbox, datetime!(2030-03-03 00:30 UTC)).await;
    assert_eq!(outbox.recipients(), ["alice", "bob"]);

    // Recorded in Go's key, in plugin data of kind access_list.
    let stored = env
        .client
        .get_plugin_data_of(ACCESS_LIST_KIND, PLUGIN, "payroll")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["user_notifications"],
        r#"{"alice":"2030-03-03T00:30:00Z","bob":"2030-03-03T00:30:00Z"}"#
    );
    assert_eq!(
        stored.get("claim").map(String::as_str),
        None,
        "lease released"
    );
}

#[tokio::test]
async fn two_replicas_and_a_restart_remind_each_owner_once() {
    let env = env().await;
    for i in 0..6 {
        env.list(
            &format!("list-{i}"),
            &format!("List {i}"),
            &[&format!("owner-{i}"), "shared"],
            DUE,
        );
    }
    let outbox = Outbox::default();
    let now = datetime!(2030-02-20 12:00 UTC);
    let (a, b) = (env.job("replica-a"), env.job("replica-b"));
    let (ra, rb) = tokio::join!(pass(&a, &outbox, now), pass(&b, &outbox, now));

    // Each (owner, list) pair was reminded exactly once across the two replicas (an owner
    // of lists that the two replicas split between them gets one message from each).
    let mut pairs: Vec<(String, String)> = ra
        .sent
        .iter()
        .chain(&rb.sent)
        .flat_map(|(to, lists)| lists.iter().map(move |l| (to.clone(), l.clone())))
        .collect();
    pairs.sort();
    let mut expected: Vec<(String, String)> = (0..6)
        .flat_map(|i| {
            let list = format!("list-{i}");
            [
                (format!("owner-{i}"), list.clone()),
                ("shared".to_owned(), list),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(pairs, expected);
    assert_eq!(outbox.take().len(), ra.sent.len() + rb.sent.len());

    // A restart (a new job, same replica name) in the same window sends nothing.
    let restarted = env.job("replica-a");
    let report = pass(&restarted, &outbox, now + time::Duration::hours(3)).await;
    assert!(report.sent.is_empty() && outbox.take().is_empty());
}

#[tokio::test]
async fn an_owner_of_several_due_lists_gets_one_message() {
    let env = env().await;
    env.list("a", "A", &["alice"], DUE);
    env.list("b", "B", &["alice"], DUE + time::Duration::days(3));
    let outbox = Outbox::default();
    pass(&env.job("r"), &outbox, datetime!(2030-02-20 00:00 UTC)).await;
    assert_eq!(
        outbox.take(),
        [(
            "alice".to_owned(),
            "2 Access Lists are due for reviews, earliest of which is due by 2030-03-01. Please review them soon!\n".to_owned()
        )]
    );
}

#[tokio::test]
async fn a_failed_send_is_tried_again_and_only_it() {
    let env = env().await;
    env.list("payroll", "Payroll", &["alice", "broken"], DUE);
    let outbox = Outbox::default();
    let job = env.job("r");
    let report = pass(&job, &outbox, datetime!(2030-02-20 00:00 UTC)).await;
    assert_eq!(report.failed, 1);
    assert_eq!(outbox.recipients(), ["alice"]);
    // Next pass: alice is done; the failed one is tried again (and fails again).
    let report = pass(&job, &outbox, datetime!(2030-02-20 03:00 UTC)).await;
    assert_eq!((report.sent.len(), report.failed), (0, 1));
    assert!(outbox.take().is_empty());
}

#[tokio::test]
async fn a_go_plugins_record_is_read_and_continued() {
    let env = env().await;
    env.list("payroll", "Payroll", &["alice", "bob"], DUE);
    // The Go plugin reminded alice in this window and seeded bob with its zero time.
    env.kit
        .put_plugin_data(
            ACCESS_LIST_KIND,
            "payroll",
            PLUGIN,
            &[(
                "user_notifications",
                r#"{"alice":"2030-02-15T10:00:00.123+01:00","bob":"0001-01-01T00:00:00Z"}"#,
            )],
        )
        .unwrap();
    let outbox = Outbox::default();
    pass(&env.job("r"), &outbox, datetime!(2030-02-16 00:00 UTC)).await;
    assert_eq!(outbox.recipients(), ["bob"]);
}

#[tokio::test]
async fn nested_owners_are_reminded_and_older_clusters_use_the_lists_own() {
    let env = env().await;
    env.list("payroll", "Payroll", &["alice"], DUE);
    env.kit
        .set_access_list_owners("payroll", &["alice", "nested-bob"]);
    let outbox = Outbox::default();
    pass(&env.job("r"), &outbox, datetime!(2030-02-16 00:00 UTC)).await;
    assert_eq!(outbox.recipients(), ["alice", "nested-bob"]);

    env.list("ops", "Ops", &["carol"], DUE);
    env.kit
        .set_access_list_owners("ops", &["carol", "nested-dave"]);
    env.kit
        .reject(Method::GetAccessListOwners, Code::Unimplemented, None);
    pass(&env.job("r"), &outbox, datetime!(2030-02-16 00:00 UTC)).await;
    assert_eq!(outbox.recipients(), ["carol"]);
}

#[tokio::test]
async fn clusters_or_roles_without_access_lists_are_typed_errors() {
    let env = env().await;
    let job = env.job("r");
    let send = |_: String, _: String| async { Ok::<(), String>(()) };
    env.kit.set_access_lists(Availability::Unimplemented);
    assert!(matches!(
        job.run_once(OffsetDateTime::now_utc(), send).await,
        Err(PassError::Unimplemented)
    ));
    env.kit.set_access_lists(Availability::PermissionDenied);
    assert!(matches!(
        job.run_once(OffsetDateTime::now_utc(), send).await,
        Err(PassError::AccessDenied)
    ));
}

#[tokio::test]
async fn the_loop_keeps_going_and_stops_when_asked_or_when_teleport_has_no_lists() {
    let env = env().await;
    // Due now, whatever the date: reminders run on the wall clock here.
    let now = OffsetDateTime::now_utc();
    env.list(
        "payroll",
        "Payroll",
        &["alice"],
        now + time::Duration::days(3),
    );
    let outbox = Outbox::default();
    let job = env.job("r");
    let stop = tokio_util::sync::CancellationToken::new();
    let send = {
        let out = outbox.clone();
        move |to: String, text: String| {
            let out = out.clone();
            async move { out.send(to, text).await }
        }
    };
    let passes = Duration::from_millis(50);
    let run = job.run_every(passes, passes, send.clone(), stop.clone());
    let watch = async {
        // Several passes, one reminder: the window is recorded.
        while env.kit.call_count(Method::ListAccessLists) < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
    };
    tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(run, watch) })
        .await
        .expect("the loop stops when asked");
    assert_eq!(outbox.recipients(), ["alice"]);

    env.kit.set_access_lists(Availability::Unimplemented);
    let before = env.kit.call_count(Method::ListAccessLists);
    tokio::time::timeout(
        Duration::from_secs(20),
        job.run_every(
            passes,
            passes,
            send,
            tokio_util::sync::CancellationToken::new(),
        ),
    )
    .await
    .expect("the loop ends by itself on a Teleport without access lists");
    assert_eq!(env.kit.call_count(Method::ListAccessLists), before + 1);
}
