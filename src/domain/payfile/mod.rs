//! Payment-file writers (docs/collection.md): pure functions from a list of items to
//! the bytes of a bank or gateway file. No I/O: the caller writes the bytes
//! (mode 0600) and records the run.
//!
//! Every writer follows the same contract:
//! - items whose bank details do not suit the format (missing or invalid
//!   branch, account, IBAN, mandate, card token …) are left out and listed
//!   in [`PayFile::unsuitable`] with a reason — never guessed or repaired;
//! - problems that no customer data can fix (bad settings, a non-positive
//!   or oversized amount, an invoice number the format cannot carry, the
//!   same invoice twice) fail the whole file with [`PayFileError::Invalid`],
//!   which lists every problem at once;
//! - if nothing is left to collect, [`PayFileError::NothingToCollect`]
//!   carries the unsuitable list so the caller can show it.
//!
//! Payment files carry full account numbers and tokens (bench/README.md: masking
//! applies to all output *except* payment files); the messages produced here
//! mask them.

pub mod aba;
pub mod bacs18;
pub mod card_batch;
pub mod sepa;
mod text;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::fmt;

use super::bank::BankDetails;
use super::money;

/// Which collection in a mandate's life this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// The first collection under the mandate.
    First,
    /// A later collection.
    Recurring,
    /// A new attempt at a collection that was returned (`refer`).
    Represent,
}

/// One invoice to collect. Bank details are as stored from customers.csv
/// (docs/file-formats.md#customerscsv); each writer validates the ones its format needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DebitItem {
    /// Invoice number: the reference that comes back in the results file.
    pub reference: String,
    /// Customer account.
    pub account: String,
    /// The payer's bank account (Direct Debit), in the run format's scheme.
    pub bank: Option<BankDetails>,
    pub mandate_ref: Option<String>,
    pub mandate_date: Option<NaiveDate>,
    /// Gateway payment-method id (`card_token`), for the card batch.
    pub card_token: Option<String>,
    /// Amount to collect, in the run's currency. Rounded half away from zero
    /// to the minor unit (the money rule) before it is written.
    pub amount: Decimal,
    pub sequence: Sequence,
}

/// Facts about the run that every file needs besides the items.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The date the money should be collected (`--date` or the due date).
    pub collection_date: NaiveDate,
    /// When the file is produced (local time); written as creation date.
    pub created: NaiveDateTime,
    /// The payment run's number: makes file serials and message ids unique.
    pub run_number: u32,
}

/// An item left out of the file, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unsuitable {
    /// Invoice number.
    pub reference: String,
    pub reason: String,
}

impl fmt::Display for Unsuitable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reference, self.reason)
    }
}

/// A written payment file.
#[derive(Debug, Clone, PartialEq)]
pub struct PayFile {
    /// The file's bytes, ready to write.
    pub contents: Vec<u8>,
    /// Invoice numbers in the file, in file order.
    pub included: Vec<String>,
    /// Sum of the included amounts in minor units.
    pub total_minor: i64,
    /// Items left out because their bank details do not suit the format.
    pub unsuitable: Vec<Unsuitable>,
}

fn bullets<T: fmt::Display>(v: &[T]) -> String {
    v.iter().map(|x| format!("\n  - {x}")).collect()
}

/// Why no file was written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayFileError {
    /// Settings or items that no file can be made from. Lists every problem.
    #[error("cannot write the {format} file:{}{}", bullets(.settings), bullets(.items))]
    Invalid {
        format: &'static str,
        /// Problems with `dd.*` settings, each naming the setting.
        settings: Vec<String>,
        /// Problems with items.
        items: Vec<Unsuitable>,
    },
    /// A fault in billrun itself (e.g. the XML writer failed on memory).
    #[error("internal error: {0}")]
    Internal(String),
    /// Every item was unsuitable (or there were none).
    #[error("nothing to collect in the {format} file ({} item(s) left out){}", .unsuitable.len(), bullets(.unsuitable))]
    NothingToCollect {
        format: &'static str,
        unsuitable: Vec<Unsuitable>,
    },
}

