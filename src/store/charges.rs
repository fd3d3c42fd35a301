//! One-off charges and credits (docs/rating.md#one-off-charges-and-credits): add, list, remove while
//! unbilled, and the read API production uses.

use super::audit::{self, Actor};
use crate::domain::money;
use crate::error::{Result, bad_input, precondition};
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;

/// A stored charge (negative amount = credit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charge {
    pub id: i64,
    pub account: String,
    pub service: Option<String>,
    pub date: NaiveDate,
    pub description: String,
    #[serde(skip)]
    pub amount_minor: i64,
    /// Two decimals (JSON `"-10.00"`).
    #[serde(serialize_with = "ser_money")]
    pub amount: Decimal,
    /// manual, dishonour_fee
    pub source: String,
    pub created_at: String,
    pub created_by: String,
    pub invoice_id: Option<i64>,
}

fn ser_money<S: serde::Serializer>(d: &Decimal, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&money::fmt(*d))
}

const COLS: &str = "id, account, service, date, description, amount_minor, source, created_at, created_by, invoice_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Charge> {
    let date: String = r.get(3)?;
    let m: i64 = r.get(5)?;
    Ok(Charge {
        id: r.get(0)?,
        account: r.get(1)?,
        service: r.get(2)?,
        date: date.parse().unwrap_or_default(),
        description: r.get(4)?,
        amount_minor: m,
        amount: money::from_minor(m),
        source: r.get(6)?,
        created_at: r.get(7)?,
        created_by: r.get(8)?,
        invoice_id: r.get(9)?,
    })
}

/// A charge to add, already parsed (amount in minor units, service normalised).
#[derive(Debug, Clone)]
pub struct NewCharge {
    pub account: String,
    pub service: Option<String>,
    pub date: NaiveDate,
    pub description: String,
    pub amount_minor: i64,
    pub source: String,
}

/// Add a charge: the account must exist, the service (if any) must belong to
/// it. `now` is its creation time (RFC 3339, UTC). Returns the new id. Call
/// inside a write transaction.
pub fn add(conn: &Connection, actor: &Actor, c: &NewCharge, now: &str) -> Result<i64> {
    let exists = conn
        .query_row(
            "SELECT 1 FROM customers WHERE account = ?1",
            [&c.account],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !exists {
        return Err(bad_input(format!(
            "--account: unknown account '{}' (see `billrun customers list`)",
            c.account
        )));
    }
    if let Some(s) = &c.service {
        let owner: Option<String> = conn
            .query_row(
                "SELECT account FROM services WHERE service = ?1",
                [s],
                |r| r.get(0),
            )
            .optional()?;
        match owner {
            None => {
                return Err(bad_input(format!(
                    "--service: unknown service '{s}' (see `billrun services list`)"
                )));
            }
            Some(o) if o != c.account => {
                return Err(bad_input(format!(
                    "--service: service '{s}' belongs to account {o}, not {}",
                    c.account
                )));
            }
            Some(_) => {}
        }
    }
    conn.execute(
        "INSERT INTO charges (account, service, date, description, amount_minor, source, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            c.account,
            c.service,
            c.date.to_string(),
            c.description,
            c.amount_minor,
            c.source,
            now,
            actor.operator
        ],
    )?;
    let id = conn.last_insert_rowid();
    audit::log(
        conn,
        actor,
        None,
        "charge add",
        &format!(
            "#{id} {} {} {} '{}'{}",
            c.account,
            c.date,
            money::fmt_minor(c.amount_minor),
            c.description,
            c.service
                .as_deref()
                .map(|s| format!(" service {s}"))
                .unwrap_or_default()
        ),
    )?;
    Ok(id)
}

/// The run that would bill a charge of `account` dated `date` (the first run
/// of the customer's cycle whose cutoff is on or after it), when that run is
/// already locked: the charge then waits for a later run. `(name, cutoff)`.
pub fn locked_run_covering(
    conn: &Connection,
    account: &str,
    date: NaiveDate,
) -> Result<Option<(String, String)>> {
    let r: Option<(String, String, String)> = conn
        .query_row(
            "SELECT r.name, r.cutoff_date, r.status FROM runs r JOIN customers c ON c.cycle = r.cycle
             WHERE c.account = ?1 AND r.cutoff_date >= ?2 ORDER BY r.cutoff_date, r.id LIMIT 1",
            params![account, date.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(
        r.filter(|(_, _, status)| matches!(status.as_str(), "requested" | "running" | "completed"))
            .map(|(n, c, _)| (n, c)),
    )
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Charge>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM charges WHERE id = ?1"),
            [id],
            row,
        )
        .optional()?)
}

/// Charges, by date; optionally one account's, optionally unbilled only.
pub fn list(conn: &Connection, account: Option<&str>, unbilled: bool) -> Result<Vec<Charge>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM charges
         WHERE (?1 IS NULL OR account = ?1) AND (?2 = 0 OR invoice_id IS NULL)
         ORDER BY date, account, id"
    ))?;
    let v = st
        .query_map(params![account, unbilled], row)?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Remove a charge that no invoice has billed; a billed one is refused
