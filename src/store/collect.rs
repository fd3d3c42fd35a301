//! Payment runs and payment items (docs/collection.md): which invoices are due for
//! collection, recording a payment run, and recording results (payments,
//! reversals, dishonour fees). Every change is audited in its transaction.
//!
//! Money collected for an invoice is linked to it through its items
//! (`payment_items.payment_id` / `reversal_id`), so "outstanding" is the
//! invoice's amount due less what its items collected. The payments
//! themselves are recorded *unallocated* (`invoice_id` NULL, `source`
//! `collection`): like every payment received after production, the next
//! run's production applies them to the customer's next invoice against the
//! opening balance (docs/file-formats.md#payments, docs/rating.md#invoices). Allocating them to the collected invoice
//! would hide them from that production and bill the customer twice.

use super::audit::{self, Actor};
use crate::domain::bank::{self, BankDetails};
use crate::domain::collect::{self, Candidate, DdFormat, ItemState, Kind, NewItem, Past, Standing};
use crate::error::{Result, bad_input};
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;

/// What is still to collect on invoice `i`, judged on the whole account so
/// the same money is never collected twice:
/// - an invoice with a newer invoice for the account is superseded (its
///   unpaid balance is carried into the newer one's amount due): 0;
/// - otherwise its amount due, less every payment not yet applied to an
///   invoice (collections approved for it, transfers, reversals — all
///   unallocated until the next production), less what live items on the
///   account's other invoices are collecting now, less the credit notes
///   not yet brought forward by an invoice (a credit note reduces what is
///   still to collect; once collected, it stays a credit on the account);
/// - and never more than the invoice stated will be collected
///   (`to_collect_minor`, issue 15 item 5).
const OUTSTANDING: &str = "CASE WHEN EXISTS (SELECT 1 FROM invoices n
        WHERE n.account = i.account AND n.seq > i.seq) THEN 0
    ELSE MIN(COALESCE(i.to_collect_minor, MAX(0, i.amount_due_minor)), i.amount_due_minor
      - COALESCE((SELECT SUM(p.amount_minor) FROM payments p
          WHERE p.account = i.account AND p.invoice_id IS NULL), 0)
      - COALESCE((SELECT SUM(pi.amount_minor) FROM payment_items pi
          WHERE pi.account = i.account AND pi.invoice_id <> i.id AND pi.state = 'live'), 0)
      - COALESCE((SELECT SUM(cn.total_minor) FROM credit_notes cn
          WHERE cn.account = i.account AND cn.applied_invoice_id IS NULL), 0))
    END";

fn history(conn: &Connection, invoice_id: i64) -> Result<Vec<Past>> {
    let mut st = conn.prepare_cached(
        "SELECT state, attempt FROM payment_items WHERE invoice_id = ?1 ORDER BY attempt, id",
    )?;
    let rows = st.query_map([invoice_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (s, attempt) = r?;
        out.push(Past {
            state: s.parse().map_err(bad_input)?,
            attempt,
        });
    }
    Ok(out)
}

/// The invoices of run `run_id` paid by `kind` with their outstanding amount.
fn invoices_of(conn: &Connection, run_id: i64, kind: Kind) -> Result<Vec<(i64, i64)>> {
    let sql = format!(
        "SELECT i.id, {OUTSTANDING} FROM invoices i
         WHERE i.run_id = ?1 AND i.payment_method = ?2 ORDER BY i.seq"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(params![run_id, kind.method()], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Which invoices [`candidates`] looks for.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub run_id: i64,
    pub kind: Kind,
    /// Direct Debit: the file format, which says how to read the customers'
    /// bank columns ([`BankDetails`]).
    pub format: Option<DdFormat>,
    pub max_retries: u32,
    pub retry_failed: bool,
}

/// The invoices a new payment run of `w.kind` for run `w.run_id` takes now.
pub fn candidates(conn: &Connection, w: &Wanted) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for (invoice_id, outstanding) in invoices_of(conn, w.run_id, w.kind)? {
        let h = history(conn, invoice_id)?;
        let Some(attempt) = collect::next_attempt(outstanding, &h, w.max_retries, w.retry_failed)
        else {
            continue;
        };
        let mut c = conn.query_row(
            "SELECT i.number, i.account, c.name, i.due_date, i.currency, c.bank_account_name,
                    c.bank_branch, c.bank_account, c.iban, c.bic, c.mandate_ref, c.mandate_date,
                    c.card_token, c.stripe_customer, c.gocardless_mandate
             FROM invoices i JOIN customers c ON c.account = i.account WHERE i.id = ?1",
            [invoice_id],
            |r| {
                let date = |s: Option<String>| s.and_then(|s| s.parse::<NaiveDate>().ok());
                let customer: String = r.get(2)?;
                let holder: Option<String> = r.get(5)?;
                let name = bank::holder_name(holder.as_deref(), &customer);
                let bank = match w.format {
                    None => None,
                    Some(DdFormat::Bacs18) => Some(BankDetails::Bacs {
                        sort_code: r.get(6)?,
                        account: r.get(7)?,
                        name,
                    }),
                    Some(DdFormat::Aba) => Some(BankDetails::Aba {
                        bsb: r.get(6)?,
                        account: r.get(7)?,
                        name,
                    }),
                    Some(DdFormat::Sepa) => Some(BankDetails::Sepa {
                        iban: r.get(8)?,
                        bic: r.get(9)?,
                        name,
                    }),
                };
                Ok(Candidate {
                    invoice_id,
                    number: r.get(0)?,
                    account: r.get(1)?,
                    due_date: date(r.get(3)?),
                    currency: r.get(4)?,
                    outstanding_minor: outstanding,
                    attempt,
                    bank,
                    mandate_ref: r.get(10)?,
                    mandate_date: date(r.get(11)?),
                    card_token: r.get(12)?,
                    stripe_customer: r.get(13)?,
                    gocardless_mandate: r.get(14)?,
                    first_for_mandate: false,
                })
            },
        )?;
        c.first_for_mandate = !conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM payment_items pi
                 JOIN payment_runs pr ON pr.id = pi.payment_run_id
                 WHERE pr.kind = 'dd' AND pi.account = ?1 AND pi.mandate_ref IS ?2
                   AND pi.state IN ('approved', 'live'))",
            params![c.account, c.mandate_ref],
            |r| r.get::<_, bool>(0),
        )?;
        out.push(c);
    }
    Ok(out)
}

