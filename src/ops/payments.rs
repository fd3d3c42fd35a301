//! Recording payments received (SPEC §7): one payment, or a whole payments
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
    let known = paystore::known(&tx)?;
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
        &stamp(clock),
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
}

/// What an import stored (the JSON of `payments import`).
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub file: String,
    pub format: &'static str,
    pub imported: usize,
    /// The sum, two decimals.
    pub total: String,
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
    let known = paystore::known(&tx)?;
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
    paystore::insert(&tx, actor, &rows, format, Some(&f), &stamp(clock))?;
    tx.commit()?;
    let total: i64 = rows.iter().map(|p| p.amount_minor).sum();
    Ok(Imported {
        file: label.to_string(),
        format,
        imported: rows.len(),
        total: money::fmt_minor(total),
    })
}

/// A time as stored in `*_at` columns.
fn stamp(clock: &dyn Clock) -> String {
    clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
