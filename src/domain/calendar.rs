//! Working-day calendars of the Direct Debit schemes, and the one rule that
//! decides the date a customer is debited (docs/collection.md, "Dates").
//!
//! Pure: dates in, dates out. Every calendar closes on Saturdays and
//! Sundays, and on:
//!
//! - **Bacs** (`bacs18`): the bank holidays of England and Wales. By rule:
//!   New Year's Day, Good Friday, Easter Monday, early May (first Monday),
//!   spring (last Monday of May), summer (last Monday of August), Christmas
//!   Day and Boxing Day, with the substitute days gov.uk publishes (a
//!   holiday on a Saturday or Sunday moves to the next weekday that is not
//!   one already: Christmas on a Saturday gives Monday 27 and Tuesday 28
//!   December). The one-off changes of the gov.uk lists are embedded for
//!   2011–2023 (2011 royal wedding; 2012 spring holiday on 4 June and the
//!   Diamond Jubilee on 5 June; 2020 early May holiday moved to Friday 8 May;
//!   2022 spring holiday on 2 June, Platinum Jubilee 3 June, the Queen's
//!   state funeral 19 September; 2023 the coronation, 8 May). Source:
//!   <https://www.gov.uk/bank-holidays> (its JSON covers 2018 onwards); a
//!   one-off announced later goes in `dd.holidays`.
//! - **SEPA** (`sepa`): the TARGET2 closing days: 1 January, Good Friday,
//!   Easter Monday, 1 May, 25 and 26 December, never substituted (ECB,
//!   "TARGET2 closing days").
//! - **BECS** (`aba`): the Australian national public holidays on which the
//!   Reserve Bank's settlement (RITS) and BECS are closed: New Year's Day
//!   and Australia Day (a Saturday or Sunday moves to Monday), Good Friday,
//!   Easter Monday, Anzac Day (25 April, not substituted), Christmas Day and
//!   Boxing Day (substituted as in England and Wales), and the National Day
//!   of Mourning of 22 September 2022. State holidays (King's Birthday,
//!   Labour Day …) are not national; add the ones your bank observes with
//!   `dd.holidays`.
//!
//! The rules hold for any year; the tests check them against the published
//! lists through 2030 (and the weekend cases of 2032).

use chrono::{Datelike, Days, NaiveDate, Weekday};
use std::collections::BTreeSet;
use std::fmt;

/// Which scheme's working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// UK Bacs: England and Wales bank holidays.
    Bacs,
    /// SEPA: TARGET2 closing days.
    Sepa,
    /// Australian BECS (ABA files): national public holidays.
    Becs,
}

impl Scheme {
    pub fn calendar_name(self) -> &'static str {
        match self {
            Scheme::Bacs => "England and Wales bank holidays",
            Scheme::Sepa => "TARGET2 closing days",
            Scheme::Becs => "Australian national public holidays",
        }
    }
}

/// A scheme's calendar plus the operator's extra closing days
/// (`dd.holidays`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub scheme: Scheme,
    extra: BTreeSet<NaiveDate>,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    // Only called with valid dates built from a valid year.
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

fn plus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX)
}

fn minus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(NaiveDate::MIN)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Easter Sunday of year `y` (Gregorian; the anonymous "Meeus/Jones/Butcher"
/// computus).
pub fn easter_sunday(y: i32) -> NaiveDate {
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(y, month.unsigned_abs(), day.unsigned_abs())
}

/// The `n`th (1-based) `wd` of month `m`.
fn nth_weekday(y: i32, m: u32, wd: Weekday, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(y, m, wd, u8::try_from(n).unwrap_or(1))
        .unwrap_or(NaiveDate::MIN)
}

fn last_monday(y: i32, m: u32) -> NaiveDate {
    let next_month_first = if m == 12 {
        ymd(y + 1, 1, 1)
    } else {
        ymd(y, m + 1, 1)
    };
    let mut d = minus(next_month_first, 1);
    while d.weekday() != Weekday::Mon {
        d = minus(d, 1);
    }
    d
}

/// Monday when `d` is a Saturday or Sunday, else `d`.
fn monday_if_weekend(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => plus(d, 2),
        Weekday::Sun => plus(d, 1),
        _ => d,
    }
}