/// (uncollected, failed) invoices of `kind` in run `run_id`, for the checklist.
pub fn standings(
    conn: &Connection,
    run_id: i64,
    kind: Kind,
    max_retries: u32,
) -> Result<(u64, u64)> {
    let (mut uncollected, mut failed) = (0, 0);
    for (invoice_id, outstanding) in invoices_of(conn, run_id, kind)? {
        match collect::standing(outstanding, &history(conn, invoice_id)?, max_retries) {
            Standing::Uncollected => uncollected += 1,
            Standing::Failed => failed += 1,
            Standing::Settled => {}
        }
    }
    Ok((uncollected, failed))
}

/// Fill the collection facts of the checklist.
pub fn facts(
    conn: &Connection,
    run_id: i64,
    max: u32,
    f: &mut crate::domain::checklist::InvoiceFacts,
) -> Result<()> {
    (f.dd_uncollected, f.dd_failed) = standings(conn, run_id, Kind::Dd, max)?;
    (f.card_uncollected, f.card_failed) = standings(conn, run_id, Kind::Card, max)?;
    f.dd_unplaced = unplaced_ids(conn, run_id, Kind::Dd)?;
    f.card_unplaced = unplaced_ids(conn, run_id, Kind::Card)?;
    f.dd_unanswered = unanswered_gocardless_items(conn, run_id)?.len() as u64;
    f.card_unanswered = unanswered_gateway_items(conn, run_id)?.len() as u64;
    Ok(())
}

/// A payment run to record.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: i64,
    pub kind: Kind,
    /// bacs18 | aba | sepa | card_batch | stripe
    pub format: String,
    pub collection_date: Option<NaiveDate>,
    pub currency: String,
    pub file: Option<String>,
    pub sha256: Option<String>,
    /// The file's bytes, kept so that a file not yet in place can always
    /// be put there ([`unplaced`]).
    pub contents: Option<Vec<u8>>,
}

/// Record the day a Direct Debit payment run debits its customers (the
/// file carries the processing day for Bacs). Call in a write transaction.
pub fn set_debit_date(conn: &Connection, id: i64, date: NaiveDate) -> Result<()> {
    conn.execute(
        "UPDATE payment_runs SET debit_date = ?2 WHERE id = ?1",
        params![id, date.to_string()],
    )?;
    Ok(())
}

/// The id the next payment run will get (stable inside a write transaction).
pub fn next_id(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM payment_runs",
        [],
        |r| r.get(0),
    )?)
}

/// Record a payment run and its items (all `live`). Call in a write transaction.
pub fn create(conn: &Connection, actor: &Actor, r: &NewRun, items: &[NewItem]) -> Result<i64> {
    let total: i64 = items.iter().map(|i| i.amount_minor).sum();
    conn.execute(
        "INSERT INTO payment_runs (kind, format, run_id, collection_date, currency, state, file,
             sha256, items, total_minor, created_at, created_by, contents)
         VALUES (?1, ?2, ?3, ?4, ?5, 'created', ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            r.kind.as_str(),
            r.format,
            r.run_id,
            r.collection_date.map(|d| d.to_string()),
            r.currency,
            r.file,
            r.sha256,
            items.len() as i64,
            total,
            actor.stamp(),
            actor.operator,
            r.contents,
        ],
    )?;
    let id = conn.last_insert_rowid();
    let now = actor.stamp();
    for it in items {
        conn.execute(
            "INSERT INTO payment_items (payment_run_id, invoice_id, account, reference, amount_minor,
                 sequence, mandate_ref, payee_masked, attempt, idempotency_key, state, created_at,
                 card_token, stripe_customer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'live', ?11, ?12, ?13)",
            params![
                id,
                it.invoice_id,
                it.account,
                it.reference,
                it.amount_minor,
                it.sequence,
                it.mandate_ref,
                it.payee_masked,
                it.attempt,
                it.idempotency_key,
                now,
                it.card_token,
                it.stripe_customer,
            ],
        )?;
    }
    audit::log(
        conn,
        actor,
        Some(r.run_id),
        &format!("collect {}", r.kind.as_str()),
        &format!(
            "payment run {id} ({}): {} items, total {}{}",
            r.format,
            items.len(),
            crate::domain::money::fmt_minor(total),
            r.file
                .as_deref()
                .map(|f| format!(", file {f}"))
                .unwrap_or_default()
        ),
    )?;
    Ok(id)
}

