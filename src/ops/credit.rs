//! Credit notes (docs/commands.md#credit-notes): `credit add` issues one on
//! a produced invoice, `credit produce` finishes the PDFs a kill left
//! unrendered, `credit list` / `credit show` read them.
//!
//! Issuing is one write transaction: the invoice re-read, what it still has
//! uncredited checked (`domain::credit`), the next number of the credit
//! notes' own gap-free sequence (one past the highest ever issued, read in
//! that transaction, so two racing `credit add` serialise and a number is
//! never skipped or reused), the credit note, its lines and the audit entry.
//! Then its PDF is written like an invoice's: to a temporary file beside
//! `NUMBER.pdf`, synced, renamed, the directory synced, and only then
//! recorded. A kill in between leaves a credit note without a recorded PDF;
//! the next `credit add` or `credit produce` renders it (to the same bytes)
//! before anything else.

use super::Clock;
use crate::domain::credit::{self, Issued};
use crate::domain::lifecycle::RunStatus;
use crate::domain::payments::parse_amount_minor;
use crate::domain::settings::Settings;
use crate::error::{Error, Result, bad_input, external, precondition};
use crate::render::document;
use crate::render::invoice_pdf::{Fonts, render_credit_note};
use crate::store::audit::{self, Actor};
use crate::store::credits::{self, CreditLine, CreditNote, NewCredit};
use crate::store::{self, Store, invoices, runs};
use crate::whole_file;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What to credit.
#[derive(Debug, Clone)]
pub struct AddOptions<'a> {
    /// The database file: PDFs go under `<db>.files/credits/`.
    pub db: &'a Path,
    /// The invoice number.
    pub invoice: String,
    /// An amount ex tax (`12.50`)...
    pub amount: Option<String>,
    /// ...or one whole invoice line (its id, `invoices show NUMBER`).
    pub line: Option<i64>,
    pub reason: String,
}

/// A credit note as listed and shown (`credit list --json`, `credit show --json`).
#[derive(Debug, Clone, Serialize)]
pub struct View {
    #[serde(flatten)]
    pub note: CreditNote,
    pub lines: Vec<CreditLine>,
}

/// What `credit add` did.
#[derive(Debug, Clone, Serialize)]
pub struct AddReport {
    pub credit_note: View,
    /// Credit notes whose PDF a kill had left unrendered, rendered now.
    pub pdfs_recovered: usize,
}

/// Where credit note PDFs live.
pub fn pdf_dir(db: &Path) -> PathBuf {
    store::files_dir(db).join("credits")
}

