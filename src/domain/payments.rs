//! Payments received (docs/file-formats.md#payments): parsing and validating payment files and
//! single payments. Pure: the store supplies the keys already in the
//! database (accounts, references, invoice numbers) and writes the result.
//!
//! Two file formats:
//! - `csv`, ours: `account, date, amount, method, reference` (header row,
//!   columns by name, any order).
//! - `xero`, Xero's payments export (see [`parse_xero`] for the columns read).
//!
//! Files are all or nothing: every bad row is reported as
//! `file:line:col: column: reason` and nothing is imported.

use crate::domain::csvfile::{self, Problem, Table};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// The payment methods of docs/file-formats.md#payments
pub const METHODS: &[&str] = &[
    "direct_debit",
    "card",
    "bank_transfer",
    "cash",
    "cheque",
    "xero",
];

/// Columns of our payments CSV.
pub const CSV_COLUMNS: &[&str] = &["account", "date", "amount", "method", "reference"];

/// One payment, validated, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPayment {
    /// Line in the file (0 for `payments add`).
    pub line: u64,
    pub account: String,
    pub date: NaiveDate,
    /// Positive: money received, in minor units.
    pub amount_minor: i64,
    pub method: String,
    pub reference: String,
    /// Xero's own word for the payment, as in its export (the payment
    /// method/type column, else the bank account it was paid into); `None`
    /// outside Xero imports. See [`xero_method`].
    pub xero_type: Option<String>,
}

/// How far from today a payment may be dated without `--allow-date`: at most
/// [`FUTURE_DAYS`] days ahead (a cheque dated for next week), at most
/// [`PAST_MONTHS`] months back (the same date last year). A date outside is
/// almost always a typo (`2062`, `2016`) or a file from the wrong year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    pub today: NaiveDate,
}

/// Days a payment may be dated after today.
pub const FUTURE_DAYS: u64 = 7;
/// Months a payment may be dated before today.
pub const PAST_MONTHS: u32 = 12;

impl DateWindow {
    /// The earliest and latest dates accepted.
    pub fn bounds(&self) -> (NaiveDate, NaiveDate) {
        let earliest = self
            .today
            .checked_sub_months(chrono::Months::new(PAST_MONTHS))
            .unwrap_or(NaiveDate::MIN);
        let latest = self
            .today
            .checked_add_days(chrono::Days::new(FUTURE_DAYS))
            .unwrap_or(NaiveDate::MAX);
        (earliest, latest)
    }

    /// `Err(reason)` for a date outside the window.
    pub fn check(&self, d: NaiveDate) -> Result<(), String> {
        let (earliest, latest) = self.bounds();
        let today = self.today;
        if d > latest {
            Err(format!(
                "{d} is more than {FUTURE_DAYS} days after today ({today}): check the date, or give --allow-date if it is right"
            ))
        } else if d < earliest {
            Err(format!(
                "{d} is more than a year before today ({today}): check the date, or give --allow-date if it is right"
            ))
        } else {
            Ok(())
        }
    }
}

/// What the database already holds, for reference and duplicate checks.
#[derive(Debug, Default)]
pub struct Known {
    pub accounts: HashSet<String>,
    /// (account, reference) of every payment already stored.
    pub references: HashSet<(String, String)>,
    /// Invoice number → account (lets a Xero row name an invoice, not an account).
    pub invoices: HashMap<String, String>,
    /// Dates outside this window are refused; `None` accepts any date
    /// (`--allow-date`).
    pub date_window: Option<DateWindow>,
}

impl Known {
    /// The window's verdict on `d` (always fine without a window).
    fn date_ok(&self, d: NaiveDate) -> Result<(), String> {
        self.date_window.map_or(Ok(()), |w| w.check(d))
    }
}