/// A payment run whose file is recorded but not (known to be) in place:
/// a `collect` killed or failing between the commit and the rename.
#[derive(Debug, Clone)]
pub struct Unplaced {
    pub id: i64,
    pub file: String,
    pub sha256: String,
    /// The recorded bytes; `None` only for a run recorded before they were kept.
    pub contents: Option<Vec<u8>>,
}

/// The payment runs of kind `kind` of run `run_id` whose file is not in place.
pub fn unplaced(conn: &Connection, run_id: i64, kind: Kind) -> Result<Vec<Unplaced>> {
    let mut st = conn.prepare(
        "SELECT id, run_id, file, COALESCE(sha256, ''), contents FROM payment_runs
         WHERE run_id = ?1 AND kind = ?2 AND file IS NOT NULL AND placed_at IS NULL ORDER BY id",
    )?;
    let rows = st.query_map(params![run_id, kind.as_str()], |r| {
        Ok(Unplaced {
            id: r.get(0)?,
            file: r.get(2)?,
            sha256: r.get(3)?,
            contents: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The ids of the payment runs of `kind` of run `run_id` whose file is not
/// in place, for the checklist.
pub fn unplaced_ids(conn: &Connection, run_id: i64, kind: Kind) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached(
        "SELECT id FROM payment_runs
         WHERE run_id = ?1 AND kind = ?2 AND file IS NOT NULL AND placed_at IS NULL ORDER BY id",
    )?;
    let rows = st.query_map(params![run_id, kind.as_str()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Record that payment run `id`'s file is in place; `how` goes in the
/// audit (e.g. "restored after an interrupted run"). Nothing when it was
/// recorded already.
pub fn mark_placed(conn: &Connection, actor: &Actor, id: i64, how: Option<&str>) -> Result<()> {
    let changed = conn.execute(
        "UPDATE payment_runs SET placed_at = ?2 WHERE id = ?1 AND placed_at IS NULL",
        params![id, actor.stamp()],
    )?;
    if changed > 0
        && let Some(how) = how
    {
        let (run_id, file): (i64, String) = conn.query_row(
            "SELECT run_id, COALESCE(file, '') FROM payment_runs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        audit::log(
            conn,
            actor,
            Some(run_id),
            "collect file placed",
            &format!("payment run {id}: file {file} {how}"),
        )?;
    }
    Ok(())
}

/// A payment run with its figures.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRun {
    pub id: i64,
    pub kind: String,
    pub format: String,
    pub run_id: i64,
    pub run_name: String,
    pub collection_date: Option<String>,
    pub currency: String,
    pub state: String,
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub items: i64,
    pub total_minor: i64,
    pub live: i64,
    pub approved: i64,
    pub approved_minor: i64,
    pub failed: i64,
    pub referred: i64,
    pub created_at: String,
    pub created_by: String,
    /// When its file was put in place; `None` for a file not in place yet
    /// (and for Stripe runs, which have no file).
    pub placed_at: Option<String>,
    /// Direct Debit: the day customers are debited (NULL before migration 17).
    pub debit_date: Option<String>,
}

const RUN_COLS: &str = "pr.id, pr.kind, pr.format, pr.run_id, r.name, pr.collection_date,
    pr.currency, pr.state, pr.file, pr.sha256, pr.items, pr.total_minor,
    (SELECT COUNT(*) FROM payment_items x WHERE x.payment_run_id = pr.id AND x.state = 'live'),
    (SELECT COUNT(*) FROM payment_items x WHERE x.payment_run_id = pr.id AND x.state = 'approved'),
    (SELECT COALESCE(SUM(amount_minor), 0) FROM payment_items x WHERE x.payment_run_id = pr.id AND x.state = 'approved'),
    (SELECT COUNT(*) FROM payment_items x WHERE x.payment_run_id = pr.id AND x.state IN ('declined', 'dishonoured', 'failed')),
    (SELECT COUNT(*) FROM payment_items x WHERE x.payment_run_id = pr.id AND x.state = 'refer'),
    pr.created_at, pr.created_by, pr.placed_at, pr.debit_date";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentRun> {
    Ok(PaymentRun {
        id: r.get(0)?,
        kind: r.get(1)?,
        format: r.get(2)?,
        run_id: r.get(3)?,
        run_name: r.get(4)?,
        collection_date: r.get(5)?,
        currency: r.get(6)?,
        state: r.get(7)?,
        file: r.get(8)?,
        sha256: r.get(9)?,
        items: r.get(10)?,
        total_minor: r.get(11)?,
        live: r.get(12)?,
        approved: r.get(13)?,
        approved_minor: r.get(14)?,
        failed: r.get(15)?,
        referred: r.get(16)?,
        created_at: r.get(17)?,
        created_by: r.get(18)?,
        placed_at: r.get(19)?,
        debit_date: r.get(20)?,
    })
}

/// Every payment run, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<PaymentRun>> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM payment_runs pr JOIN runs r ON r.id = pr.run_id ORDER BY pr.id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], run_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<PaymentRun>> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM payment_runs pr JOIN runs r ON r.id = pr.run_id WHERE pr.id = ?1"
    );
    Ok(conn.query_row(&sql, [id], run_row).optional()?)
}

/// A payment item with its invoice and payment run.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: i64,
    pub payment_run_id: i64,
    #[serde(skip)]
    pub kind: Kind,
    #[serde(skip)]
    pub run_id: i64,
    pub invoice: String,
    pub account: String,
    pub reference: String,
    pub amount_minor: i64,
    pub sequence: Option<String>,
    pub payee: String,
    pub attempt: u32,
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    #[serde(skip)]
    pub state: ItemState,
    pub reason: Option<String>,
    pub gateway_id: Option<String>,
    #[serde(skip)]
    pub payment_id: Option<i64>,
    #[serde(skip)]
    pub card_token: Option<String>,
    /// The Stripe Customer the item charges (recorded with its key).
    #[serde(skip)]
    pub stripe_customer: Option<String>,
    /// The mandate collected under (DD; GoCardless: `MD…`).
    #[serde(skip)]
    pub mandate_ref: Option<String>,
    #[serde(skip)]
    pub currency: String,
    /// When the item (and its idempotency key) was created: RFC 3339.
    #[serde(skip)]
    pub created_at: String,
}

const ITEM_COLS: &str = "pi.id, pi.payment_run_id, pr.kind, pr.format, pr.run_id, pi.invoice_id,
    i.number, pi.account, pi.reference, pi.amount_minor, pi.sequence, pi.payee_masked,
    pi.attempt, pi.idempotency_key, pi.state, pi.reason, pi.gateway_id, pi.payment_id,
    COALESCE(pi.card_token, c.card_token), pr.currency, pi.created_at, pi.stripe_customer,
    pi.mandate_ref";
const ITEM_FROM: &str = "FROM payment_items pi JOIN payment_runs pr ON pr.id = pi.payment_run_id
    JOIN invoices i ON i.id = pi.invoice_id JOIN customers c ON c.account = pi.account";

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let kind: String = r.get(2)?;
    let state: String = r.get(14)?;
    Ok(Item {
        id: r.get(0)?,
        payment_run_id: r.get(1)?,
        kind: kind.parse().unwrap_or(Kind::Dd),
        run_id: r.get(4)?,
        invoice: r.get(6)?,
        account: r.get(7)?,
        reference: r.get(8)?,
        amount_minor: r.get(9)?,
        sequence: r.get(10)?,
        payee: r.get(11)?,
        attempt: r.get(12)?,
        idempotency_key: r.get(13)?,
        state: state.parse().unwrap_or(ItemState::Failed),
        reason: r.get(15)?,
        gateway_id: r.get(16)?,
        payment_id: r.get(17)?,
        card_token: r.get(18)?,
        currency: r.get(19)?,
        created_at: r.get(20)?,
        stripe_customer: r.get(21)?,
        mandate_ref: r.get(22)?,
    })
}

/// The items of a payment run, in file order.
pub fn items(conn: &Connection, payment_run_id: i64) -> Result<Vec<Item>> {
    let sql = format!("SELECT {ITEM_COLS} {ITEM_FROM} WHERE pi.payment_run_id = ?1 ORDER BY pi.id");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([payment_run_id], item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn item_by_reference(conn: &Connection, reference: &str) -> Result<Option<Item>> {
    let sql = format!("SELECT {ITEM_COLS} {ITEM_FROM} WHERE pi.reference = ?1");
    Ok(conn.query_row(&sql, [reference], item_row).optional()?)
}

pub fn item(conn: &Connection, id: i64) -> Result<Option<Item>> {
    let sql = format!("SELECT {ITEM_COLS} {ITEM_FROM} WHERE pi.id = ?1");
    Ok(conn.query_row(&sql, [id], item_row).optional()?)
}

/// This database's random idempotency-key prefix (migration 17).
pub fn idempotency_prefix(conn: &Connection) -> Result<String> {
    Ok(conn.query_row(
        "SELECT value FROM meta WHERE key = 'idempotency_prefix'",
        [],
        |r| r.get(0),
    )?)
}

/// Items of run `run_id`'s GoCardless payment runs sent (or about to be)
/// with no answer recorded: re-sent with their key first.
pub fn unanswered_gocardless_items(conn: &Connection, run_id: i64) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLS} {ITEM_FROM} WHERE pr.run_id = ?1 AND pr.format = 'gocardless'
         AND pi.state = 'live' AND pi.gateway_id IS NULL ORDER BY pi.id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([run_id], item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The item of a gateway's payment or PaymentIntent id.
pub fn item_by_gateway_id(conn: &Connection, format: &str, id: &str) -> Result<Option<Item>> {
    let sql = format!("SELECT {ITEM_COLS} {ITEM_FROM} WHERE pr.format = ?1 AND pi.gateway_id = ?2");
    Ok(conn.query_row(&sql, [format, id], item_row).optional()?)
}

/// Whether any payment run of `format` exists (e.g. `gocardless`).
pub fn has_format(conn: &Connection, format: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM payment_runs WHERE format = ?1)",
        [format],
        |r| r.get(0),
    )?)
}

