//! The reminder window a moment falls in: reminders start `notification_start` before the
//! next audit date, come once a week until it, and once a day after it (Go's rule).

use time::{Duration, OffsetDateTime};

use teleport_client::AccessList;

/// The start of the window `now` falls in, or `None` when no reminder is due yet (or the
/// list has no audit date). An owner last reminded before this moment is reminded again.
pub fn window_start(now: OffsetDateTime, list: &AccessList) -> Option<OffsetDateTime> {
    let due = list.next_audit_date?;
    let start = due - list.notification_start;
    if now < start {
        return None;
    }
    let step = if now <= due {
        Duration::WEEK
    } else {
        Duration::DAY
    };
    let elapsed = (now - start).whole_nanoseconds();
    let steps = elapsed / step.whole_nanoseconds();
    let offset = i64::try_from(steps)
        .ok()?
        .checked_mul(step.whole_seconds())?;
    start.checked_add(Duration::seconds(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn list(due: OffsetDateTime, start: Duration) -> AccessList {
        AccessList {
            name: "payroll".into(),
            next_audit_date: Some(due),
            notification_start: start,
            ..Default::default()
        }
    }

    #[test]
    fn weekly_before_the_due_date_daily_after() {
        let due = datetime!(2023-03-01 00:00 UTC);
        let l = list(due, Duration::weeks(2));
        let start = datetime!(2023-02-15 00:00 UTC);
        let check = |now, expected| assert_eq!(window_start(now, &l), expected, "{now}");
        check(datetime!(2023-02-14 23:59 UTC), None);
        check(start, Some(start));
        check(datetime!(2023-02-21 23:59 UTC), Some(start));
        check(
            datetime!(2023-02-22 00:00 UTC),
            Some(datetime!(2023-02-22 00:00 UTC)),
        );
        // The due moment itself still counts as "before".
        check(due, Some(datetime!(2023-03-01 00:00 UTC)));
        // After it: one window a day, counted from the notification start.
        check(
            datetime!(2023-03-01 00:01 UTC),
            Some(datetime!(2023-03-01 00:00 UTC)),
        );
        check(
            datetime!(2023-03-03 18:00 UTC),
            Some(datetime!(2023-03-03 00:00 UTC)),
        );
    }

    #[test]
    fn a_list_without_an_audit_date_is_never_due() {
        let l = AccessList::default();
        assert_eq!(window_start(datetime!(2030-01-01 00:00 UTC), &l), None);
    }
}
