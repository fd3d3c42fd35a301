//! Recurring plan fees in arrears with calendar-month pro-rata (docs/rating.md#plan-fees-pro-rata-in-arrears).
//!
//! A service is charged for the span from the day after it was last billed
//! (or its start date) to the run's cutoff (or its end date, if earlier).
//! For each calendar month the span touches, the charge is
//! `monthly_fee × days_in_span(m) / days_in_month(m)`; the sum is rounded
//! once, half away from zero, to the minor unit.

use super::money::round_minor;
use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;

/// The span of days a service is charged for in one run, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The span a run charges: `None` when there is nothing to charge (the
/// service ended before it started billing, already billed to the cutoff,
/// or starts after the cutoff).
pub fn span(
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    last_billed_to: Option<NaiveDate>,
    cutoff: NaiveDate,
) -> Option<Span> {
    let from = match last_billed_to {
        Some(last) => last.succ_opt()?.max(start_date),
        None => start_date,
    };
    let to = end_date.map_or(cutoff, |e| e.min(cutoff));
    (from <= to).then_some(Span { from, to })
}

/// Days in the calendar month of `d`.
pub fn days_in_month(d: NaiveDate) -> u32 {
    let first = d.with_day(1).expect("day 1 exists");
    let next = first + Months::new(1);
    (next - first).num_days() as u32
}

/// The pro-rata fee for `span`, rounded to the minor unit; `None` when it
/// leaves `Decimal`'s range (only an absurd fee can).
pub fn fee(monthly_fee: Decimal, span: Span) -> Option<Decimal> {
    let mut total = Decimal::ZERO;
    let mut cursor = span.from;
    while cursor <= span.to {
        let month_days = days_in_month(cursor);
        let month_end = cursor
            .with_day(month_days)
            .expect("last day of month exists");
        let until = month_end.min(span.to);
        let days = (until - cursor).num_days() + 1;
        let part = if days as u32 == month_days {
            monthly_fee
        } else {
            monthly_fee
                .checked_mul(Decimal::from(days))?
                .checked_div(Decimal::from(month_days))?
        };
        total = total.checked_add(part)?;
        match until.succ_opt() {
            Some(next) => cursor = next,
            None => break,
        }
    }
    Some(round_minor(total))
}