/// A gateway's stored event cursor.
pub fn cursor(conn: &Connection, gateway: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT cursor FROM gateway_cursors WHERE gateway = ?1",
            [gateway],
            |r| r.get(0),
        )
        .optional()?)
}

/// Store a gateway's event cursor.
pub fn set_cursor(conn: &Connection, gateway: &str, cursor: &str, at: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO gateway_cursors (gateway, cursor, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(gateway) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        params![gateway, cursor, at],
    )?;
    Ok(())
}

/// Record a mandate status a gateway reported on the customers with that
/// GoCardless mandate; returns how many customers.
pub fn set_gocardless_mandate_status(
    conn: &Connection,
    actor: &Actor,
    mandate: &str,
    status: &str,
    on: NaiveDate,
) -> Result<usize> {
    let n = conn.execute(
        "UPDATE customers SET mandate_status = ?2, mandate_status_on = ?3
         WHERE gocardless_mandate = ?1 AND (mandate_status IS NOT ?2 OR mandate_status_on IS NOT ?3)",
        params![mandate, status, on.to_string()],
    )?;
    if n > 0 {
        audit::log(
            conn,
            actor,
            None,
            "mandate status",
            &format!("GoCardless mandate {mandate}: {status} on {on}"),
        )?;
    }
    Ok(n)
}