/// Parse an amount of money as files and flags carry it (`12.5`, `-3.00`)
/// into minor units. At most two decimals: a payment or charge is an exact
/// amount of money, so `12.345` is refused rather than rounded.
pub fn parse_amount_minor(s: &str) -> Result<i64, String> {
    let d = crate::domain::money::parse(s)?;
    if d.normalize().scale() > crate::domain::money::MINOR_DIGITS {
        return Err(format!(
            "'{}' has more than two decimals: give an exact amount of money",
            s.trim()
        ));
    }
    let m = d * Decimal::from(100);
    i64::try_from(m.trunc()).map_err(|_| format!("'{}' is out of range", s.trim()))
}

/// A payment amount: exact (two decimals at most) and above zero. Refunds and
/// reversals are not payments received; a dishonour is recorded by
/// `collect results`.
pub fn payment_amount(s: &str) -> Result<i64, String> {
    let m = parse_amount_minor(s)?;
    if m <= 0 {
        return Err(format!(
            "'{}' is not a payment received: the amount must be above zero",
            s.trim()
        ));
    }
    Ok(m)
}

/// Check one payment's account and reference; returns the reasons, per column.
fn check_refs(
    known: &Known,
    seen: &mut HashMap<(String, String), u64>,
    account: &str,
    reference: &str,
    line: u64,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !account.is_empty() && !known.accounts.contains(account) {
        out.push((
            "account",
            format!("unknown account '{account}' (see `billrun customers list`)"),
        ));
    }
    if account.is_empty() || reference.is_empty() {
        return out;
    }
    let key = (account.to_string(), reference.to_string());
    if known.references.contains(&key) {
        out.push((
            "reference",
            format!(
                "duplicate: reference '{reference}' was already imported for account {account}"
            ),
        ));
    } else if let Some(first) = seen.get(&key) {
        out.push((
            "reference",
            format!(
                "duplicate: reference '{reference}' for account {account} is already on line {first}"
            ),
        ));
    } else {
        seen.insert(key, line);
    }
    out
}

/// Validate a single payment (`payments add`). Errors are `(flag, reason)`.
pub fn check_one(
    known: &Known,
    account: &str,
    date: &str,
    amount: &str,
    method: &str,
    reference: &str,
) -> Result<NewPayment, Vec<(String, String)>> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let date = csvfile::date(date.trim())
        .and_then(|d| known.date_ok(d).map(|()| d))
        .map_err(|e| errs.push(("--date".into(), e)))
        .ok();
    let amount = payment_amount(amount)
        .map_err(|e| errs.push(("--amount".into(), e)))
        .ok();
    let method = csvfile::one_of(METHODS)(method.trim())
        .map_err(|e| errs.push(("--method".into(), e)))
        .ok();
    let reference = reference.trim();
    if reference.is_empty() {
        errs.push(("--reference".into(), "must not be empty".into()));
    }
    if let Err(e) = csvfile::control_free(reference) {
        errs.push(("--reference".into(), e));
    }
    for (col, e) in check_refs(known, &mut HashMap::new(), account.trim(), reference, 0) {
        errs.push((format!("--{col}"), e));
    }
    match (date, amount, method) {
        (Some(date), Some(amount_minor), Some(method)) if errs.is_empty() => Ok(NewPayment {
            line: 0,
            account: account.trim().to_string(),
            date,
            amount_minor,
            method,
            reference: reference.to_string(),
            xero_type: None,
        }),
        _ => Err(errs),
    }
}