/// What a format allows of its items, for [`accept`].
pub(crate) struct Limits {
    /// The format's name in messages.
    pub format: &'static str,
    /// The largest amount of one item, in minor units.
    pub max_minor: i64,
    /// The longest reference (invoice number) the format carries.
    pub max_ref: usize,
    /// The characters a reference may have.
    pub ref_ok: fn(char) -> bool,
    /// The largest file total, and the field it would not fit, e.g.
    /// `11-digit contra amount`; `None` when there is no limit.
    pub max_total: Option<(i64, &'static str)>,
}

/// One item a format accepted: what the format needs of it, and its amount.
#[derive(Debug)]
pub(crate) struct Line<T> {
    pub reference: String,
    pub minor: i64,
    pub item: T,
}

/// The items a format accepted, in item order, and those it left out.
#[derive(Debug)]
pub(crate) struct Accepted<T> {
    pub lines: Vec<Line<T>>,
    pub total: i64,
    pub unsuitable: Vec<Unsuitable>,
}

impl<T> Accepted<T> {
    /// The file of these lines, in their order.
    pub fn into_file(self, contents: Vec<u8>) -> PayFile {
        PayFile {
            contents,
            included: self.lines.into_iter().map(|l| l.reference).collect(),
            total_minor: self.total,
            unsuitable: self.unsuitable,
        }
    }
}

/// The part every writer shares: check the items ([`check_items`]), take
/// each good item's details for the format with `details` (an `Err` leaves
/// the item out as unsuitable, with that reason), check the file total;
/// then fail with every problem of the settings (`originator`) and the
/// items at once, or with nothing to collect, or return the validated
/// settings and the accepted items for the writer to render.
pub(crate) fn accept<O, T>(
    limits: &Limits,
    originator: Result<O, Vec<String>>,
    items: &[DebitItem],
    details: impl Fn(&DebitItem) -> Result<T, String>,
) -> Result<(O, Accepted<T>), PayFileError> {
    let (amounts, mut problems) =
        check_items(items, limits.max_minor, limits.max_ref, limits.ref_ok);
    let mut acc = Accepted {
        lines: Vec::new(),
        total: 0,
        unsuitable: Vec::new(),
    };
    for (it, amount) in items.iter().zip(&amounts) {
        let Some(minor) = *amount else { continue };
        match details(it) {
            Err(reason) => acc.unsuitable.push(Unsuitable {
                reference: it.reference.clone(),
                reason,
            }),
            Ok(item) => {
                acc.total = acc.total.saturating_add(minor);
                acc.lines.push(Line {
                    reference: it.reference.trim().to_string(),
                    minor,
                    item,
                });
            }
        }
    }
    if let Some((max, field)) = limits.max_total
        && acc.total > max
    {
        problems.push(Unsuitable {
            reference: "(file total)".into(),
            reason: format!(
                "total {} exceeds the {field}; split the run",
                money::fmt_minor(acc.total)
            ),
        });
    }
    let o = match originator {
        Ok(o) if problems.is_empty() => o,
        o => {
            return Err(PayFileError::Invalid {
                format: limits.format,
                settings: o.err().unwrap_or_default(),
                items: problems,
            });
        }
    };
    if acc.lines.is_empty() {
        return Err(PayFileError::NothingToCollect {
            format: limits.format,
            unsuitable: acc.unsuitable,
        });
    }
    Ok((o, acc))
}

/// Item checks common to every format: a positive amount within `max_minor`,
/// a non-empty reference of at most `max_ref` characters in the format's
/// character set, no duplicates. Returns the amounts in minor units (or
/// `None` for a bad item) and the problems found.
fn check_items(
    items: &[DebitItem],
    max_minor: i64,
    max_ref: usize,
    ref_ok: fn(char) -> bool,
) -> (Vec<Option<i64>>, Vec<Unsuitable>) {
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    let mut amounts = Vec::with_capacity(items.len());
    for it in items {
        let before = problems.len();
        let mut bad = |reason: String| {
            problems.push(Unsuitable {
                reference: it.reference.clone(),
                reason,
            })
        };
        let r = it.reference.trim();
        if r.is_empty() {
            bad(format!("customer {}: empty invoice number", it.account));
        } else if r.chars().count() > max_ref {
            bad(format!(
                "invoice number is longer than the {max_ref} characters the format carries"
            ));
        } else if !r.chars().all(ref_ok) {
            bad("invoice number has characters the format does not allow".into());
        }
        if !seen.insert(r.to_string()) {
            bad("invoice appears twice in the run".into());
        }
        let minor = minor_units(it.amount);
        match minor {
            Some(m) if m <= 0 => bad(format!(
                "amount {} is not positive; only amounts due are collected",
                money::fmt(it.amount)
            )),
            Some(m) if m > max_minor => bad(format!(
                "amount {} exceeds the format's maximum of {}",
                money::fmt(it.amount),
                money::fmt_minor(max_minor)
            )),
            None => bad(format!("amount {} is out of range", it.amount)),
            _ => {}
        }
        amounts.push(if problems.len() == before {
            minor
        } else {
            None
        });
    }
    (amounts, problems)
}

/// Amount in minor units after the money rounding rule, if it fits an i64.
fn minor_units(d: Decimal) -> Option<i64> {
    let r = money::round_minor(d).checked_mul(Decimal::from(100))?;
    i64::try_from(r.trunc()).ok()
}

/// Left-justify `s` in `width` columns, blank-filled, cut at `width`.
/// `s` must be ASCII (the writers clean text first).
fn left(s: &str, width: usize) -> String {
    let cut: String = s.chars().take(width).collect();
    format!("{cut:<width$}")
}

/// Right-justify `s` in `width` columns with `fill`.
fn right(s: &str, width: usize, fill: char) -> String {
    let n = s.chars().count();
    if n >= width {
        return s.chars().skip(n - width).collect();
    }
    let mut out: String = std::iter::repeat_n(fill, width - n).collect();
    out.push_str(s);
    out
}

/// Zero-filled number in `width` digits (caller has checked it fits).
fn zeros(n: i64, width: usize) -> String {
    format!("{n:0width$}")
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use rust_decimal_macros::dec;

    pub fn item(reference: &str, amount: Decimal) -> DebitItem {
        DebitItem {
            reference: reference.into(),
            account: format!("C-{reference}"),
            bank: None,
            mandate_ref: None,
            mandate_date: None,
            card_token: None,
            amount,
            sequence: Sequence::Recurring,
        }
    }

    /// An item's bank fields, for tests to change: (sort code, BSB or IBAN;
    /// account or BIC; holder name).
    pub fn fields(it: &mut DebitItem) -> (&mut Option<String>, &mut Option<String>, &mut String) {
        match it.bank.as_mut().expect("bank details") {
            BankDetails::Bacs {
                sort_code: a,
                account: b,
                name,
            }
            | BankDetails::Aba {
                bsb: a,
                account: b,
                name,
            }
            | BankDetails::Sepa {
                iban: a,
                bic: b,
                name,
            } => (a, b, name),
        }
    }

    pub fn run() -> RunInfo {
        RunInfo {
            collection_date: NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(),
            created: NaiveDate::from_ymd_opt(2026, 1, 30)
                .unwrap()
                .and_hms_opt(9, 15, 0)
                .unwrap(),
            run_number: 42,
        }
    }

    #[test]
    fn minor_units_round_and_refuse_overflow() {
        assert_eq!(minor_units(dec!(12.305)), Some(1231));
        assert_eq!(minor_units(dec!(0.004)), Some(0));
        assert_eq!(minor_units(Decimal::MAX), None);
    }

    #[test]
    fn padding_helpers() {
        assert_eq!(left("AB", 4), "AB  ");
        assert_eq!(left("ABCDEF", 4), "ABCD");
        assert_eq!(right("12", 5, ' '), "   12");
        assert_eq!(right("123456", 4, '0'), "3456");
        assert_eq!(zeros(1234, 10), "0000001234");
    }

    #[test]
    fn item_checks_list_every_problem() {
        let mut dup = item("INV-1", dec!(5));
        dup.account = "other".into();
        let items = vec![
            item("INV-1", dec!(10)),
            dup,
            item("", dec!(1)),
            item("INV-3", dec!(0)),
            item("INV-4", dec!(-2)),
            item("INV-5", dec!(100)),
            item("INV-6-WAY-TOO-LONG-FOR-IT", dec!(1)),
        ];
        let (amounts, problems) = check_items(&items, 5000, 18, |c| c.is_ascii_graphic());
        assert_eq!(amounts[0], Some(1000));
        assert!(amounts[1..].iter().all(Option::is_none));
        let refs: Vec<&str> = problems.iter().map(|p| p.reference.as_str()).collect();
        assert_eq!(
            refs,
            [
                "INV-1",
                "",
                "INV-3",
                "INV-4",
                "INV-5",
                "INV-6-WAY-TOO-LONG-FOR-IT"
            ]
        );
        assert!(problems[0].reason.contains("twice"));
        assert!(problems[4].reason.contains("maximum of 50.00"));
    }

    #[test]
    fn the_shared_tail_sorts_items_and_fails_with_every_problem() {
        let limits = Limits {
            format: "TEST",
            max_minor: 10_000,
            max_ref: 10,
            ref_ok: |c| c.is_ascii_graphic(),
            max_total: Some((1_500, "4-digit total")),
        };
        let items = [
            item("INV-1", dec!(10)),
            item("INV-2", dec!(2)),
            item("INV-3", dec!(3)),
        ];
        let ok = |it: &DebitItem| {
            if it.reference == "INV-2" {
                Err("no account".to_string())
            } else {
                Ok(it.account.clone())
            }
        };
        let (o, acc) = accept(&limits, Ok("orig"), &items, ok).unwrap();
        assert_eq!(o, "orig");
        assert_eq!(acc.total, 1300);
        assert_eq!(acc.lines.len(), 2);
        assert_eq!(acc.lines[1].item, "C-INV-3");
        let file = acc.into_file(b"x".to_vec());
        assert_eq!(file.included, ["INV-1", "INV-3"]);
        assert_eq!(file.unsuitable[0].to_string(), "INV-2: no account");

        // Settings and item problems together, the file total among them.
        let more = [
            item("INV-1", dec!(10)),
            item("INV-4", dec!(9)),
            item("", dec!(1)),
        ];
        let e = accept(&limits, Err::<(), _>(vec!["dd.x: bad".into()]), &more, ok).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot write the TEST file:\n  - dd.x: bad\n  - : customer C-: empty invoice number\n  \
             - (file total): total 19.00 exceeds the 4-digit total; split the run"
        );
        // Nothing left: the unsuitable ones are carried.
        let e = accept(&limits, Ok(()), &items[1..2], ok).unwrap_err();
        assert!(
            matches!(e, PayFileError::NothingToCollect { ref unsuitable, .. } if unsuitable.len() == 1)
        );
    }

    #[test]
    fn errors_render_every_problem() {
        let e = PayFileError::Invalid {
            format: "ABA",
            settings: vec!["dd.bsb: bad".into()],
            items: vec![Unsuitable {
                reference: "INV-1".into(),
                reason: "amount 0.00 is not positive".into(),
            }],
        };
        assert_eq!(
            e.to_string(),
            "cannot write the ABA file:\n  - dd.bsb: bad\n  - INV-1: amount 0.00 is not positive"
        );
    }
}