/// Live Stripe items that Stripe answered but that had not finished
/// (`processing`): the ones `collect sync` asks about, oldest first.
pub fn pending_stripe_items(conn: &Connection) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLS} {ITEM_FROM} WHERE pr.format = 'stripe'
         AND pi.state = 'live' AND pi.gateway_id IS NOT NULL ORDER BY pi.id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Gateway items of run `run_id` sent (or about to be sent) with no answer
/// recorded: the ones a crash or a network failure left behind. Re-sending
/// them with their recorded key cannot charge twice.
pub fn unanswered_gateway_items(conn: &Connection, run_id: i64) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLS} {ITEM_FROM} WHERE pr.run_id = ?1 AND pr.format = 'stripe'
         AND pi.state = 'live' AND pi.gateway_id IS NULL ORDER BY pi.id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([run_id], item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn set_state(
    conn: &Connection,
    item: &Item,
    state: ItemState,
    reason: Option<&str>,
    gateway_id: Option<&str>,
    at: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE payment_items SET state = ?2, reason = ?3, gateway_id = COALESCE(?4, gateway_id),
             result_at = ?5 WHERE id = ?1",
        params![item.id, state.as_str(), reason, gateway_id, at],
    )?;
    refresh_state(conn, item.payment_run_id)
}

/// A payment run is `created` until anything comes back (or it went to the
/// gateway), then `submitted`, and `settled` once no item is live.
pub fn refresh_state(conn: &Connection, payment_run_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE payment_runs SET state = CASE
            WHEN NOT EXISTS (SELECT 1 FROM payment_items WHERE payment_run_id = ?1 AND state = 'live')
                THEN 'settled'
            WHEN format = 'stripe' OR EXISTS (SELECT 1 FROM payment_items
                 WHERE payment_run_id = ?1 AND (state <> 'live' OR gateway_id IS NOT NULL))
                THEN 'submitted'
            ELSE 'created' END
         WHERE id = ?1",
        [payment_run_id],
    )?;
    Ok(())
}

/// Record an approval: a payment of the item's amount (method by kind,
/// reference `DD:`/`CARD:` + the item's reference, source `collection`,
/// unallocated).
pub fn approve(
    conn: &Connection,
    actor: &Actor,
    item: &Item,
    date: NaiveDate,
    gateway_id: Option<&str>,
    reason: Option<&str>,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO payments (account, date, amount_minor, method, reference, source, imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'collection', ?6)",
        params![
            item.account,
            date.to_string(),
            item.amount_minor,
            item.kind.method(),
            collect::payment_reference(item.kind, &item.reference),
            actor.stamp()
        ],
    )?;
    let pid = conn.last_insert_rowid();
    conn.execute(
        "UPDATE payment_items SET payment_id = ?2 WHERE id = ?1",
        params![item.id, pid],
    )?;
    set_state(
        conn,
        item,
        ItemState::Approved,
        reason,
        gateway_id,
        &actor.stamp(),
    )?;
    audit::log(
        conn,
        actor,
        Some(item.run_id),
        "collect approved",
        &format!(
            "{} ({}): payment {} of {}",
            item.reference,
            item.account,
            pid,
            crate::domain::money::fmt_minor(item.amount_minor)
        ),
    )?;
    Ok(pid)
}

/// A decline, dishonour or failure to record on an item.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// Declined, dishonoured or failed.
    pub state: ItemState,
    pub reason: Option<&'a str>,
    pub gateway_id: Option<&'a str>,
    /// The date of a reversal and of the fee.
    pub date: NaiveDate,
    /// A fee to charge the customer (the dishonour fee), if positive
    /// (`domain::collect::dishonour_fee`).
    pub fee_minor: i64,
}