/// Christmas Day and Boxing Day as observed, with substitute days: each
/// falling on a weekend moves to the next weekday not already a holiday.
fn christmas_pair(y: i32) -> [(NaiveDate, &'static str); 2] {
    let xmas = ymd(y, 12, 25);
    match xmas.weekday() {
        // Sat 25, Sun 26 -> Mon 27, Tue 28.
        Weekday::Sat => [
            (ymd(y, 12, 27), "Christmas Day (substitute day)"),
            (ymd(y, 12, 28), "Boxing Day (substitute day)"),
        ],
        // Sun 25, Mon 26 -> Mon 26 Boxing Day, Tue 27 for Christmas.
        Weekday::Sun => [
            (ymd(y, 12, 27), "Christmas Day (substitute day)"),
            (ymd(y, 12, 26), "Boxing Day"),
        ],
        // Fri 25, Sat 26 -> Mon 28.
        Weekday::Fri => [
            (xmas, "Christmas Day"),
            (ymd(y, 12, 28), "Boxing Day (substitute day)"),
        ],
        _ => [(xmas, "Christmas Day"), (ymd(y, 12, 26), "Boxing Day")],
    }
}

/// The England and Wales bank holidays of year `y`.
fn england_wales(y: i32) -> Vec<(NaiveDate, &'static str)> {
    let easter = easter_sunday(y);
    let mut v = vec![
        (monday_if_weekend(ymd(y, 1, 1)), "New Year's Day"),
        (minus(easter, 2), "Good Friday"),
        (plus(easter, 1), "Easter Monday"),
    ];
    // Early May: the first Monday, except the one-offs.
    v.push(match y {
        1995 | 2020 => (ymd(y, 5, 8), "Early May bank holiday (VE day)"),
        _ => (nth_weekday(y, 5, Weekday::Mon, 1), "Early May bank holiday"),
    });
    // Spring: the last Monday of May, except the jubilee years.
    v.push(match y {
        2002 => (ymd(2002, 6, 4), "Spring bank holiday"),
        2012 => (ymd(2012, 6, 4), "Spring bank holiday"),
        2022 => (ymd(2022, 6, 2), "Spring bank holiday"),
        _ => (last_monday(y, 5), "Spring bank holiday"),
    });
    v.push((last_monday(y, 8), "Summer bank holiday"));
    v.extend(christmas_pair(y));
    let one_offs: &[(i32, u32, u32, &str)] = &[
        (1999, 12, 31, "Millennium celebrations"),
        (2002, 6, 3, "Golden Jubilee bank holiday"),
        (2011, 4, 29, "Royal wedding"),
        (2012, 6, 5, "Diamond Jubilee bank holiday"),
        (2022, 6, 3, "Platinum Jubilee bank holiday"),
        (2022, 9, 19, "State Funeral of Queen Elizabeth II"),
        (
            2023,
            5,
            8,
            "Bank holiday for the coronation of King Charles III",
        ),
    ];
    v.extend(
        one_offs
            .iter()
            .filter(|o| o.0 == y)
            .map(|&(y, m, d, n)| (ymd(y, m, d), n)),
    );
    v
}

/// The TARGET2 closing days of year `y`.
fn target2(y: i32) -> Vec<(NaiveDate, &'static str)> {
    let easter = easter_sunday(y);
    vec![
        (ymd(y, 1, 1), "New Year's Day"),
        (minus(easter, 2), "Good Friday"),
        (plus(easter, 1), "Easter Monday"),
        (ymd(y, 5, 1), "Labour Day"),
        (ymd(y, 12, 25), "Christmas Day"),
        (ymd(y, 12, 26), "Christmas holiday"),
    ]
}

/// The Australian national public holidays of year `y`.
fn australia(y: i32) -> Vec<(NaiveDate, &'static str)> {
    let easter = easter_sunday(y);
    let mut v = vec![
        (monday_if_weekend(ymd(y, 1, 1)), "New Year's Day"),
        (monday_if_weekend(ymd(y, 1, 26)), "Australia Day"),
        (minus(easter, 2), "Good Friday"),
        (plus(easter, 1), "Easter Monday"),
        (ymd(y, 4, 25), "Anzac Day"),
    ];
    v.extend(christmas_pair(y));
    if y == 2022 {
        v.push((ymd(2022, 9, 22), "National Day of Mourning"));
    }
    v
}

impl Calendar {
    pub fn new(scheme: Scheme, extra: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        Calendar {
            scheme,
            extra: extra.into_iter().collect(),
        }
    }

    /// The scheme's holidays of year `y` (weekday or not), with names.
    pub fn holidays(&self, y: i32) -> Vec<(NaiveDate, &'static str)> {
        let mut v = match self.scheme {
            Scheme::Bacs => england_wales(y),
            Scheme::Sepa => target2(y),
            Scheme::Becs => australia(y),
        };
        v.extend(
            self.extra
                .iter()
                .filter(|d| d.year() == y)
                .map(|&d| (d, "closing day from dd.holidays")),
        );
        v.sort();
        v
    }

    /// Why `d` is not a working day, or `None` when it is one.
    pub fn closed_because(&self, d: NaiveDate) -> Option<&'static str> {
        if is_weekend(d) {
            return Some(if d.weekday() == Weekday::Sat {
                "a Saturday"
            } else {
                "a Sunday"
            });
        }
        self.holidays(d.year())
            .into_iter()
            .find(|(h, _)| *h == d)
            .map(|(_, n)| n)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.closed_because(d).is_none()
    }

    /// `d` if it is a working day, else the next one.
    pub fn on_or_after(&self, d: NaiveDate) -> NaiveDate {
        let mut d = d;
        // A year has at most ~115 closed days in a row of weekends; bounded.
        for _ in 0..400 {
            if self.is_working_day(d) {
                return d;
            }
            d = plus(d, 1);
        }
        d
    }

    /// The first working day after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> NaiveDate {
        self.on_or_after(plus(d, 1))
    }

    /// The last working day before `d`.
    pub fn previous_working_day(&self, d: NaiveDate) -> NaiveDate {
        let mut d = minus(d, 1);
        for _ in 0..400 {
            if self.is_working_day(d) {
                return d;
            }
            d = minus(d, 1);
        }
        d
    }

    /// The earliest date a customer can be debited by a file (or payment)
    /// made `today`:
    /// - Bacs: the file is input on a working day (today, else the next),
    ///   processed the working day after, and debited (entry day) the
    ///   working day after that;
    /// - SEPA: `ReqdColltnDt` at least one TARGET2 day after submission
    ///   (today, else the next TARGET2 day);
    /// - BECS: a business day, today at the earliest.
    pub fn earliest_debit(&self, today: NaiveDate) -> NaiveDate {
        let submit = self.on_or_after(today);
        match self.scheme {
            Scheme::Bacs => self.next_working_day(self.next_working_day(submit)),
            Scheme::Sepa => self.next_working_day(submit),
            Scheme::Becs => submit,
        }
    }

    /// The date written in the file for debit date `debit`: for Bacs the
    /// processing day (the working day before the entry day), else the
    /// debit date itself.
    pub fn file_date(&self, debit: NaiveDate) -> NaiveDate {
        match self.scheme {
            Scheme::Bacs => self.previous_working_day(debit),
            Scheme::Sepa | Scheme::Becs => debit,
        }
    }
}