/// (exit 3) — correct it with a credit instead.
pub fn remove(conn: &Connection, actor: &Actor, id: i64) -> Result<Charge> {
    let c = get(conn, id)?
        .ok_or_else(|| bad_input(format!("no charge #{id} (see `billrun charge list`)")))?;
    if c.invoice_id.is_some() {
        return Err(precondition(format!(
            "charge #{id} is already billed on an invoice and cannot be removed; add a credit instead: billrun charge add --account {} --amount {} --description '…'",
            c.account,
            money::fmt_minor(-c.amount_minor)
        )));
    }
    conn.execute(
        "DELETE FROM charges WHERE id = ?1 AND invoice_id IS NULL",
        [id],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "charge remove",
        &format!(
            "#{id} {} {} {} '{}'",
            c.account,
            c.date,
            money::fmt_minor(c.amount_minor),
            c.description
        ),
    )?;
    Ok(c)
}

/// For production: the account's unbilled charges dated on or before
/// `cutoff` (docs/rating.md#one-off-charges-and-credits: billed by the first run whose cutoff is on or after
/// the charge's date), oldest first.
#[cfg(test)]
pub fn unbilled_for(conn: &Connection, account: &str, cutoff: NaiveDate) -> Result<Vec<Charge>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM charges WHERE account = ?1 AND invoice_id IS NULL AND date <= ?2
         ORDER BY date, id"
    ))?;
    let v = st
        .query_map(params![account, cutoff.to_string()], row)?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Mark charges billed by an invoice (production, inside its transaction).
/// Only unbilled charges are touched; returns how many were marked.
pub fn mark_billed(conn: &Connection, ids: &[i64], invoice_id: i64) -> Result<usize> {
    super::mark_invoiced(conn, "charges", "", ids, invoice_id)
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
                   VALUES ('A1', 'One', 'print', 'manual', 'x'), ('A2', 'Two', 'print', 'manual', 'x');
                 INSERT INTO plans VALUES ('P', 'Plan', '10', 'T');
                 INSERT INTO services (service, account, plan, start_date) VALUES ('0111', 'A1', 'P', '2026-01-01');",
            )
            .unwrap();
        s
    }

    fn nc(account: &str, service: Option<&str>, date: &str, m: i64) -> NewCharge {
        NewCharge {
            account: account.into(),
            service: service.map(String::from),
            date: date.parse().unwrap(),
            description: "x".into(),
            amount_minor: m,
            source: "manual".into(),
        }
    }

    #[test]
    fn add_checks_account_and_service_owner() {
        let s = setup();
        let a = Actor::test();
        assert!(add(&s.conn, &a, &nc("A1", Some("0111"), "2026-11-01", 500), "x").is_ok());
        let e = add(&s.conn, &a, &nc("A9", None, "2026-11-01", 500), "x").unwrap_err();
        assert!(e.to_string().contains("unknown account"), "{e}");
        let e = add(&s.conn, &a, &nc("A2", Some("0111"), "2026-11-01", 500), "x").unwrap_err();
        assert!(e.to_string().contains("belongs to account A1"), "{e}");
        let e = add(&s.conn, &a, &nc("A1", Some("999"), "2026-11-01", 500), "x").unwrap_err();
        assert!(e.to_string().contains("unknown service"), "{e}");
    }

    #[test]
    fn unbilled_for_cutoff_and_mark_billed_once() {
        let s = setup();
        let a = Actor::test();
        let c1 = add(&s.conn, &a, &nc("A1", None, "2026-11-30", -1000), "x").unwrap();
        add(&s.conn, &a, &nc("A1", None, "2026-12-01", 500), "x").unwrap();
        let cutoff = "2026-11-30".parse().unwrap();
        let v = unbilled_for(&s.conn, "A1", cutoff).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].amount_minor, -1000);
        s.conn
            .execute_batch(
                "INSERT INTO runs (id, name, cycle, status, created_at) VALUES (1, 'r', 'monthly', 'running', 'x');
                 INSERT INTO invoices (id, run_id, number, seq, account, invoice_date, due_date, cutoff_date, currency,
                   opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor, total_charges_minor,
                   amount_due_minor, delivery, payment_method, created_at)
                 VALUES (9, 1, 'INV1', 1, 'A1', '2026-12-01', '2026-12-15', '2026-11-30', 'GBP', 0, 0, 0, 0, 0, 0, 'print', 'manual', 'x');",
            )
            .unwrap();
        assert_eq!(mark_billed(&s.conn, &[c1], 9).unwrap(), 1);
        assert_eq!(mark_billed(&s.conn, &[c1], 9).unwrap(), 0);
        assert!(unbilled_for(&s.conn, "A1", cutoff).unwrap().is_empty());
        let e = remove(&s.conn, &a, c1).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(list(&s.conn, Some("A1"), true).unwrap().len(), 1);
    }
}