/// Issue a credit note on a produced invoice, then render its PDF.
pub fn add(
    store: &mut Store,
    actor: &Actor,
    opts: &AddOptions<'_>,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<AddReport> {
    let reason = credit::reason(&opts.reason).map_err(|e| bad_input(format!("--reason: {e}")))?;
    let amount_minor = match (&opts.amount, opts.line) {
        (Some(a), None) => {
            Some(parse_amount_minor(a).map_err(|e| bad_input(format!("--amount: {e}")))?)
        }
        (None, Some(_)) => None,
        _ => {
            return Err(Error::Usage(
                "give either --amount X (ex tax) or --line ID (a whole invoice line), not both"
                    .into(),
            ));
        }
    };
    // Finish what a kill left first, so numbers and files stay in order.
    let recovered = produce_pending(store, opts.db, settings)?;
    let tx = store.write()?;
    let inv = invoices::by_number(&tx, opts.invoice.trim())?;
    let run = runs::resolve(&tx, &inv.run_id.to_string())?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "invoice {} is not produced yet (run {} is {}): credit it once production has completed (billrun produce {})",
            inv.number, run.name, run.status, run.id
        )));
    }
    let room = credits::room(&tx, inv.id)?;
    let (ex_tax_minor, lines) = match (amount_minor, opts.line) {
        (Some(m), _) => (
            m,
            vec![CreditLine {
                invoice_line_id: None,
                service: None,
                description: format!("Credit on invoice {}: {reason}", inv.number),
                quantity: "1".into(),
                amount_minor: m,
            }],
        ),
        (None, Some(id)) => {
            let all = credits::invoice_lines(&tx, inv.id)?;
            let l = all.iter().find(|l| l.id == id).ok_or_else(|| {
                bad_input(format!(
                    "--line {id}: invoice {} has no line {id}; its line ids are listed by billrun invoices show {}",
                    inv.number, inv.number
                ))
            })?;
            if let Some(by) = &l.credited_by {
                return Err(bad_input(format!(
                    "--line {id}: this line of invoice {} is credited already by {by}",
                    inv.number
                )));
            }
            if l.amount_minor <= 0 {
                return Err(bad_input(format!(
                    "--line {id}: the line is {} (a credit or nothing): only a charge can be credited",
                    crate::domain::money::fmt_minor(l.amount_minor)
                )));
            }
            (
                l.amount_minor,
                vec![CreditLine {
                    invoice_line_id: Some(l.id),
                    service: l.service.clone(),
                    description: l.description.clone(),
                    quantity: l.quantity.clone(),
                    amount_minor: l.amount_minor,
                }],
            )
        }
        (None, None) => unreachable!("checked above"),
    };
    let what = if opts.line.is_some() {
        "--line"
    } else {
        "--amount"
    };
    let amounts = credit::amounts(&inv.number, room, ex_tax_minor, settings.tax.rate)
        .map_err(|e| bad_input(format!("{what}: {e}")))?;
    let seq = credits::highest_seq(&tx)?
        .checked_add(1)
        .ok_or_else(|| precondition("credit note numbers are exhausted"))?;
    let number = credit::number(&settings.credit_prefix, seq);
    let stamp = clock.stamp();
    let today = clock.today().to_string();
    let rate = amounts.rate.normalize().to_string();
    let (delivery, method) = customer_terms(&tx, &inv.account)?;
    let id = credits::insert(
        &tx,
        &NewCredit {
            number: &number,
            seq,
            invoice_id: inv.id,
            account: &inv.account,
            credit_date: &today,
            currency: &inv.currency,
            reason: &reason,
            ex_tax_minor: amounts.ex_tax_minor,
            tax_minor: amounts.tax_minor,
            total_minor: amounts.total_minor,
            tax_rate: &rate,
            delivery: &delivery,
            payment_method: &method,
            created_at: &stamp,
            created_by: &actor.operator,
        },
        &lines,
    )?;
    audit::log(
        &tx,
        actor,
        Some(inv.run_id),
        "credit add",
        &format!(
            "credit note {number} on invoice {} ({}): {} ex tax + {} tax = {}; {reason}",
            inv.number,
            inv.account,
            crate::domain::money::fmt_minor(amounts.ex_tax_minor),
            crate::domain::money::fmt_minor(amounts.tax_minor),
            crate::domain::money::fmt_minor(amounts.total_minor),
        ),
    )?;
    tx.commit()?;
    test_hook_stop_after_commit();
    produce_pending(store, opts.db, settings)?;
    Ok(AddReport {
        credit_note: view(store, id)?,
        pdfs_recovered: recovered,
    })
}