/// THE date a customer is debited for a due date: the due date when it is
/// a working day of the scheme's calendar, else the next working day.
/// The invoice's Direct Debit advance notice, the payment file and a
/// gateway's charge date all come from here.
pub fn debit_date(cal: &Calendar, due: NaiveDate) -> NaiveDate {
    cal.on_or_after(due)
}

/// The dates of one Direct Debit payment run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DebitDates {
    /// The day the customers are debited (Bacs entry day).
    pub debit_date: NaiveDate,
    /// The date written in the file: Bacs processing day, SEPA
    /// `ReqdColltnDt`, ABA processing date.
    pub file_date: NaiveDate,
    /// The debit date the due date asked for, when its submission deadline
    /// had passed and the run was moved to the earliest possible date.
    pub moved_from: Option<NaiveDate>,
}

/// Why `--date` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not a working day of the calendar.
    #[error(
        "--date {date} is not a working day ({why}, {calendar}); the next working day is {next}"
    )]
    NotWorkingDay {
        date: NaiveDate,
        why: &'static str,
        calendar: &'static str,
        next: NaiveDate,
    },
    /// Its submission deadline has passed.
    #[error(
        "--date {date} is too soon: the file for that date had to be submitted by {deadline}; \
         the earliest debit date now is {earliest}"
    )]
    TooLate {
        date: NaiveDate,
        deadline: NaiveDate,
        earliest: NaiveDate,
    },
}

