//! Payments received (docs/file-formats.md#payments): storing, listing, the facts of the
//! `check_payments` step, and the read API production uses.

use super::audit::{self, Actor};
use super::runs::{self, Run};
use crate::domain::checklist::MethodTotal;
use crate::domain::payments::{Known, NewPayment};
use crate::error::Result;
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payment {
    pub id: i64,
    pub account: String,
    pub date: NaiveDate,
    /// Positive = received; a reversal (dishonour) is negative.
    #[serde(skip)]
    pub amount_minor: i64,
    /// The amount as a decimal with two places (for JSON: `"12.30"`).
    #[serde(serialize_with = "ser_money")]
    pub amount: Decimal,
    pub method: String,
    pub reference: String,
    pub source: String,
    pub imported_at: String,
    pub invoice_id: Option<i64>,
    /// Xero's payment type (or bank account) for a Xero import; `null` otherwise.
    pub xero_type: Option<String>,
}

fn ser_money<S: serde::Serializer>(d: &Decimal, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::domain::money::fmt(*d))
}

const COLS: &str = "id, account, date, amount_minor, method, reference, source, imported_at, invoice_id, xero_type";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Payment> {
    let date: String = r.get(2)?;
    let m: i64 = r.get(3)?;
    Ok(Payment {
        id: r.get(0)?,
        account: r.get(1)?,
        date: date.parse().unwrap_or_default(),
        amount_minor: m,
        amount: crate::domain::money::from_minor(m),
        method: r.get(4)?,
        reference: r.get(5)?,
        source: r.get(6)?,
        imported_at: r.get(7)?,
        invoice_id: r.get(8)?,
        xero_type: r.get(9)?,
    })
}

/// What payment validation needs from the database.
pub fn known(conn: &Connection) -> Result<Known> {
    let mut k = Known::default();
    let mut st = conn.prepare("SELECT account FROM customers")?;
    for a in st.query_map([], |r| r.get::<_, String>(0))? {
        k.accounts.insert(a?);
    }
    let mut st = conn.prepare("SELECT account, reference FROM payments")?;
    for p in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        k.references.insert(p?);
    }
    let mut st = conn.prepare("SELECT number, account FROM invoices")?;
    for p in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (n, a) = p?;
        k.invoices.insert(n, a);
    }
    Ok(k)
}

/// A payment file being imported (recorded in `payment_imports`).
pub struct ImportFile<'a> {
    pub format: &'a str,
    pub file: &'a str,
    pub sha256: &'a str,
}

/// Store validated payments (one transaction: call inside `Store::write`).
/// `source`: manual, csv or xero; `now`: the import time as stored in
/// `imported_at` (RFC 3339, UTC). Returns the ids.
pub fn insert(
    conn: &Connection,
    actor: &Actor,
    rows: &[NewPayment],
    source: &str,
    import: Option<&ImportFile<'_>>,
    now: &str,
) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    let mut st = conn.prepare(
        "INSERT INTO payments (account, date, amount_minor, method, reference, source, imported_at, xero_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for p in rows {
        st.execute(params![
            p.account,
            p.date.to_string(),
            p.amount_minor,
            p.method,
            p.reference,
            source,
            now,
            p.xero_type
        ])?;
        ids.push(conn.last_insert_rowid());
    }
    let total: i64 = rows.iter().map(|p| p.amount_minor).sum();
    match import {
        Some(f) => {
            conn.execute(
                "INSERT INTO payment_imports (format, file, sha256, rows, imported_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![f.format, f.file, f.sha256, rows.len() as i64, now],
            )?;
            audit::log(
                conn,
                actor,
                None,
                "payments import",
                &format!(
                    "{} ({}): {} payments, {}",
                    f.file,
                    f.format,
                    rows.len(),
                    crate::domain::money::fmt_minor(total)
                ),
            )?;
        }
        None => {
            for p in rows {
                audit::log(
                    conn,
                    actor,
                    None,
                    "payments add",
                    &format!(
                        "{} {} {} {} '{}'",
                        p.account,
                        p.date,
                        crate::domain::money::fmt_minor(p.amount_minor),
                        p.method,
                        p.reference
                    ),
                )?;
            }
        }
    }
    Ok(ids)
}

