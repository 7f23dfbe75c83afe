//! The reminder text, worded as Teleport's Slack plugin words it (Slack markdown).

use time::OffsetDateTime;
use time::macros::format_description;

use teleport_client::AccessList;

use crate::format::url_path_segment;

/// The reminder for one owner about `lists` (at least one), at `now`. `web_base` is the
/// `https://<proxy>` base when the cluster has advanced access workflows: then the text
/// links to the list (or to all lists when several are due).
pub fn reminder_text(lists: &[&AccessList], now: OffsetDateTime, web_base: Option<&str>) -> String {
    let mut lists = lists.to_vec();
    lists.sort_by_key(|l| l.next_audit_date);
    let Some(first) = lists.first() else {
        return String::new();
    };
    let due = first.next_audit_date.unwrap_or(now);
    let past_due_days = (now > due).then(|| (now - due).whole_seconds() / 86_400);
    let base = web_base.map(|b| b.trim_end_matches('/'));
    if lists.len() == 1 {
        let link = base
            .map(|b| {
                format!(
                    "*Link*: {b}/web/accesslists/{}#review",
                    url_path_segment(&first.name)
                )
            })
            .unwrap_or_default();
        let title = &first.title;
        return match past_due_days {
            Some(days) => format!(
                "Access List *{title}* is {days} day(s) past due for a review! Please review it.\n{link}"
            ),
            None => format!(
                "Access List *{title}* is due for a review by {}. Please review it soon!\n{link}",
                date(due)
            ),
        };
    }
    let link = base
        .map(|b| format!("*Link*: {b}/web/accesslists"))
        .unwrap_or_default();
    let when = match past_due_days {
        Some(days) => format!("earliest of which is {days} day(s) past due. Please review!"),
        None => format!(
            "earliest of which is due by {}. Please review them soon!",
            date(due)
        ),
    };
    format!(
        "{} Access Lists are due for reviews, {when}\n{link}",
        lists.len()
    )
}

fn date(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn list(name: &str, title: &str, due: OffsetDateTime) -> AccessList {
        AccessList {
            name: name.into(),
            title: title.into(),
            next_audit_date: Some(due),
            ..Default::default()
        }
    }

    #[test]
    fn one_list_before_and_after_its_due_date() {
        let l = list("payroll", "Payroll", datetime!(2023-03-01 00:00 UTC));
        assert_eq!(
            reminder_text(&[&l], datetime!(2023-02-15 00:00 UTC), None),
            "Access List *Payroll* is due for a review by 2023-03-01. Please review it soon!\n"
        );
        assert_eq!(
            reminder_text(
                &[&l],
                datetime!(2023-03-03 12:00 UTC),
                Some("https://tp.example.com/")
            ),
            "Access List *Payroll* is 2 day(s) past due for a review! Please review it.\n\
             *Link*: https://tp.example.com/web/accesslists/payroll#review"
        );
    }

    #[test]
    fn several_lists_are_summed_up_by_the_earliest() {
        let a = list("a", "A", datetime!(2023-03-10 00:00 UTC));
        let b = list("b list", "B", datetime!(2023-03-01 00:00 UTC));
        assert_eq!(
            reminder_text(
                &[&a, &b],
                datetime!(2023-02-20 00:00 UTC),
                Some("https://tp")
            ),
            "2 Access Lists are due for reviews, earliest of which is due by 2023-03-01. \
             Please review them soon!\n*Link*: https://tp/web/accesslists"
        );
        assert_eq!(
            reminder_text(&[&a, &b], datetime!(2023-03-02 00:00 UTC), None),
            "2 Access Lists are due for reviews, earliest of which is 1 day(s) past due. Please review!\n"
        );
        assert_eq!(url_path_segment("b list"), "b%20list");
    }
}