/// The latest day a file for debit date `debit` can be submitted.
pub fn submission_deadline(cal: &Calendar, debit: NaiveDate) -> NaiveDate {
    match cal.scheme {
        Scheme::Bacs => cal.previous_working_day(cal.previous_working_day(debit)),
        Scheme::Sepa => cal.previous_working_day(debit),
        Scheme::Becs => debit,
    }
}

/// The dates of a Direct Debit run: `asked` (`--date`) is the debit date
/// and must be a working day whose deadline has not passed; otherwise the
/// [`debit_date`] of `due`, moved to the earliest possible date (and said
/// so in `moved_from`) when its deadline has passed.
pub fn plan_dates(
    cal: &Calendar,
    asked: Option<NaiveDate>,
    due: NaiveDate,
    today: NaiveDate,
) -> Result<DebitDates, DateError> {
    let earliest = cal.earliest_debit(today);
    let (debit, moved_from) = match asked {
        Some(d) => {
            if let Some(why) = cal.closed_because(d) {
                return Err(DateError::NotWorkingDay {
                    date: d,
                    why,
                    calendar: cal.scheme.calendar_name(),
                    next: cal.on_or_after(d),
                });
            }
            if d < earliest {
                return Err(DateError::TooLate {
                    date: d,
                    deadline: submission_deadline(cal, d),
                    earliest,
                });
            }
            (d, None)
        }
        None => {
            let d = debit_date(cal, due);
            if d < earliest {
                (earliest, Some(d))
            } else {
                (d, None)
            }
        }
    };
    Ok(DebitDates {
        debit_date: debit,
        file_date: cal.file_date(debit),
        moved_from,
    })
}

/// A problem in a `dd.holidays` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayProblem {
    pub line: u64,
    pub col: u64,
    pub reason: String,
}

impl fmt::Display for HolidayProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.reason)
    }
}

