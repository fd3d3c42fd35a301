//! Wholesale fixed fees (docs/rating.md#wholesale-fixed-fees): a carrier's fixed-fee file, matched to
//! services, billed with a markup. Pure: the store supplies what exists.
//!
//! File: CSV with header `service, fee_code, description, amount,
//! period_start, period_end`. A row that cannot be read (bad amount or
//! date, empty field, end before start) makes the whole file bad input:
//! nothing is imported and every such row is reported. A readable row that
//! does not match becomes a fee error instead (it does not stop the file):
//! - `fee_unknown_service`: no service with that (normalised) number;
//! - `fee_unknown_code`: the fee code is not known. A fee code is known when
//!   it is a plan code (`plans.csv`) or was registered with
//!   `billrun fees codes add CODE DESCRIPTION`.

use crate::domain::csvfile::{self, Problem, Table};
use crate::domain::money;
use crate::domain::rating::normalise_number;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

pub const COLUMNS: &[&str] = &[
    "service",
    "fee_code",
    "description",
    "amount",
    "period_start",
    "period_end",
];

/// One readable line of a fee file.
#[derive(Debug, Clone, PartialEq)]
pub struct FeeRow {
    pub line: u64,
    /// Normalised to digits.
    pub service: String,
    pub fee_code: String,
    pub description: String,
    /// The carrier's cost, exact as in the file (not rounded).
    pub amount: Decimal,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The raw line, kept for fee errors.
    pub raw: String,
}

/// How a fee line matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    /// Matched to the service's account.
    Account(String),
    /// A fee error of this kind, with a detail for the operator.
    Error(&'static str, String),
}

/// What matching needs to know: service → account, and the known fee codes.
#[derive(Debug, Default)]
pub struct Reference {
    pub services: HashMap<String, String>,
    pub codes: HashSet<String>,
}

/// Match one line: the service first (an unknown service names the error
/// even when the code is unknown too), then the fee code.
pub fn match_line(r: &Reference, service: &str, fee_code: &str) -> Match {
    match r.services.get(service) {
        None => Match::Error(
            "fee_unknown_service",
            format!("no service '{service}': add it to services.csv, then `billrun errors rerate`"),
        ),
        Some(_) if !r.codes.contains(fee_code) => Match::Error(
            "fee_unknown_code",
            format!(
                "unknown fee code '{fee_code}': register it with `billrun fees codes add {fee_code} DESCRIPTION`, then `billrun errors rerate`"
            ),
        ),
        Some(a) => Match::Account(a.clone()),
    }
}

/// The charge for a wholesale fee line: the carrier's amount plus
/// `markup_percent` %, rounded half away from zero to the minor unit (once,
/// per fee line). A negative amount (a carrier credit) is marked up alike.
/// `None` when it leaves `Decimal`'s range (only absurd values can).
pub fn wholesale_charge(amount: Decimal, markup_percent: Decimal) -> Option<Decimal> {
    let marked = amount.checked_mul(Decimal::ONE_HUNDRED.checked_add(markup_percent)?)?;
    Some(money::round_minor(
        marked.checked_div(Decimal::ONE_HUNDRED)?,
    ))
}

impl FeeRow {
    /// Whether `other` is the same fee line: same service, fee code, period
    /// and amount (compared as numbers: `10.0` is `10.00`). The description
    /// is not part of it: a carrier that re-words a line is still billing
    /// the same fee. The one rule for duplicates, within a file and between
    /// files.
    pub fn same_fee(
        &self,
        service: &str,
        fee_code: &str,
        start: NaiveDate,
        end: NaiveDate,
        amount: Decimal,
    ) -> bool {
        self.service == service
            && self.fee_code == fee_code
            && self.period_start == start
            && self.period_end == end
            && self.amount == amount
    }
}

/// Lines repeated within one file: `(line, earlier line)` for every line that
/// is the same fee (see [`FeeRow::same_fee`]) as an earlier line of the file.
pub fn repeated_within(rows: &[FeeRow]) -> Vec<(u64, u64)> {
    let mut first: HashMap<(&str, &str, NaiveDate, NaiveDate, Decimal), u64> = HashMap::new();
    let mut out = Vec::new();
    for f in rows {
        // normalize(): 10.0 and 10.00 are one key.
        let key = (
            f.service.as_str(),
            f.fee_code.as_str(),
            f.period_start,
            f.period_end,
            f.amount.normalize(),
        );
        match first.get(&key) {
            Some(&earlier) => out.push((f.line, earlier)),
            None => {
                first.insert(key, f.line);
            }
        }
    }
    out
}