/// Record a decline, dishonour or failure. With a recorded payment, a
/// reversal (negative payment with `reverses`) is added; a positive
/// `fee_minor` adds the fee as an unbilled charge.
pub fn fail(conn: &Connection, actor: &Actor, item: &Item, f: &Failure<'_>) -> Result<()> {
    let Failure {
        state,
        reason,
        gateway_id,
        date,
        fee_minor,
    } = *f;
    let mut detail = format!("{} ({}): {state}", item.reference, item.account);
    if let Some(r) = reason {
        detail.push_str(&format!(" ({r})"));
    }
    if let Some(pid) = item.payment_id {
        let amount: i64 = conn.query_row(
            "SELECT amount_minor FROM payments WHERE id = ?1",
            [pid],
            |r| r.get(0),
        )?;
        conn.execute(
            "INSERT INTO payments (account, date, amount_minor, method, reference, source, reverses, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'collection', ?6, ?7)",
            params![
                item.account,
                date.to_string(),
                -amount,
                item.kind.method(),
                collect::reversal_reference(item.kind, &item.reference),
                pid,
                actor.stamp()
            ],
        )?;
        let rid = conn.last_insert_rowid();
        conn.execute(
            "UPDATE payment_items SET reversal_id = ?2 WHERE id = ?1",
            params![item.id, rid],
        )?;
        detail.push_str(&format!("; payment {pid} reversed by payment {rid}"));
    }
    if fee_minor > 0 {
        conn.execute(
            "INSERT INTO charges (account, date, description, amount_minor, source, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, 'dishonour_fee', ?5, ?6)",
            params![
                item.account,
                date.to_string(),
                format!("Dishonour fee ({} {state})", item.invoice),
                fee_minor,
                actor.stamp(),
                actor.operator
            ],
        )?;
        let cid = conn.last_insert_rowid();
        conn.execute(
            "UPDATE payment_items SET fee_charge_id = ?2 WHERE id = ?1",
            params![item.id, cid],
        )?;
        detail.push_str(&format!(
            "; dishonour fee {} charged",
            crate::domain::money::fmt_minor(fee_minor)
        ));
    }
    set_state(conn, item, state, reason, gateway_id, &actor.stamp())?;
    audit::log(
        conn,
        actor,
        Some(item.run_id),
        &format!("collect {state}"),
        &detail,
    )?;
    Ok(())
}

/// Record a referral: the next payment run retries it (up to the limit).
pub fn refer(conn: &Connection, actor: &Actor, item: &Item, reason: Option<&str>) -> Result<()> {
    set_state(conn, item, ItemState::Refer, reason, None, &actor.stamp())?;
    audit::log(
        conn,
        actor,
        Some(item.run_id),
        "collect refer",
        &format!(
            "{} ({}){}",
            item.reference,
            item.account,
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        ),
    )
}

