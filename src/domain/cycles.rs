//! Billing cycles: when a cycle's runs fall due.
//!
//! A cycle with day `D` bills on day D of every month: the run's invoice date
//! is day D (clamped to the month's last day for 29–31) and its cutoff is the
//! day before, so a `monthly` cycle with D = 1 bills the calendar month just
//! ended. `cycles tick --today T` creates the run of the latest occurrence on
//! or before T if none exists yet (a missed tick is caught up next time; runs
//! older than the latest are not back-filled).

use chrono::{Datelike, Duration, NaiveDate};

/// Day `day` of the month of `(year, month)`, clamped to the month's length.
pub fn day_in_month(year: i32, month: u32, day: u32) -> NaiveDate {
    let mut d = day;
    loop {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, d) {
            return date;
        }
        d -= 1;
    }
}

/// The latest billing date of a cycle on or before `today`.
pub fn latest_due(day: u32, today: NaiveDate) -> NaiveDate {
    let this = day_in_month(today.year(), today.month(), day);
    if this <= today {
        return this;
    }
    let (y, m) = if today.month() == 1 {
        (today.year() - 1, 12)
    } else {
        (today.year(), today.month() - 1)
    };
    day_in_month(y, m, day)
}

/// A cycle needs a name and a billing day of 1 to 31.
pub fn check_cycle(name: &str, day: u32) -> Result<(), String> {
    if !(1..=31).contains(&day) {
        return Err(format!("--day {day}: a billing day is 1 to 31"));
    }
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    Ok(())
}

/// The dates of the run due on `invoice_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun {
    pub name: String,
    pub invoice_date: NaiveDate,
    pub cutoff: NaiveDate,
    pub due_date: NaiveDate,
}

pub fn due_run(cycle: &str, day: u32, due_days: u32, today: NaiveDate) -> DueRun {
    let invoice_date = latest_due(day, today);
    let cutoff = invoice_date - Duration::days(1);
    DueRun {
        name: format!("{cycle}-{}", invoice_date.format("%Y-%m-%d")),
        invoice_date,
        cutoff,
        due_date: invoice_date + Duration::days(i64::from(due_days)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn monthly_on_the_first_bills_last_month() {
        let r = due_run("monthly", 1, 14, d("2026-12-01"));
        assert_eq!(r.invoice_date, d("2026-12-01"));
        assert_eq!(r.cutoff, d("2026-11-30"));
        assert_eq!(r.due_date, d("2026-12-15"));
        assert_eq!(r.name, "monthly-2026-12-01");
        assert_eq!(
            due_run("monthly", 1, 14, d("2026-12-17")).invoice_date,
            d("2026-12-01")
        );
    }

    #[test]
    fn late_days_clamp_and_roll_back_a_month() {
        assert_eq!(latest_due(31, d("2026-02-28")), d("2026-02-28"));
        assert_eq!(latest_due(31, d("2026-02-27")), d("2026-01-31"));
        assert_eq!(latest_due(15, d("2026-01-10")), d("2025-12-15"));
        assert_eq!(latest_due(29, d("2028-02-29")), d("2028-02-29"));
    }
}