/// Parse our payments CSV: `account, date, amount, method, reference`.
pub fn parse_csv(file: &str, bytes: &[u8], known: &Known) -> Result<Vec<NewPayment>, Vec<Problem>> {
    let t = Table::read(file, bytes, CSV_COLUMNS, CSV_COLUMNS)?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let account = r.req("account");
        let date = r.parse_req("date", |s| {
            csvfile::date(s).and_then(|d| known.date_ok(d).map(|()| d))
        });
        let amount = r.parse_req("amount", payment_amount);
        let method = r.parse_req("method", csvfile::one_of(METHODS));
        let reference = r.req("reference");
        let line = r.line;
        let ref_problems = check_refs(known, &mut seen, &account, &reference, line);
        let ok = ref_problems.is_empty();
        for (col, e) in ref_problems {
            r.problem(col, e);
        }
        if let (Some(date), Some(amount_minor), Some(method), true) = (date, amount, method, ok)
            && !account.is_empty()
            && !reference.is_empty()
        {
            out.push(NewPayment {
                line,
                account,
                date,
                amount_minor,
                method,
                reference,
                xero_type: None,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// A Xero header name reduced for matching: lower case, without spaces,
/// underscores and the `*` Xero puts on required columns.
fn xero_key(h: &str) -> String {
    h.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '*' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The logical Xero columns and the header names accepted for each.
const XERO_DATE: &[&str] = &["date", "paymentdate"];
const XERO_AMOUNT: &[&str] = &["amount", "amountpaid", "paymentamount", "paid"];
const XERO_REFERENCE: &[&str] = &["reference", "paymentreference"];
const XERO_ACCOUNT: &[&str] = &["accountnumber", "contactaccountnumber"];
const XERO_INVOICE: &[&str] = &["invoicenumber", "invoiceno", "invoice"];
const XERO_TYPE: &[&str] = &["paymentmethod", "method", "paymenttype", "type"];
const XERO_BANK: &[&str] = &["bankaccount", "bankaccountname", "paidinto"];

/// The billrun payment method a Xero payment type (or the name of the bank
/// account it was paid into) stands for, by words in it, ignoring case:
/// - `direct_debit`: "direct debit", "GoCardless", "DD";
/// - `card`: "card" (credit, debit), "Stripe", "Visa", "Mastercard", "Amex";
/// - `cheque`: "cheque", "check";
/// - `cash`: "cash";
/// - `bank_transfer`: "transfer", "BACS", "faster payment", "CHAPS", "EFT",
///   "wire".
///
/// `None` otherwise (the payment is recorded as method `xero`, its type
/// kept beside it).
pub fn xero_method(text: &str) -> Option<&'static str> {
    let t = text.to_lowercase();
    let words: Vec<&str> = t
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let word = |w: &str| words.contains(&w);
    let has = |p: &str| t.contains(p);
    if has("direct debit") || has("directdebit") || word("gocardless") || word("dd") {
        Some("direct_debit")
    } else if word("card") || word("stripe") || word("visa") || word("mastercard") || word("amex") {
        Some("card")
    } else if word("cheque") || word("check") || word("cheques") {
        Some("cheque")
    } else if word("cash") {
        Some("cash")
    } else if word("transfer")
        || word("bacs")
        || has("faster payment")
        || word("chaps")
        || word("eft")
        || word("wire")
    {
        Some("bank_transfer")
    } else {
        None
    }
}

/// A Xero date: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`, `DD/MM/YYYY` or
/// `D Mon YYYY` (`5 Nov 2026`), as Xero writes them by region and report.
pub fn xero_date(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    let date_part = t.split('T').next().unwrap_or(t);
    for fmt in ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%d %B %Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(date_part, fmt) {
            return Ok(d);
        }
    }
    Err(format!(
        "'{t}' is not a date (YYYY-MM-DD, DD/MM/YYYY or '5 Nov 2026')"
    ))
}

/// Parse Xero's payments export. Columns are found by name, ignoring case,
/// spaces, underscores and Xero's `*`; other columns (contact name, bank
/// account, currency, …) are ignored:
/// - date: `Date` or `Payment Date`;
/// - amount: `Amount`, `Amount Paid`, `Payment Amount` or `Paid` (Xero's
///   thousands separators are accepted: `1,250.00`);
/// - account: `Account Number` (the Xero contact's account number, which is
///   the billrun account), else `Invoice Number` of a billrun invoice;
/// - reference: `Reference`; when empty, the invoice number;
/// - type: `Payment Method`, `Payment Type`, `Method` or `Type`, else the
///   `Bank Account` it was paid into: kept as [`NewPayment::xero_type`], and
///   the method is what [`xero_method`] makes of it, `xero` when nothing.
pub fn parse_xero(
    file: &str,
    bytes: &[u8],
    known: &Known,
) -> Result<Vec<NewPayment>, Vec<Problem>> {
    // The header decides which columns exist; accept every column in it.
    let header: Vec<String> = {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        rdr.headers()
            .map(|h| h.iter().map(|s| s.trim().to_ascii_lowercase()).collect())
            .unwrap_or_default()
    };
    let find = |names: &[&str]| {
        header
            .iter()
            .find(|h| names.contains(&xero_key(h).as_str()))
            .cloned()
    };
    let (date_c, amount_c, ref_c, acct_c, inv_c) = (
        find(XERO_DATE),
        find(XERO_AMOUNT),
        find(XERO_REFERENCE),
        find(XERO_ACCOUNT),
        find(XERO_INVOICE),
    );
    let (type_c, bank_c) = (find(XERO_TYPE), find(XERO_BANK));
    let mut required: Vec<&str> = Vec::new();
    let known_cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut missing = Vec::new();
    for (c, what) in [(&date_c, "Date"), (&amount_c, "Amount")] {
        match c {
            Some(c) => required.push(c.as_str()),
            None => missing.push(what),
        }
    }
    if acct_c.is_none() && inv_c.is_none() {
        missing.push("Account Number or Invoice Number");
    }
    let t = Table::read(file, bytes, &required, &known_cols)?;
    if !missing.is_empty() {
        return Err(missing
            .into_iter()
            .map(|m| Problem {
                file: file.into(),
                line: 1,
                col: None,
                column: Some(m.into()),
                reason: "required Xero column is missing from the header".into(),
            })
            .collect());
    }
    let (date_c, amount_c) = (date_c.unwrap_or_default(), amount_c.unwrap_or_default());
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let date = r.parse_req(&date_c, |s| {
            xero_date(s).and_then(|d| known.date_ok(d).map(|()| d))
        });
        let amount = r.parse_req(&amount_c, |s| payment_amount(&s.replace(',', "")));
        let invoice = inv_c.as_deref().and_then(|c| r.opt(c));
        let account = match acct_c.as_deref().and_then(|c| r.opt(c)) {
            Some(a) => a,
            None => {
                match &invoice {
                    Some(n) => match known.invoices.get(n) {
                        Some(a) => a.clone(),
                        None => {
                            let col = inv_c.clone().unwrap_or_default();
                            r.problem(
                            &col,
                            format!("invoice '{n}' is not a billrun invoice, and the row has no account number"),
                        );
                            String::new()
                        }
                    },
                    None => {
                        let col = acct_c.clone().or(inv_c.clone()).unwrap_or_default();
                        r.problem(&col, "no account number or invoice number: cannot tell whose payment this is");
                        String::new()
                    }
                }
            }
        };
        let reference = ref_c
            .as_deref()
            .and_then(|c| r.opt(c))
            .or(invoice)
            .unwrap_or_default();
        if reference.is_empty() {
            let col = ref_c.clone().unwrap_or_else(|| "reference".into());
            r.problem(
                &col,
                "no reference and no invoice number: every payment needs a reference",
            );
        }
        let line = r.line;
        let ref_problems = check_refs(known, &mut seen, &account, &reference, line);
        let ok = ref_problems.is_empty();
        for (col, e) in ref_problems {
            let name = if col == "account" {
                acct_c.clone().or(inv_c.clone()).unwrap_or_default()
            } else {
                ref_c.clone().or(inv_c.clone()).unwrap_or_default()
            };
            r.problem(&name, e);
        }
        let xero_type = type_c
            .as_deref()
            .and_then(|c| r.opt(c))
            .or_else(|| bank_c.as_deref().and_then(|c| r.opt(c)));
        let method = xero_type
            .as_deref()
            .and_then(xero_method)
            .unwrap_or("xero")
            .to_string();
        if let (Some(date), Some(amount_minor), true) = (date, amount, ok)
            && !account.is_empty()
            && !reference.is_empty()
        {
            out.push(NewPayment {
                line,
                account,
                date,
                amount_minor,
                method,
                reference,
                xero_type,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The stale-Xero-payments warning of `check_payments`: when Xero is in use
/// (`xero.enabled`) and Xero payments were never imported (`last_import` is
/// `None`), or last imported (RFC 3339) more than `stale_days` days before
/// `now` (`payments.stale_days`).
#[cfg(test)]
pub fn xero_stale(
    xero_enabled: bool,
    stale_days: u32,
    last_import: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    xero_stale_in(false, xero_enabled, stale_days, last_import, now)
}

/// [`xero_stale`] in either Xero mode: in API mode (`api`) `last_import` is
/// the last successful `payments fetch` and the hint says to fetch.
pub fn xero_stale_in(
    api: bool,
    xero_enabled: bool,
    stale_days: u32,
    last_import: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    if !xero_enabled {
        return None;
    }
    if api {
        let hint = "fetch them: billrun payments fetch";
        return xero_stale_in(false, true, stale_days, last_import, now).map(|w| {
            w.replace("were never imported", "were never fetched")
                .replace("last imported", "last fetched")
                .replace("import time", "fetch time")
                .replace(
                    "import them: billrun payments import FILE --format xero",
                    hint,
                )
        });
    }
    let hint = "import them: billrun payments import FILE --format xero";
    let Some(last) = last_import else {
        return Some(format!(
            "Xero is in use but Xero payments were never imported; {hint}"
        ));
    };
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(last) else {
        return Some(format!(
            "last Xero payments import time unreadable ({last}); {hint}"
        ));
    };
    let age = now.signed_duration_since(at.with_timezone(&chrono::Utc));
    if age > chrono::Duration::days(i64::from(stale_days)) {
        Some(format!(
            "Xero payments last imported {} days ago ({}), more than payments.stale_days = {stale_days}; {hint}",
            age.num_days(),
            &last[..10.min(last.len())]
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        let mut k = Known::default();
        for a in ["C1001", "C1002"] {
            k.accounts.insert(a.into());
        }
        k.references.insert(("C1001".into(), "OLD-1".into()));
        k.invoices.insert("NFV-10001".into(), "C1002".into());
        k
    }

    #[test]
    fn amounts_are_exact_money() {
        assert_eq!(parse_amount_minor("12.5"), Ok(1250));
        assert_eq!(parse_amount_minor("-3.00"), Ok(-300));
        assert_eq!(parse_amount_minor("12.500"), Ok(1250));
        assert!(
            parse_amount_minor("12.345")
                .unwrap_err()
                .contains("two decimals")
        );
        assert!(payment_amount("0").is_err());
        assert!(payment_amount("-5").unwrap_err().contains("above zero"));
        assert!(payment_amount("£5").is_err());
    }

    #[test]
    fn good_csv_parses() {
        let f = "account,date,amount,method,reference\nC1001,2026-11-03,54.00,direct_debit,DD-1\nC1002,2026-11-04,10,cheque,CHQ 100\n";
        let v = parse_csv("p.csv", f.as_bytes(), &known()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].amount_minor, 5400);
        assert_eq!(v[1].line, 3);
        assert_eq!(v[1].reference, "CHQ 100");
    }

    #[test]
    fn every_bad_row_is_reported() {
        let f = "account,date,amount,method,reference\n\
C9999,2026-11-03,5,cash,A\n\
C1001,2026-13-01,5,cash,B\n\
C1001,2026-11-01,5.001,cash,C\n\
C1001,2026-11-01,5,barter,D\n\
C1001,2026-11-01,5,cash,\n\
C1001,2026-11-01,5,cash,OLD-1\n\
C1002,2026-11-01,5,cash,X\n\
C1002,2026-11-02,6,cash,X\n";
        let e = parse_csv("p.csv", f.as_bytes(), &known()).unwrap_err();
        let s: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(s.len(), 7, "{s:#?}");
        assert!(s[0].starts_with("p.csv:2:1: account: unknown account 'C9999'"));
        assert!(s[1].starts_with("p.csv:3:2: date:"));
        assert!(s[2].starts_with("p.csv:4:3: amount:"));
        assert!(s[3].starts_with("p.csv:5:4: method: 'barter' is not one of"));
        assert!(s[4].starts_with("p.csv:6:5: reference: required value is empty"));
        assert!(
            s[5].contains(
                "p.csv:7:5: reference: duplicate: reference 'OLD-1' was already imported"
            )
        );
        assert!(s[6].contains(
            "p.csv:9:5: reference: duplicate: reference 'X' for account C1002 is already on line 8"
        ));
    }

    #[test]
    fn same_reference_for_another_account_is_fine() {
        let f = "account,date,amount,method,reference\nC1001,2026-11-03,5,cash,R1\nC1002,2026-11-03,5,cash,R1\n";
        assert_eq!(parse_csv("p.csv", f.as_bytes(), &known()).unwrap().len(), 2);
    }

    #[test]
    fn xero_export_maps_columns_and_dates() {
        let f = "\u{feff}*Date,Contact Name,Account Number,Invoice Number,Reference,Amount Paid,Bank Account\n\
05/11/2026,Harbour Cafe Ltd,C1001,,BACS 991,\"1,250.00\",Business Current\n\
6 Nov 2026,Northgate Dental,,NFV-10001,,54.00,Business Current\n";
        let v = parse_xero("x.csv", f.as_bytes(), &known()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].account, "C1001");
        assert_eq!(v[0].amount_minor, 125000);
        assert_eq!(v[0].date, NaiveDate::from_ymd_opt(2026, 11, 5).unwrap());
        assert_eq!(v[0].method, "xero");
        assert_eq!(v[1].account, "C1002");
        assert_eq!(v[1].reference, "NFV-10001");
        assert_eq!(v[1].date, NaiveDate::from_ymd_opt(2026, 11, 6).unwrap());
    }

    #[test]
    fn xero_bad_rows_and_missing_columns() {
        let f = "Date,Invoice Number,Amount\n2026-11-05,NFV-99999,5\nnot a date,NFV-10001,x\n";
        let e = parse_xero("x.csv", f.as_bytes(), &known()).unwrap_err();
        let s: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(s.len(), 3, "{s:#?}");
        assert!(
            s[0].contains(
                "x.csv:2:2: invoice number: invoice 'NFV-99999' is not a billrun invoice"
            )
        );
        assert!(s[1].starts_with("x.csv:3:1: date:"));
        assert!(s[2].starts_with("x.csv:3:3: amount:"));
        let e = parse_xero("x.csv", b"Reference,Contact Name\nA,B\n", &known()).unwrap_err();
        assert_eq!(e.len(), 3);
        assert!(e[0].to_string().contains("Date: required Xero column"));
    }

    #[test]
    fn single_payment_checks_flags() {
        let k = known();
        let p = check_one(&k, "C1001", "2026-11-01", "20", "card", "R9").unwrap();
        assert_eq!(p.amount_minor, 2000);
        let e = check_one(&k, "C1001", "2026-11-01", "0", "gold", "OLD-1").unwrap_err();
        let flags: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(flags, ["--amount", "--method", "--reference"]);
        let e = check_one(&k, "C1001", "2026-11-01", "5", "cash", "R\n1").unwrap_err();
        assert!(e[0].1.contains("U+000A (line feed)"), "{e:?}");
    }

    #[test]
    fn dates_outside_the_window_are_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let mut k = known();
        k.date_window = Some(DateWindow { today });
        let (earliest, latest) = k.date_window.unwrap().bounds();
        assert_eq!(earliest.to_string(), "2025-12-02");
        assert_eq!(latest.to_string(), "2026-12-09");
        let f = "account,date,amount,method,reference\n\
C1001,2026-12-09,5,cash,A\n\
C1001,2025-12-02,5,cash,B\n\
C1001,2026-12-10,5,cash,C\n\
C1001,2025-12-01,5,cash,D\n\
C1001,2062-11-05,5,cash,E\n";
        let e = parse_csv("p.csv", f.as_bytes(), &k).unwrap_err();
        let s: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(s.len(), 3, "{s:#?}");
        assert!(
            s[0].starts_with(
                "p.csv:4:2: date: 2026-12-10 is more than 7 days after today (2026-12-02)"
            ),
            "{}",
            s[0]
        );
        assert!(s[0].contains("--allow-date"), "{}", s[0]);
        assert!(
            s[1].starts_with("p.csv:5:2: date: 2025-12-01 is more than a year before today"),
            "{}",
            s[1]
        );
        assert!(s[2].starts_with("p.csv:6:2: date: 2062-11-05"), "{}", s[2]);
        let x = "Date,Account Number,Reference,Amount\n5 Nov 2062,C1001,X1,10.00\n";
        let e = parse_xero("x.csv", x.as_bytes(), &k).unwrap_err();
        assert!(
            e[0].to_string()
                .starts_with("x.csv:2:1: date: 2062-11-05 is more than 7 days"),
            "{e:?}"
        );
        let e = check_one(&k, "C1001", "2016-11-01", "5", "cash", "R1").unwrap_err();
        assert_eq!(e[0].0, "--date");
        // Without a window (--allow-date) every date goes.
        k.date_window = None;
        assert_eq!(parse_csv("p.csv", f.as_bytes(), &k).unwrap().len(), 5);
    }

    #[test]
    fn xero_types_map_onto_methods_or_stay_xero() {
        for (t, m) in [
            ("Direct Debit", Some("direct_debit")),
            ("GoCardless GBP", Some("direct_debit")),
            ("DD", Some("direct_debit")),
            ("Credit Card", Some("card")),
            ("Debit card", Some("card")),
            ("Stripe GBP", Some("card")),
            ("Cheque", Some("cheque")),
            ("Cash", Some("cash")),
            ("Bank Transfer", Some("bank_transfer")),
            ("BACS", Some("bank_transfer")),
            ("Faster Payments", Some("bank_transfer")),
            ("PayPal", None),
            ("Business Current", None),
            ("Addison", None),
        ] {
            assert_eq!(xero_method(t), m, "{t}");
        }
        let f = "Date,Account Number,Reference,Amount,Payment Method,Bank Account\n\
2026-11-05,C1001,X1,10.00,Credit Card,Business Current\n\
2026-11-05,C1001,X2,10.00,PayPal,Business Current\n\
2026-11-05,C1001,X3,10.00,,Stripe GBP\n\
2026-11-05,C1001,X4,10.00,,\n";
        let v = parse_xero("x.csv", f.as_bytes(), &known()).unwrap();
        let got: Vec<(&str, Option<&str>)> = v
            .iter()
            .map(|p| (p.method.as_str(), p.xero_type.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("card", Some("Credit Card")),
                ("xero", Some("PayPal")),
                ("card", Some("Stripe GBP")),
                ("xero", None)
            ]
        );
    }

    #[test]
    fn stale_xero_warning() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let at = "2026-12-01T09:00:00Z";
        assert_eq!(xero_stale(false, 3, None, now), None, "Xero off");
        assert!(xero_stale(true, 3, None, now).unwrap().contains("never"));
        assert_eq!(xero_stale(true, 3, Some(at), now), None);
        let later = now + chrono::Duration::days(4);
        let w = xero_stale(true, 3, Some(at), later).unwrap();
        assert!(w.contains("4 days ago (2026-12-01)"), "{w}");
        assert!(w.contains("payments.stale_days = 3"), "{w}");
        assert_eq!(xero_stale(true, 5, Some(at), later), None);
        assert!(
            xero_stale(true, 3, Some("junk"), now)
                .unwrap()
                .contains("unreadable")
        );
    }
}