/// Keep the item live with a note (gateway still processing, or no answer).
pub fn note_live(
    conn: &Connection,
    actor: &Actor,
    item: &Item,
    reason: &str,
    gateway_id: Option<&str>,
) -> Result<()> {
    set_state(
        conn,
        item,
        ItemState::Live,
        Some(reason),
        gateway_id,
        &actor.stamp(),
    )?;
    audit::log(
        conn,
        actor,
        Some(item.run_id),
        "collect pending",
        &format!("{} ({}): {reason}", item.reference, item.account),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Store;

    /// Seed a completed run with invoices by SQL: (account, number, amount
    /// due, payment method). Customers come from a minimal row each.
    pub fn seed(s: &Store, invoices: &[(&str, &str, i64, &str)]) -> i64 {
        let c = &s.conn;
        c.execute(
            "INSERT INTO runs (name, cycle, status, invoice_date, cutoff_date, due_date, created_at)
             VALUES ('2026-11', 'monthly', 'completed', '2026-12-01', '2026-11-30', '2026-12-15', 'now')",
            [],
        )
        .unwrap();
        let run = c.last_insert_rowid();
        for (n, (acct, number, due, method)) in invoices.iter().enumerate() {
            c.execute(
                "INSERT OR IGNORE INTO customers (account, name, delivery, payment_method, bank_branch,
                     bank_account, bank_account_name, mandate_ref, mandate_date, card_token, created_at)
                 VALUES (?1, ?1, 'email', ?2, '20-00-00', '31415926', 'A CUSTOMER', ?3, '2025-01-01',
                     'pm_test4242424242', 'now')",
                params![acct, method, format!("MND{acct}")],
            )
            .unwrap();
            c.execute(
                "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date, cutoff_date,
                     currency, opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor,
                     total_charges_minor, amount_due_minor, delivery, payment_method, created_at)
                 VALUES (?1, ?2, ?3, ?4, '2026-12-01', '2026-12-15', '2026-11-30', 'GBP', 0, 0, ?5, 0,
                     ?5, ?5, 'email', ?6, 'now')",
                params![run, number, n as i64 + 1, acct, due, method],
            )
            .unwrap();
        }
        run
    }

    fn new_item(c: &Candidate) -> NewItem {
        NewItem {
            invoice_id: c.invoice_id,
            account: c.account.clone(),
            reference: collect::item_reference(&c.number, c.attempt),
            amount_minor: c.outstanding_minor,
            sequence: None,
            mandate_ref: c.mandate_ref.clone(),
            attempt: c.attempt,
            idempotency_key: None,
            payee_masked: String::new(),
            card_token: None,
            stripe_customer: None,
        }
    }

    fn wanted(run_id: i64, kind: Kind, max_retries: u32, retry_failed: bool) -> Wanted {
        Wanted {
            run_id,
            kind,
            format: (kind == Kind::Dd).then_some(DdFormat::Bacs18),
            max_retries,
            retry_failed,
        }
    }

    fn record(s: &Store, run: i64, kind: Kind, retry_failed: bool) -> Option<i64> {
        let cands = candidates(&s.conn, &wanted(run, kind, 2, retry_failed)).unwrap();
        if cands.is_empty() {
            return None;
        }
        let items: Vec<NewItem> = cands.iter().map(new_item).collect();
        let r = NewRun {
            run_id: run,
            kind,
            format: "bacs18".into(),
            collection_date: None,
            currency: "GBP".into(),
            file: None,
            sha256: None,
            contents: None,
        };
        Some(create(&s.conn, &Actor::test(), &r, &items).unwrap())
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 20).unwrap()
    }

    #[test]
    fn a_story_of_collection() {
        let s = Store::memory().unwrap();
        let run = seed(
            &s,
            &[
                ("A", "INV-1", 1000, "direct_debit"),
                ("B", "INV-2", 2000, "direct_debit"),
                ("C", "INV-3", 0, "direct_debit"),
                ("D", "INV-4", 500, "card"),
                ("E", "INV-5", 700, "manual"),
            ],
        );
        let mut f = crate::domain::checklist::InvoiceFacts::default();
        facts(&s.conn, run, 2, &mut f).unwrap();
        assert_eq!((f.dd_uncollected, f.dd_failed), (2, 0));
        assert_eq!((f.card_uncollected, f.card_failed), (1, 0));

        let c = candidates(&s.conn, &wanted(run, Kind::Dd, 2, false)).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.first_for_mandate && c.attempt == 1));
        let pr = record(&s, run, Kind::Dd, false).unwrap();
        // Re-running takes nothing new; one live item per invoice.
        assert!(record(&s, run, Kind::Dd, true).is_none());
        facts(&s.conn, run, 2, &mut f).unwrap();
        assert_eq!((f.dd_uncollected, f.dd_failed), (0, 0));
        assert_eq!(get(&s.conn, pr).unwrap().unwrap().state, "created");

        // INV-1 approved, INV-2 referred.
        let a = item_by_reference(&s.conn, "INV-1").unwrap().unwrap();
        let pid = approve(&s.conn, &Actor::test(), &a, today(), None, None).unwrap();
        let b = item_by_reference(&s.conn, "INV-2").unwrap().unwrap();
        refer(&s.conn, &Actor::test(), &b, Some("refer to payer")).unwrap();
        assert_eq!(get(&s.conn, pr).unwrap().unwrap().state, "settled");
        let (method, inv): (String, Option<i64>) = s
            .conn
            .query_row(
                "SELECT method, invoice_id FROM payments WHERE id = ?1",
                [pid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((method.as_str(), inv), ("direct_debit", None));
        facts(&s.conn, run, 2, &mut f).unwrap();
        assert_eq!((f.dd_uncollected, f.dd_failed), (1, 0));

        // The referral is retried by the next run as a re-presentation, not first.
        let c = candidates(&s.conn, &wanted(run, Kind::Dd, 2, false)).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].number.as_str(), c[0].attempt), ("INV-2", 2));
        record(&s, run, Kind::Dd, false).unwrap();
        let b2 = item_by_reference(&s.conn, "INV-2-R1").unwrap().unwrap();
        let failure = Failure {
            state: ItemState::Dishonoured,
            reason: Some("no funds"),
            gateway_id: None,
            date: today(),
            fee_minor: 1500,
        };
        fail(&s.conn, &Actor::test(), &b2, &failure).unwrap();
        facts(&s.conn, run, 2, &mut f).unwrap();
        assert_eq!((f.dd_uncollected, f.dd_failed), (0, 1));
        let fee: (i64, String) = s
            .conn
            .query_row(
                "SELECT amount_minor, source FROM charges WHERE account = 'B'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(fee, (1500, "dishonour_fee".to_string()));

        // A late dishonour of the approved INV-1 reverses its payment.
        let a = item_by_reference(&s.conn, "INV-1").unwrap().unwrap();
        let failure = Failure {
            reason: None,
            fee_minor: 0,
            ..failure
        };
        fail(&s.conn, &Actor::test(), &a, &failure).unwrap();
        let (amt, rev): (i64, i64) = s
            .conn
            .query_row(
                "SELECT amount_minor, reverses FROM payments WHERE reference = 'DD:INV-1-REV'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((amt, rev), (-1000, pid));
        // The invoice is due again, and --retry-failed takes both back.
        let c = candidates(&s.conn, &wanted(run, Kind::Dd, 2, true)).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].outstanding_minor, 1000);
        // Its only collection was returned: the mandate has no successful one.
        assert!(c[0].first_for_mandate);
        assert_eq!(c[0].attempt, 2);
        assert_eq!(c[1].attempt, 3);
        // Attempt 3 is the last allowed with max_retries 2.
        assert!(
            candidates(&s.conn, &wanted(run, Kind::Dd, 1, true))
                .unwrap()
                .len()
                == 1
        );
    }

    #[test]
    fn one_live_item_per_invoice_is_enforced_by_the_schema() {
        let s = Store::memory().unwrap();
        let run = seed(&s, &[("A", "INV-1", 1000, "card")]);
        let c = candidates(&s.conn, &wanted(run, Kind::Card, 2, false)).unwrap();
        let r = NewRun {
            run_id: run,
            kind: Kind::Card,
            format: "stripe".into(),
            collection_date: None,
            currency: "GBP".into(),
            file: None,
            sha256: None,
            contents: None,
        };
        create(&s.conn, &Actor::test(), &r, &[new_item(&c[0])]).unwrap();
        let mut again = new_item(&c[0]);
        again.reference = "INV-1-X".into();
        assert!(create(&s.conn, &Actor::test(), &r, &[again]).is_err());
    }
}

