//! One pass over the access lists, and the loop that runs passes on Go's schedule.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::Duration;

use teleport_client::{ACCESS_LIST_KIND, AccessList, ClientError, TeleportClient};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::notified::{ListNotifications, ListNotificationsCodec};
use super::schedule::{FIRST_RUN, INTERVAL, seventh_jitter};
use super::text::reminder_text;
use super::window::window_start;
use crate::record::{Acquired, Claim, LeasedRecords, SaveError};

/// How long a replica holds a list while it sends its reminders (renewed as it goes).
const LEASE: Duration = Duration::from_secs(30);

/// Why a pass could not look at the lists.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// This Teleport has no access lists: reminders stop, as in Go.
    #[error("this Teleport does not serve access lists")]
    Unimplemented,
    /// The plugin's role lacks `access_list: [list, read]`.
    #[error(
        "the plugin's role may not list access lists; add access_list: [list, read] to send review reminders"
    )]
    AccessDenied,
    /// Listing failed otherwise (the next pass tries again).
    #[error(transparent)]
    Teleport(ClientError),
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Reminders sent: recipient and the lists it was reminded of.
    pub sent: Vec<(String, Vec<String>)>,
    /// Reminders whose send failed (tried again next pass).
    pub failed: usize,
    /// Due lists another replica was working on.
    pub busy: usize,
}

/// Sends access-list review reminders for one plugin.
pub struct ReminderJob {
    client: TeleportClient,
    records: LeasedRecords<ListNotificationsCodec>,
    web_base: Option<String>,
}

/// A due list claimed for this pass, and the owners it still owes a reminder.
struct Owed<'a> {
    list: AccessList,
    window: OffsetDateTime,
    claim: Claim<'a, ListNotificationsCodec>,
    owners: Vec<String>,
    lost: bool,
}

impl ReminderJob {
    /// Reminders of `plugin` (its plugin-data namespace, e.g. `slack`), sent by this
    /// `replica` (its lease owner name); `web_base` (`https://<proxy>`) adds links.
    pub fn new(
        client: TeleportClient,
        plugin: &str,
        replica: &str,
        web_base: Option<String>,
    ) -> Self {
        let records =
            LeasedRecords::new(client.clone(), plugin, replica, LEASE).on_kind(ACCESS_LIST_KIND);
        Self {
            client,
            records,
            web_base,
        }
    }