/// Read a fee file; every unreadable row is reported.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<FeeRow>, Vec<Problem>> {
    let t = Table::read(file, bytes, COLUMNS, COLUMNS)?;
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let raw_service = r.req("service");
        let service = normalise_number(&raw_service);
        if !raw_service.is_empty() && service.is_empty() {
            r.problem("service", format!("'{raw_service}' has no digits"));
        }
        let fee_code = r.req("fee_code");
        let description = r.req("description");
        let amount = r.parse_req("amount", money::parse);
        let start = r.parse_req("period_start", csvfile::date);
        let end = r.parse_req("period_end", csvfile::date);
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            r.problem("period_end", format!("{e} is before period_start {s}"));
        }
        let line = r.line;
        if let (Some(amount), Some(period_start), Some(period_end)) = (amount, start, end) {
            out.push(FeeRow {
                line,
                service,
                fee_code,
                description,
                amount,
                period_start,
                period_end,
                raw: lines
                    .get(line.saturating_sub(1) as usize)
                    .map(|s| s.trim_end_matches('\r').to_string())
                    .unwrap_or_default(),
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn markup_rounds_half_away_from_zero() {
        assert_eq!(wholesale_charge(dec!(10.00), dec!(0)), Some(dec!(10.00)));
        assert_eq!(wholesale_charge(dec!(10.00), dec!(15)), Some(dec!(11.50)));
        // 0.25 × 1.1 = 0.275 → 0.28; the negative mirrors it.
        assert_eq!(wholesale_charge(dec!(0.25), dec!(10)), Some(dec!(0.28)));
        assert_eq!(wholesale_charge(dec!(-0.25), dec!(10)), Some(dec!(-0.28)));
        assert_eq!(wholesale_charge(dec!(3.333), dec!(12.5)), Some(dec!(3.75)));
    }

    #[test]
    fn matching_names_service_before_code() {
        let mut r = Reference::default();
        r.services.insert("01134960000".into(), "C1001".into());
        r.codes.insert("LINE".into());
        assert_eq!(
            match_line(&r, "01134960000", "LINE"),
            Match::Account("C1001".into())
        );
        assert!(matches!(
            match_line(&r, "01134960000", "XX"),
            Match::Error("fee_unknown_code", _)
        ));
        assert!(matches!(
            match_line(&r, "999", "XX"),
            Match::Error("fee_unknown_service", _)
        ));
    }

    #[test]
    fn parses_and_reports_every_bad_row() {
        let f = "service,fee_code,description,amount,period_start,period_end\n\
+44 113 496 0000,LINE,Line rental,12.345,2026-11-01,2026-11-30\n\
abc,LINE,x,1,2026-11-01,2026-11-30\n\
0113,,x,£1,2026-11-01,2026-10-30\n";
        let e = parse("f.csv", f.as_bytes()).unwrap_err();
        let s: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[0].starts_with("f.csv:3:1: service: 'abc' has no digits"));
        assert!(s[1].starts_with("f.csv:4:2: fee_code: required"));
        assert!(s[2].starts_with("f.csv:4:4: amount:"));
        assert!(s[3].starts_with("f.csv:4:6: period_end: 2026-10-30 is before"));
        let ok = "service,fee_code,description,amount,period_start,period_end\n+44 113 496 0000,LINE,Line rental,12.345,2026-11-01,2026-11-30\n";
        let v = parse("f.csv", ok.as_bytes()).unwrap();
        assert_eq!(v[0].service, "441134960000");
        assert_eq!(v[0].amount, dec!(12.345));
        assert!(v[0].raw.starts_with("+44 113"));
    }

    #[test]
    fn a_line_repeated_within_a_file_is_found() {
        let f = "service,fee_code,description,amount,period_start,period_end\n\
0111,BIZ,Line,10.00,2026-11-01,2026-11-30\n\
0111,BIZ,Line,10.00,2026-12-01,2026-12-31\n\
0111,BIZ,Line again,10.0,2026-11-01,2026-11-30\n\
0111,PORT,Line,10.00,2026-11-01,2026-11-30\n\
0111,BIZ,Line,10.00,2026-11-01,2026-11-30\n";
        let v = parse("f.csv", f.as_bytes()).unwrap();
        assert_eq!(repeated_within(&v), vec![(4, 2), (6, 2)]);
        assert!(v[0].same_fee("0111", "BIZ", v[2].period_start, v[2].period_end, dec!(10)));
    }
}