/// Filter for `payments list`.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub account: Option<String>,
    pub unallocated: bool,
}

pub fn list(conn: &Connection, f: &Filter) -> Result<Vec<Payment>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM payments
         WHERE (?1 IS NULL OR account = ?1) AND (?2 = 0 OR invoice_id IS NULL)
         ORDER BY date, account, id"
    ))?;
    let v = st
        .query_map(params![f.account, f.unallocated], row)?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// For production: the account's unallocated payments dated on or before
/// `cutoff`, oldest first. Production applies them all to the invoice and
/// then calls [`mark_billed`].
#[cfg(test)]
pub fn unallocated_for(
    conn: &Connection,
    account: &str,
    cutoff: NaiveDate,
) -> Result<Vec<Payment>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM payments WHERE account = ?1 AND invoice_id IS NULL AND date <= ?2
         ORDER BY date, id"
    ))?;
    let v = st
        .query_map(params![account, cutoff.to_string()], row)?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Allocate payments to an invoice (production, inside its transaction).
/// Only unallocated payments are touched; returns how many were allocated,
/// so a caller can check it got every id it asked for.
pub fn mark_billed(conn: &Connection, ids: &[i64], invoice_id: i64) -> Result<usize> {
    super::mark_invoiced(conn, "payments", "", ids, invoice_id)
}