/// A readable description of a span: "1 Nov to 30 Nov 2026",
/// "16 Nov to 30 Nov 2026", "1 Oct 2026 to 30 Nov 2026".
pub fn describe(span: Span) -> String {
    if span.from.year() == span.to.year() {
        format!(
            "{} to {}",
            span.from.format("%-d %b"),
            span.to.format("%-d %b %Y")
        )
    } else {
        format!(
            "{} to {}",
            span.from.format("%-d %b %Y"),
            span.to.format("%-d %b %Y")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_whole_month_is_the_monthly_fee() {
        let s = span(d(2026, 1, 1), None, Some(d(2026, 10, 31)), d(2026, 11, 30)).unwrap();
        assert_eq!(
            s,
            Span {
                from: d(2026, 11, 1),
                to: d(2026, 11, 30)
            }
        );
        assert_eq!(fee(dec!(25.00), s), Some(dec!(25.00)));
    }

    #[test]
    fn a_mid_month_start_is_pro_rata_by_days_of_that_month() {
        // 16..30 Nov = 15 of 30 days.
        let s = span(d(2026, 11, 16), None, None, d(2026, 11, 30)).unwrap();
        assert_eq!(fee(dec!(30.00), s), Some(dec!(15.00)));
        // 15 of 30 days of 19.99 = 9.995 → 10.00 (half away from zero).
        assert_eq!(fee(dec!(19.99), s), Some(dec!(10.00)));
    }

    #[test]
    fn an_end_date_before_the_cutoff_stops_the_span() {
        // 1..10 Nov = 10 of 30 days.
        let s = span(
            d(2025, 1, 1),
            Some(d(2026, 11, 10)),
            Some(d(2026, 10, 31)),
            d(2026, 11, 30),
        )
        .unwrap();
        assert_eq!(s.to, d(2026, 11, 10));
        assert_eq!(fee(dec!(30.00), s), Some(dec!(10.00)));
    }

    #[test]
    fn spans_across_month_boundaries_sum_each_month_then_round_once() {
        // 17 Oct..30 Nov: 15/31 of Oct + all of Nov.
        let s = span(d(2026, 10, 17), None, None, d(2026, 11, 30)).unwrap();
        // 10 × 15/31 = 4.8387… + 10 = 14.8387… → 14.84
        assert_eq!(fee(dec!(10.00), s), Some(dec!(14.84)));
        // Mid-month cutoffs: 15 Jan..14 Feb 2026.
        let s = span(d(2026, 1, 15), None, None, d(2026, 2, 14)).unwrap();
        // 17/31 + 14/28 = 0.548387… + 0.5 → 31.00 × 1.048387… = 32.50
        assert_eq!(fee(dec!(31.00), s), Some(dec!(32.50)));
    }

    #[test]
    fn february_and_leap_years() {
        assert_eq!(days_in_month(d(2026, 2, 10)), 28);
        assert_eq!(days_in_month(d(2028, 2, 10)), 29);
        assert_eq!(days_in_month(d(2100, 2, 1)), 28);
        assert_eq!(days_in_month(d(2000, 2, 1)), 29);
        // 15..29 Feb 2028 = 15 of 29 days.
        let s = span(d(2028, 2, 15), None, None, d(2028, 2, 29)).unwrap();
        assert_eq!(fee(dec!(29.00), s), Some(dec!(15.00)));
        // Whole February is the whole fee, leap or not.
        let s = span(d(2026, 2, 1), None, None, d(2026, 2, 28)).unwrap();
        assert_eq!(fee(dec!(12.34), s), Some(dec!(12.34)));
    }

    #[test]
    fn first_and_last_day_of_month_edges() {
        // Starting on the last day of a month: one day of it.
        let s = span(d(2026, 11, 30), None, None, d(2026, 11, 30)).unwrap();
        assert_eq!(fee(dec!(30.00), s), Some(dec!(1.00)));
        // Ending on the first day of a month: one day of it.
        let s = span(d(2026, 11, 1), Some(d(2026, 11, 1)), None, d(2026, 11, 30)).unwrap();
        assert_eq!(fee(dec!(30.00), s), Some(dec!(1.00)));
    }

    #[test]
    fn a_service_ended_before_it_started_billing_charges_nothing() {
        // Ended 10 Nov, already billed to 10 Nov.
        assert_eq!(
            span(
                d(2026, 1, 1),
                Some(d(2026, 11, 10)),
                Some(d(2026, 11, 10)),
                d(2026, 11, 30)
            ),
            None
        );
        // Starts after the cutoff.
        assert_eq!(span(d(2026, 12, 5), None, None, d(2026, 11, 30)), None);
        // End date before start date.
        assert_eq!(
            span(d(2026, 11, 5), Some(d(2026, 11, 4)), None, d(2026, 11, 30)),
            None
        );
    }

    #[test]
    fn never_twice_across_two_runs() {
        let cut1 = d(2026, 11, 30);
        let s1 = span(d(2026, 11, 16), None, None, cut1).unwrap();
        let s2 = span(d(2026, 11, 16), None, Some(s1.to), d(2026, 12, 31)).unwrap();
        assert_eq!(s2.from, d(2026, 12, 1));
        // The same run again (re-run with the same cutoff) charges nothing.
        assert_eq!(span(d(2026, 11, 16), None, Some(s1.to), cut1), None);
        assert_eq!(
            fee(dec!(30.00), s1).unwrap() + fee(dec!(31.00), s2).unwrap(),
            dec!(46.00)
        );
    }

    #[test]
    fn an_absurd_fee_is_none_not_a_panic() {
        let s = span(d(1, 1, 1), None, None, d(2026, 11, 30)).unwrap();
        assert_eq!(fee(Decimal::MAX, s), None);
        assert_eq!(fee(Decimal::MIN, s), None);
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            describe(Span {
                from: d(2026, 11, 1),
                to: d(2026, 11, 30)
            }),
            "1 Nov to 30 Nov 2026"
        );
        assert_eq!(
            describe(Span {
                from: d(2026, 12, 16),
                to: d(2027, 1, 31)
            }),
            "16 Dec 2026 to 31 Jan 2027"
        );
    }
}