    /// Passes on Go's schedule (about 30 s after start, then every 3 h, jittered) until
    /// `stop`, or until Teleport turns out to have no access lists.
    pub async fn run<F, Fut, E>(&self, send: F, stop: CancellationToken)
    where
        F: Fn(String, String) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        self.run_every(FIRST_RUN, INTERVAL, send, stop).await;
    }

    /// [`run`](Self::run) with another schedule: the first pass `first` after start, then
    /// every `interval` (each with seventh jitter).
    pub async fn run_every<F, Fut, E>(
        &self,
        first: Duration,
        interval: Duration,
        send: F,
        stop: CancellationToken,
    ) where
        F: Fn(String, String) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        let mut delay = seventh_jitter(first);
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.cancelled() => return,
            }
            tracing::info!("looking for access list review reminders");
            match self.run_once(OffsetDateTime::now_utc(), &send).await {
                Ok(report) => tracing::info!(
                    sent = report.sent.len(),
                    failed = report.failed,
                    busy = report.busy,
                    "access list review reminders done"
                ),
                Err(PassError::Unimplemented) => {
                    tracing::error!(
                        "access lists are not served by this Teleport; review reminders stop"
                    );
                    return;
                }
                Err(error) => tracing::warn!(%error, "cannot send access list review reminders"),
            }
            delay = seventh_jitter(interval);
        }
    }

    /// One pass at `now`: every owner of every due list who was not reminded in the current
    /// window gets one reminder (several due lists in one message), sent through `send`
    /// (recipient name, text) and recorded before the next send.
    pub async fn run_once<F, Fut, E>(
        &self,
        now: OffsetDateTime,
        send: F,
    ) -> Result<PassReport, PassError>
    where
        F: Fn(String, String) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        let lists = self.client.list_access_lists().await.map_err(|e| match e {
            ClientError::Unimplemented { .. } => PassError::Unimplemented,
            ClientError::AccessDenied { .. } => PassError::AccessDenied,
            other => PassError::Teleport(other),
        })?;
        let mut report = PassReport::default();
        let mut owed = Vec::new();
        for list in lists {
            let Some(window) = window_start(now, &list) else {
                continue;
            };
            if let Some(entry) = self.claim_if_owed(list, window, &mut report).await {
                owed.push(entry);
            }
        }

        // Recipient → the lists (indexes into `owed`) it is owed a reminder for.
        let mut by_recipient: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, entry) in owed.iter().enumerate() {
            for owner in &entry.owners {
                by_recipient.entry(owner.clone()).or_default().push(i);
            }
        }
        for (recipient, indexes) in by_recipient {
            // Write what the last send recorded, so no two sends are ever unrecorded.
            for entry in owed.iter_mut().filter(|e| !e.lost) {
                if let Err(error) = entry.claim.before_effect().await {
                    lose(entry, &error);
                }
            }
            let live: Vec<usize> = indexes.into_iter().filter(|&i| !owed[i].lost).collect();
            if live.is_empty() {
                continue;
            }
            let lists: Vec<&AccessList> = live.iter().map(|&i| &owed[i].list).collect();
            let text = reminder_text(&lists, now, self.web_base.as_deref());
            let names: Vec<String> = lists.iter().map(|l| l.name.clone()).collect();
            match send(recipient.clone(), text).await {
                Ok(()) => {
                    for &i in &live {
                        let mut next = owed[i].claim.record().clone();
                        next.notified.insert(recipient.clone(), now);
                        owed[i].claim.record_effect(next);
                    }
                    tracing::info!(recipient = %recipient, access_lists = ?names, "sent access list review reminder");
                    report.sent.push((recipient, names));
                }
                Err(error) => {
                    tracing::warn!(recipient = %recipient, access_lists = ?names, %error, "cannot send access list review reminder; trying again next time");
                    report.failed += 1;
                }
            }
        }
        for entry in owed {
            entry.claim.release().await;
        }
        Ok(report)
    }

    /// Claims `list`'s record if some owner is owed a reminder for `window`.
    async fn claim_if_owed(
        &self,
        list: AccessList,
        window: OffsetDateTime,
        report: &mut PassReport,
    ) -> Option<Owed<'_>> {
        let owners = match self.client.get_access_list_owners(&list).await {
            Ok(owners) => owners,
            Err(error) => {
                tracing::warn!(access_list = %list.name, %error, "cannot read the owners of an access list due for review");
                return None;
            }
        };
        let mut names: Vec<String> = owners
            .into_iter()
            .map(|o| o.name)
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            tracing::warn!(access_list = %list.name, "access list due for review has no owners to remind");
            return None;
        }
        let owed_by = |record: &ListNotifications| -> Vec<String> {
            names
                .iter()
                .filter(|n| record.due(n, window))
                .cloned()
                .collect()
        };
        let acquired = self
            .records
            .claim(&list.name, |stored| {
                let record = stored.unwrap_or_default();
                (!owed_by(&record).is_empty()).then_some(record)
            })
            .await;
        match acquired {
            Ok(Acquired::Claimed(claim)) => {
                let owners = owed_by(claim.record());
                Some(Owed {
                    list,
                    window,
                    claim,
                    owners,
                    lost: false,
                })
            }
            Ok(Acquired::Skipped(crate::dispatch::Outcome::Done)) => None,
            Ok(Acquired::Skipped(_)) => {
                tracing::debug!(access_list = %list.name, "another replica is sending this list's reminders");
                report.busy += 1;
                None
            }
            Err(error) => {
                tracing::warn!(access_list = %list.name, %error, "cannot claim an access list's reminder record");
                None
            }
        }
    }
}

fn lose(entry: &mut Owed<'_>, error: &SaveError) {
    tracing::warn!(access_list = %entry.list.name, window = %entry.window, %error, "stopped reminding for this access list");
    entry.lost = true;
}