fn totals(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<MethodTotal>> {
    let mut st = conn.prepare(sql)?;
    let v = st
        .query_map(p, |r| {
            Ok(MethodTotal {
                method: r.get(0)?,
                count: r.get(1)?,
                sum_minor: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// How `check_payments` groups payments: by method, except that a Xero
/// payment whose type maps onto no billrun method is shown by Xero's type
/// (`xero (PayPal)`), so different kinds of Xero payment are not lumped
/// together. (`p` is the payments table, aliased or not.)
const KIND: &str = "CASE WHEN method = 'xero' AND xero_type IS NOT NULL AND xero_type <> ''
       THEN 'xero (' || xero_type || ')' ELSE method END";

/// The `check_payments` figures, by method, for `run` and the run before it
/// (same cycle, see `runs::previous`):
/// - **this run**: payments still unallocated and dated on or before the
///   run's cutoff — exactly what production will apply (with no cutoff yet,
///   every unallocated payment) — plus, once the run is produced, the
///   payments its invoices applied, so the figure does not vanish after
///   production.
/// - **previous run**: the payments that run applied, i.e. the payments whose
///   invoice belongs to it (empty before it is produced, or without one).
pub fn check_payments(
    conn: &Connection,
    run: &Run,
) -> Result<(Vec<MethodTotal>, Vec<MethodTotal>)> {
    let now = totals(
        conn,
        &format!(
            "SELECT {KIND} AS kind, COUNT(*), COALESCE(SUM(amount_minor), 0) FROM payments
             WHERE (invoice_id IS NULL AND (?1 IS NULL OR date <= ?1))
                OR invoice_id IN (SELECT id FROM invoices WHERE run_id = ?2)
             GROUP BY kind ORDER BY kind"
        ),
        params![run.cutoff_date.map(|d| d.to_string()), run.id],
    )?;
    let prev = match runs::previous(conn, run)? {
        None => Vec::new(),
        Some(p) => totals(
            conn,
            &format!(
                "SELECT {KIND} AS kind, COUNT(*), COALESCE(SUM(p.amount_minor), 0) FROM payments p
                 JOIN invoices i ON i.id = p.invoice_id
                 WHERE i.run_id = ?1 GROUP BY kind ORDER BY kind"
            ),
            [p.id],
        )?,
    };
    Ok((now, prev))
}

/// When payments were last imported in `format` (RFC 3339 UTC), if ever. A
/// file that held no payments (a header-only export) does not count: it
/// says nothing about whether the payments are up to date.
pub fn last_import(conn: &Connection, format: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT MAX(imported_at) FROM payment_imports WHERE format = ?1 AND rows > 0",
            [format],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn setup() -> Store {
        let s = Store::memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO customers (account, name, delivery, payment_method, created_at)
                 VALUES ('A1', 'One', 'print', 'manual', 'x'), ('A2', 'Two', 'print', 'manual', 'x');",
            )
            .unwrap();
        s
    }

    fn pay(account: &str, date: &str, m: i64, method: &str, r: &str) -> NewPayment {
        NewPayment {
            line: 0,
            account: account.into(),
            date: date.parse().unwrap(),
            amount_minor: m,
            method: method.into(),
            reference: r.into(),
            xero_type: None,
        }
    }

    #[test]
    fn unallocated_for_respects_cutoff_and_allocation() {
        let s = setup();
        let ids = insert(
            &s.conn,
            &Actor::test(),
            &[
                pay("A1", "2026-11-05", 1000, "cash", "R1"),
                pay("A1", "2026-12-02", 500, "cash", "R2"),
                pay("A2", "2026-11-05", 700, "card", "R1"),
            ],
            "manual",
            None,
            "x",
        )
        .unwrap();
        let cutoff = "2026-11-30".parse().unwrap();
        let v = unallocated_for(&s.conn, "A1", cutoff).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].amount_minor, 1000);
        s.conn
            .execute_batch(
                "INSERT INTO runs (id, name, cycle, status, created_at) VALUES (1, 'r', 'monthly', 'running', 'x');
                 INSERT INTO invoices (id, run_id, number, seq, account, invoice_date, due_date, cutoff_date, currency,
                   opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor, total_charges_minor,
                   amount_due_minor, delivery, payment_method, created_at)
                 VALUES (9, 1, 'INV1', 1, 'A1', '2026-12-01', '2026-12-15', '2026-11-30', 'GBP', 0, 0, 0, 0, 0, 0, 'print', 'manual', 'x');",
            )
            .unwrap();
        assert_eq!(mark_billed(&s.conn, &[ids[0]], 9).unwrap(), 1);
        assert_eq!(
            mark_billed(&s.conn, &[ids[0]], 9).unwrap(),
            0,
            "never twice"
        );
        assert!(unallocated_for(&s.conn, "A1", cutoff).unwrap().is_empty());
        let un = list(
            &s.conn,
            &Filter {
                unallocated: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(un.len(), 2);
        // The same reference for the same account is refused by the schema too.
        assert!(
            insert(
                &s.conn,
                &Actor::test(),
                &[pay("A2", "2026-11-05", 1, "card", "R1")],
                "manual",
                None,
                "x"
            )
            .is_err()
        );
    }

    #[test]
    fn last_import_by_format() {
        let s = setup();
        assert_eq!(last_import(&s.conn, "xero").unwrap(), None);
        let f = ImportFile {
            format: "xero",
            file: "x.csv",
            sha256: "00",
        };
        let at = "2026-12-01T09:00:00Z";
        // A header-only file is recorded but is not an import of payments.
        insert(&s.conn, &Actor::test(), &[], "xero", Some(&f), at).unwrap();
        assert_eq!(last_import(&s.conn, "xero").unwrap(), None);
        let p = pay("A1", "2026-11-05", 1000, "xero", "X1");
        insert(&s.conn, &Actor::test(), &[p], "xero", Some(&f), at).unwrap();
        assert_eq!(last_import(&s.conn, "xero").unwrap().as_deref(), Some(at));
        assert_eq!(last_import(&s.conn, "csv").unwrap(), None);
    }
}