/// The latest payment item of an invoice, as `invoices --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LatestItem {
    pub payment_run: i64,
    pub reference: String,
    pub state: String,
    pub reason: Option<String>,
}

pub fn latest_for_invoice(conn: &Connection, invoice_id: i64) -> Result<Option<LatestItem>> {
    Ok(conn
        .query_row(
            "SELECT payment_run_id, reference, state, reason FROM payment_items
             WHERE invoice_id = ?1 ORDER BY id DESC LIMIT 1",
            [invoice_id],
            |r| {
                Ok(LatestItem {
                    payment_run: r.get(0)?,
                    reference: r.get(1)?,
                    state: r.get(2)?,
                    reason: r.get(3)?,
                })
            },
        )
        .optional()?)
}

// ---- Bank reports (ARUDD, ADDACS, pain.002, ABA returns) ----

/// Items of `format` runs that `pred` (SQL over `pi`, `pr`) selects, with
/// `args`.
fn items_where(conn: &Connection, pred: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Item>> {
    let sql = format!("SELECT {ITEM_COLS} {ITEM_FROM} WHERE {pred} ORDER BY pi.id");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(args, item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Bacs items collected under mandate `mandate_ref` for `amount_minor` in
/// a file whose processing day was `processing` (an ARUDD return).
pub fn bacs_items_returned(
    conn: &Connection,
    mandate_ref: &str,
    amount_minor: i64,
    processing: NaiveDate,
) -> Result<Vec<Item>> {
    items_where(
        conn,
        "pr.format = 'bacs18' AND pi.mandate_ref = ?1 AND pi.amount_minor = ?2
         AND pr.collection_date = ?3",
        &[&mandate_ref, &amount_minor, &processing.to_string()],
    )
}

/// The item with `reference` in a payment run of `format`.
pub fn item_in_format(conn: &Connection, format: &str, reference: &str) -> Result<Option<Item>> {
    Ok(items_where(
        conn,
        "pr.format = ?1 AND pi.reference = ?2",
        &[&format, &reference],
    )?
    .into_iter()
    .next())
}

/// The items of payment run `id` when it is a SEPA run whose recorded file
/// carries `<MsgId>msg_id</MsgId>`; `None` when no such run.
pub fn sepa_run_items(conn: &Connection, id: i64, msg_id: &str) -> Result<Option<Vec<Item>>> {
    let found: Option<Vec<u8>> = conn
        .query_row(
            "SELECT contents FROM payment_runs WHERE id = ?1 AND format = 'sepa'",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let tag = format!("<MsgId>{msg_id}</MsgId>");
    match found {
        Some(bytes) if String::from_utf8_lossy(&bytes).contains(&tag) => Ok(Some(items(conn, id)?)),
        _ => Ok(None),
    }
}

/// Customers whose mandate reference is `mandate_ref`.
pub fn customers_with_mandate(conn: &Connection, mandate_ref: &str) -> Result<Vec<String>> {
    let mut st =
        conn.prepare("SELECT account FROM customers WHERE mandate_ref = ?1 ORDER BY account")?;
    let rows = st.query_map([mandate_ref], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A customer's mandate status and the date it took effect.
pub fn mandate_status(
    conn: &Connection,
    account: &str,
) -> Result<(Option<String>, Option<String>)> {
    Ok(conn.query_row(
        "SELECT mandate_status, mandate_status_on FROM customers WHERE account = ?1",
        [account],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Set a customer's mandate status (as a bank or gateway reported it),
/// audited. Call in a write transaction.
pub fn set_mandate_status(
    conn: &Connection,
    actor: &Actor,
    account: &str,
    status: &str,
    on: NaiveDate,
    why: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE customers SET mandate_status = ?2, mandate_status_on = ?3 WHERE account = ?1",
        params![account, status, on.to_string()],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "mandate status",
        &format!("{account}: mandate {status} from {on} ({why})"),
    )?;
    Ok(())
}

/// Accounts whose mandate must not be collected (cancelled, transferred,
/// disputed), with status and date.
pub fn stopped_mandates(conn: &Connection) -> Result<HashMap<String, (String, String)>> {
    let mut st = conn.prepare(
        "SELECT account, mandate_status, COALESCE(mandate_status_on, '') FROM customers
         WHERE mandate_status IN ('cancelled', 'transferred', 'disputed')",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When the bank report with `sha256` was imported, if it was.
pub fn bank_report_imported(conn: &Connection, sha256: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT imported_at FROM bank_reports WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )
        .optional()?)
}

/// Record a bank report as imported. Call in the write transaction that
/// applied it.
pub fn record_bank_report(
    conn: &Connection,
    actor: &Actor,
    sha256: &str,
    format: &str,
    label: &str,
    items: usize,
) -> Result<()> {
    conn.execute(
        "INSERT INTO bank_reports (sha256, format, label, items, imported_at, imported_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            sha256,
            format,
            label,
            i64::try_from(items).unwrap_or(i64::MAX),
            actor.stamp(),
            actor.operator
        ],
    )?;
    Ok(())
}