/// Parse a `dd.holidays` file: one date `YYYY-MM-DD` per line, optionally
/// followed by whitespace and a note; blank lines and lines starting with
/// `#` are skipped. Every bad line is reported.
pub fn parse_holidays(text: &str) -> Result<BTreeSet<NaiveDate>, Vec<HolidayProblem>> {
    let mut dates = BTreeSet::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        let lead = raw.len() - raw.trim_start().len();
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(c) = t.chars().find(|c| c.is_control()) {
            problems.push(HolidayProblem {
                line,
                col: 1,
                reason: format!("control character U+{:04X} in the line", u32::from(c)),
            });
            continue;
        }
        let word = t.split_whitespace().next().unwrap_or("");
        match NaiveDate::parse_from_str(word, "%Y-%m-%d") {
            Ok(d) if word.len() == 10 && (2000..=2099).contains(&d.year()) => {
                dates.insert(d);
            }
            Ok(_) => problems.push(HolidayProblem {
                line,
                col: u64::try_from(lead + 1).unwrap_or(1),
                reason: format!("'{word}': a date between 2000-01-01 and 2099-12-31 expected"),
            }),
            Err(_) => problems.push(HolidayProblem {
                line,
                col: u64::try_from(lead + 1).unwrap_or(1),
                reason: format!("'{word}' is not a date YYYY-MM-DD"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(dates)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn cal(s: Scheme) -> Calendar {
        Calendar::new(s, [])
    }
    fn days(c: &Calendar, y: i32) -> Vec<NaiveDate> {
        c.holidays(y).into_iter().map(|(d, _)| d).collect()
    }

    #[test]
    fn easter_by_computus() {
        // Easter Sundays 2024-2032 (published tables).
        let want = [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2028, 4, 16),
            (2029, 4, 1),
            (2030, 4, 21),
            (2031, 4, 13),
            (2032, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
        ];
        for (y, m, day) in want {
            assert_eq!(easter_sunday(y), d(y, m, day), "{y}");
        }
    }

    #[test]
    fn england_and_wales_match_gov_uk() {
        let c = cal(Scheme::Bacs);
        // gov.uk/bank-holidays, England and Wales.
        assert_eq!(
            days(&c, 2026),
            vec![
                d(2026, 1, 1),
                d(2026, 4, 3),
                d(2026, 4, 6),
                d(2026, 5, 4),
                d(2026, 5, 25),
                d(2026, 8, 31),
                d(2026, 12, 25),
                d(2026, 12, 28), // Boxing Day on a Saturday: substitute Monday
            ]
        );
        assert_eq!(
            days(&c, 2027),
            vec![
                d(2027, 1, 1),
                d(2027, 3, 26),
                d(2027, 3, 29),
                d(2027, 5, 3),
                d(2027, 5, 31),
                d(2027, 8, 30),
                d(2027, 12, 27), // Christmas on a Saturday
                d(2027, 12, 28), // Boxing Day on a Sunday
            ]
        );
        // 2022: New Year's Day on a Saturday, the jubilee and the funeral,
        // Christmas on a Sunday (Boxing Day Monday, Christmas substitute Tuesday).
        assert_eq!(
            days(&c, 2022),
            vec![
                d(2022, 1, 3),
                d(2022, 4, 15),
                d(2022, 4, 18),
                d(2022, 5, 2),
                d(2022, 6, 2),
                d(2022, 6, 3),
                d(2022, 8, 29),
                d(2022, 9, 19),
                d(2022, 12, 26),
                d(2022, 12, 27),
            ]
        );
        assert!(days(&c, 2020).contains(&d(2020, 5, 8)));
        assert!(!days(&c, 2020).contains(&d(2020, 5, 4)));
        assert!(days(&c, 2023).contains(&d(2023, 5, 8)));
        // 2028: New Year's Day on a Saturday -> Monday 3 January.
        assert!(days(&c, 2028).contains(&d(2028, 1, 3)));
        // 2032: Christmas on a Saturday again.
        assert!(days(&c, 2032).contains(&d(2032, 12, 27)));
        assert!(days(&c, 2032).contains(&d(2032, 12, 28)));
        // Every year through 2030 has its eight (one-offs aside) on weekdays.
        for y in 2018..=2030 {
            let h = days(&c, y);
            assert!(h.len() >= 8, "{y}");
            assert!(h.iter().all(|x| !is_weekend(*x)), "{y}: {h:?}");
        }
    }

    #[test]
    fn target2_closing_days_are_never_moved() {
        let c = cal(Scheme::Sepa);
        assert_eq!(
            days(&c, 2027),
            vec![
                d(2027, 1, 1),
                d(2027, 3, 26),
                d(2027, 3, 29),
                d(2027, 5, 1),
                d(2027, 12, 25),
                d(2027, 12, 26),
            ]
        );
        // 1 May 2026 is a Friday: closed.
        assert!(!c.is_working_day(d(2026, 5, 1)));
        assert_eq!(c.closed_because(d(2026, 5, 1)), Some("Labour Day"));
        // Christmas 2027 on a weekend: Monday 27 December is open.
        assert!(c.is_working_day(d(2027, 12, 27)));
    }

    #[test]
    fn australian_national_holidays_with_substitutes() {
        let c = cal(Scheme::Becs);
        // 2028: Australia Day on a Wednesday; 2026: Monday (no move).
        // Australia Day 2025 was a Sunday -> Monday 27 January.
        assert!(days(&c, 2025).contains(&d(2025, 1, 27)));
        assert!(!days(&c, 2025).contains(&d(2025, 1, 26)));
        // 2030: Saturday 26 January -> Monday 28 January.
        assert!(days(&c, 2030).contains(&d(2030, 1, 28)));
        // Anzac Day 2026 is a Saturday: not substituted nationally.
        assert!(c.is_working_day(d(2026, 4, 27)));
        assert!(c.is_working_day(d(2027, 4, 26)));
        // Christmas 2027 (Sat/Sun) -> 27 and 28.
        assert!(!c.is_working_day(d(2027, 12, 27)));
        assert!(!c.is_working_day(d(2027, 12, 28)));
        assert!(!c.is_working_day(d(2022, 9, 22)));
    }

    #[test]
    fn extra_closing_days_from_the_file() {
        let c = Calendar::new(Scheme::Bacs, [d(2026, 12, 29)]);
        assert_eq!(c.on_or_after(d(2026, 12, 25)), d(2026, 12, 30));
        let text = "# local\n2026-12-29 staff day\n\n  2027-01-04\n";
        assert_eq!(
            parse_holidays(text)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![d(2026, 12, 29), d(2027, 1, 4)]
        );
        let bad = parse_holidays("2026-02-30\n29/12/2026\n  1999-01-01\n").unwrap_err();
        assert_eq!(bad.len(), 3);
        assert_eq!((bad[0].line, bad[0].col), (1, 1));
        assert_eq!((bad[1].line, bad[1].col), (2, 1));
        assert_eq!((bad[2].line, bad[2].col), (3, 3));
    }

    #[test]
    fn the_debit_date_is_the_due_date_or_the_next_working_day() {
        let bacs = cal(Scheme::Bacs);
        // Christmas Day 2026 (Friday) -> Tuesday 29 December (28 is Boxing
        // Day's substitute).
        assert_eq!(debit_date(&bacs, d(2026, 12, 25)), d(2026, 12, 29));
        // Good Friday 2027 -> Tuesday after Easter Monday.
        assert_eq!(debit_date(&bacs, d(2027, 3, 26)), d(2027, 3, 30));
        // A plain Tuesday stays.
        assert_eq!(debit_date(&bacs, d(2026, 12, 15)), d(2026, 12, 15));
        // Saturday -> Monday.
        assert_eq!(debit_date(&bacs, d(2026, 12, 12)), d(2026, 12, 14));
        let sepa = cal(Scheme::Sepa);
        assert_eq!(debit_date(&sepa, d(2026, 5, 1)), d(2026, 5, 4));
        let becs = cal(Scheme::Becs);
        assert_eq!(debit_date(&becs, d(2026, 1, 26)), d(2026, 1, 27));
    }

    #[test]
    fn the_documented_christmas_example() {
        // docs/collection.md, "Dates": due Friday 25 December 2026.
        let c = cal(Scheme::Bacs);
        let p = plan_dates(&c, None, d(2026, 12, 25), d(2026, 12, 1)).unwrap();
        assert_eq!(
            (p.debit_date, p.file_date),
            (d(2026, 12, 29), d(2026, 12, 24))
        );
        assert_eq!(submission_deadline(&c, d(2026, 12, 29)), d(2026, 12, 23));
        let late = plan_dates(&c, None, d(2026, 12, 25), d(2026, 12, 24)).unwrap();
        assert_eq!(late.debit_date, d(2026, 12, 30));
        assert_eq!(late.moved_from, Some(d(2026, 12, 29)));
        assert!(matches!(
            plan_dates(&c, Some(d(2026, 12, 29)), d(2026, 12, 25), d(2026, 12, 24)),
            Err(DateError::TooLate { .. })
        ));
    }

    #[test]
    fn bacs_processing_day_is_the_working_day_before_the_debit() {
        let c = cal(Scheme::Bacs);
        // Debit Tuesday 29 Dec 2026: processing day Thursday 24 December.
        assert_eq!(c.file_date(d(2026, 12, 29)), d(2026, 12, 24));
        // Debit Tuesday 30 March 2027: processed Thursday 25 March.
        assert_eq!(c.file_date(d(2027, 3, 30)), d(2027, 3, 25));
        assert_eq!(c.file_date(d(2026, 12, 15)), d(2026, 12, 14));
        assert_eq!(
            cal(Scheme::Sepa).file_date(d(2026, 12, 15)),
            d(2026, 12, 15)
        );
    }

    #[test]
    fn a_passed_deadline_moves_the_run_or_refuses_the_asked_date() {
        let c = cal(Scheme::Bacs);
        // Today Wednesday 9 Dec 2026: input today, processing Thu 10, debit Fri 11.
        let today = d(2026, 12, 9);
        assert_eq!(c.earliest_debit(today), d(2026, 12, 11));
        let p = plan_dates(&c, None, d(2026, 12, 10), today).unwrap();
        assert_eq!(p.debit_date, d(2026, 12, 11));
        assert_eq!(p.file_date, d(2026, 12, 10));
        assert_eq!(p.moved_from, Some(d(2026, 12, 10)));
        let p = plan_dates(&c, None, d(2026, 12, 15), today).unwrap();
        assert_eq!(
            p,
            DebitDates {
                debit_date: d(2026, 12, 15),
                file_date: d(2026, 12, 14),
                moved_from: None
            }
        );
        assert!(matches!(
            plan_dates(&c, Some(d(2026, 12, 10)), d(2026, 12, 20), today),
            Err(DateError::TooLate { deadline, earliest, .. })
                if deadline == d(2026, 12, 8) && earliest == d(2026, 12, 11)
        ));
        let e = plan_dates(&c, Some(d(2026, 12, 25)), d(2026, 12, 20), today).unwrap_err();
        assert!(e.to_string().contains("Christmas Day"), "{e}");
        assert!(e.to_string().contains("2026-12-29"), "{e}");
        // Saturday today: input Monday, processing Tuesday, debit Wednesday.
        assert_eq!(c.earliest_debit(d(2026, 12, 12)), d(2026, 12, 16));
        // SEPA: one TARGET2 day after submission; 24 Dec 2026 -> 28 Dec.
        let s = cal(Scheme::Sepa);
        assert_eq!(s.earliest_debit(d(2026, 12, 24)), d(2026, 12, 28));
        assert_eq!(s.earliest_debit(d(2026, 4, 30)), d(2026, 5, 4));
        // BECS: today if a business day.
        let b = cal(Scheme::Becs);
        assert_eq!(b.earliest_debit(d(2026, 12, 9)), d(2026, 12, 9));
        assert_eq!(b.earliest_debit(d(2026, 12, 25)), d(2026, 12, 29));
    }
}