/// The customer's delivery and payment method now.
fn customer_terms(conn: &rusqlite::Connection, account: &str) -> Result<(String, String)> {
    Ok(conn.query_row(
        "SELECT delivery, payment_method FROM customers WHERE account = ?1",
        [account],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Debug builds only: `BILLRUN_TEST_STOP_AFTER_COMMIT=1` ends the process
/// right after a credit note is committed, before its PDF is written, as a
/// kill there would. Tests use it to check that the next command finishes
/// the job and that numbers stay gap-free.
#[allow(clippy::exit, reason = "simulates a kill; debug builds only")]
fn test_hook_stop_after_commit() {
    #[cfg(debug_assertions)]
    if std::env::var_os("BILLRUN_TEST_STOP_AFTER_COMMIT").is_some_and(|v| v == "1") {
        std::process::exit(137);
    }
}

/// One credit note with its lines.
fn view(store: &Store, id: i64) -> Result<View> {
    Ok(View {
        note: credits::get(&store.conn, id)?,
        lines: credits::lines(&store.conn, id)?,
    })
}

/// Credit notes crediting invoices of `run` (id or name), or all.
pub fn list(store: &Store, run: Option<&str>) -> Result<Vec<View>> {
    let run_id = match run {
        Some(r) => Some(runs::resolve(&store.conn, r)?.id),
        None => None,
    };
    credits::list(&store.conn, run_id)?
        .into_iter()
        .map(|n| {
            let lines = credits::lines(&store.conn, n.id)?;
            Ok(View { note: n, lines })
        })
        .collect()
}

/// One credit note by number.
pub fn show(store: &Store, number: &str) -> Result<View> {
    let n = credits::by_number(&store.conn, number.trim())?;
    view(store, n.id)
}

/// What `credit produce` did.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    pub rendered: usize,
    pub pdf_dir: PathBuf,
}

/// Render every credit note without a complete recorded PDF (`credit produce`).
pub fn produce(store: &mut Store, db: &Path, settings: &Settings) -> Result<ProduceReport> {
    let rendered = produce_pending(store, db, settings)?;
    Ok(ProduceReport {
        rendered,
        pdf_dir: pdf_dir(db),
    })
}

/// Forget recorded PDFs missing or changed on disk, then render, write
/// (synced) and record every credit note PDF not recorded. Returns how many
/// were rendered.
fn produce_pending(store: &mut Store, db: &Path, settings: &Settings) -> Result<usize> {
    let bad: Vec<i64> = credits::recorded_pdfs(&store.conn)?
        .into_iter()
        .filter(|(_, path, sha)| {
            std::fs::read(path).map_or(true, |b| hex::encode(Sha256::digest(&b)) != *sha)
        })
        .map(|(id, _, _)| id)
        .collect();
    if !bad.is_empty() {
        let tx = store.write()?;
        for id in &bad {
            credits::forget_pdf(&tx, *id)?;
        }
        tx.commit()?;
    }
    let missing = credits::missing_pdfs(&store.conn)?;
    if missing.is_empty() {
        return Ok(0);
    }
    let dir = pdf_dir(db);
    std::fs::create_dir_all(&dir)
        .map_err(|e| external(format!("cannot create {}: {e}", dir.display())))?;
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| external(format!("cannot resolve {}: {e}", dir.display())))?;
    let head = super::produce::letterhead(settings);
    let fonts =
        Fonts::shared().map_err(|e| external(format!("loading the embedded invoice font: {e}")))?;
    for (id, number) in &missing {
        let note = credits::get(&store.conn, *id)?;
        let lines = credits::lines(&store.conn, *id)?;
        let doc = document::credit_document(&head, &issued(&note, &lines)?);
        let bytes = render_credit_note(&doc, fonts)
            .map_err(|e| external(format!("credit note {number}: {e}")))?;
        let path = dir.join(format!("{number}.pdf"));
        whole_file::write(&path, &bytes, whole_file::Sync::Now)
            .map_err(|e| external(format!("cannot write {}: {e}", path.display())))?;
        let tx = store.write()?;
        credits::record_pdf(
            &tx,
            *id,
            &path.to_string_lossy(),
            &hex::encode(Sha256::digest(&bytes)),
        )?;
        tx.commit()?;
    }
    Ok(missing.len())
}

/// A stored credit note as its document prints it.
pub fn issued(n: &CreditNote, lines: &[CreditLine]) -> Result<Issued> {
    let date = |s: &str| {
        s.parse::<chrono::NaiveDate>()
            .map_err(|e| bad_input(format!("credit note {}: stored date '{s}': {e}", n.number)))
    };
    Ok(Issued {
        number: n.number.clone(),
        account: n.account.clone(),
        name: n.name.clone(),
        address: n.address.clone(),
        postcode: n.postcode.clone(),
        credit_date: date(&n.credit_date)?,
        currency: n.currency.clone(),
        invoice: n.invoice.clone(),
        invoice_date: date(&n.invoice_date)?,
        reason: n.reason.clone(),
        ex_tax_minor: n.ex_tax_minor,
        tax_minor: n.tax_minor,
        total_minor: n.total_minor,
        rate: n.tax_rate.parse().unwrap_or_default(),
        payment_method: n.payment_method.clone(),
        lines: lines
            .iter()
            .map(|l| {
                (
                    l.service.clone(),
                    l.description.clone(),
                    l.quantity.clone(),
                    l.amount_minor,
                )
            })
            .collect(),
    })
}
