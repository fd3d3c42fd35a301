//! Recording payments received (docs/file-formats.md#payments): one payment, or a whole payments
//! file (ours or Xero's export), all or nothing.
//!
//! Validation reads what it checks against (accounts, references, invoice
//! numbers) inside the write transaction, so two racing imports cannot both
//! store the same reference.

use super::Clock;
use crate::domain::payments::{self, NewPayment};
use crate::domain::{csvfile, money};
use crate::error::{Error, Result};
use crate::store::audit::Actor;
use crate::store::{Store, payments as paystore};
use serde::Serialize;

/// One payment, as the operator typed it.
#[derive(Debug, Clone)]
pub struct AddOptions {
    pub account: String,
    /// Above zero, at most two decimals.
    pub amount: String,
    /// YYYY-MM-DD.
    pub date: String,
    /// direct_debit, card, bank_transfer, cash, cheque or xero.
    pub method: String,
    /// Unique per account.
    pub reference: String,
    /// Accept a date outside the window (`domain::payments::DateWindow`).
    pub allow_date: bool,
}

/// What validation checks against: the database, and the date window unless
/// `allow_date`.
fn known(
    tx: &rusqlite::Connection,
    allow_date: bool,
    clock: &dyn Clock,
) -> Result<payments::Known> {
    let mut known = paystore::known(tx)?;
    known.date_window = (!allow_date).then(|| payments::DateWindow {
        today: clock.today(),
    });
    Ok(known)
}

/// The payment recorded (the JSON of `payments add` is `{"id": …}`).
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub id: i64,
    #[serde(skip)]
    pub payment: NewPayment,
}

/// Record one payment.
pub fn add(
    store: &mut Store,
    actor: &Actor,
    opts: &AddOptions,
    clock: &dyn Clock,
) -> Result<Added> {
    let tx = store.write()?;
    let known = known(&tx, opts.allow_date, clock)?;
    let p = payments::check_one(
        &known,
        &opts.account,
        &opts.date,
        &opts.amount,
        &opts.method,
        &opts.reference,
    )
    .map_err(|errs| {
        Error::BadInput(
            errs.iter()
                .map(|(f, e)| format!("{f}: {e}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let ids = paystore::insert(
        &tx,
        actor,
        std::slice::from_ref(&p),
        "manual",
        None,
        &clock.stamp(),
    )?;
    tx.commit()?;
    Ok(Added {
        id: ids[0],
        payment: p,
    })
}

/// The format of a payments file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Ours: account, date, amount, method, reference.
    Csv,
    /// Xero's payments export.
    Xero,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xero => "xero",
        }
    }
}

/// A payments file to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The file's name as the operator gave it (in messages and records).
    pub label: String,
    /// Its content.
    pub bytes: Vec<u8>,
    pub format: Format,
    /// Accept dates outside the window (`domain::payments::DateWindow`).
    pub allow_date: bool,
}

/// What an import stored (the JSON of `payments import`).
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub file: String,
    pub format: &'static str,
    pub imported: usize,
    /// The sum, two decimals.
    pub total: String,
    /// For the operator: the file held no payments, so it does not count as
    /// an import (the Xero staleness warning stays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Import a payments file: every row valid, or nothing stored (every
/// problem reported as `file:line:col: column: reason`).
pub fn import(
    store: &mut Store,
    actor: &Actor,
    opts: &ImportOptions,
    clock: &dyn Clock,
) -> Result<Imported> {
    let label = opts.label.as_str();
    let tx = store.write()?;
    let known = known(&tx, opts.allow_date, clock)?;
    let rows = match opts.format {
        Format::Xero => payments::parse_xero(label, &opts.bytes, &known),
        Format::Csv => payments::parse_csv(label, &opts.bytes, &known),
    }
    .map_err(|p| Error::BadInput(csvfile::report(&p, "Fix the file and import it again.")))?;
    let sha = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&opts.bytes))
    };
    let format = opts.format.as_str();
    let f = paystore::ImportFile {
        format,
        file: label,
        sha256: &sha,
    };
    paystore::insert(&tx, actor, &rows, format, Some(&f), &clock.stamp())?;
    tx.commit()?;
    let total: i64 = rows.iter().map(|p| p.amount_minor).sum();
    let warning = rows.is_empty().then(|| {
        format!(
            "{label} holds no payments (a header only): recorded, but it does not count as a {format} import{}; check the export's date range",
            if opts.format == Format::Xero {
                " (the stale Xero payments warning stays)"
            } else {
                ""
            }
        )
    });
    Ok(Imported {
        file: label.to_string(),
        format,
        imported: rows.len(),
        total: money::fmt_minor(total),
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::FixedClock;

    fn store() -> Store {
        let s = Store::memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO customers (account, name, delivery, payment_method, created_at)
                 VALUES ('A1', 'One', 'print', 'manual', 'x'), ('A2', 'Two', 'print', 'manual', 'x');",
            )
            .unwrap();
        s
    }

    fn count(s: &Store) -> i64 {
        s.conn
            .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn imports_a_file_all_or_nothing() {
        let mut s = store();
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let file = |body: &str| ImportOptions {
            label: "p.csv".into(),
            bytes: format!("account,date,amount,method,reference\n{body}").into_bytes(),
            format: Format::Csv,
            allow_date: false,
        };
        let bad = file("A1,2026-11-05,10.00,cash,R1\nA9,2026-11-05,5.00,cash,R2\n");
        let e = import(&mut s, &Actor::test(), &bad, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("p.csv:3"), "{e}");
        assert_eq!(count(&s), 0, "nothing stored");

        let ok = file("A1,2026-11-05,10.00,cash,R1\nA2,2026-11-06,5.50,card,R2\n");
        let r = import(&mut s, &Actor::test(), &ok, &clock).unwrap();
        assert_eq!(
            (r.imported, r.total.as_str(), r.format),
            (2, "15.50", "csv")
        );
        assert_eq!(
            paystore::last_import(&s.conn, "csv").unwrap().as_deref(),
            Some("2026-12-02T12:00:00Z")
        );
        // The same references again are refused.
        let e = import(&mut s, &Actor::test(), &ok, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert_eq!(count(&s), 2);
    }

    #[test]
    fn adds_one_payment() {
        let mut s = store();
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let o = AddOptions {
            account: "A1".into(),
            amount: "12.30".into(),
            date: "2026-11-30".into(),
            method: "cash".into(),
            reference: "R9".into(),
            allow_date: false,
        };
        let a = add(&mut s, &Actor::test(), &o, &clock).unwrap();
        assert_eq!(a.payment.amount_minor, 1230);
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"id": a.id})
        );
        let e = add(&mut s, &Actor::test(), &o, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 4, "same reference: {e}");
        assert_eq!(count(&s), 1);
    }
}
