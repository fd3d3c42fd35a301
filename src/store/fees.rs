//! Wholesale fixed fees (docs/rating.md#wholesale-fixed-fees): fee files, fee lines, fee codes, fee
//! errors (`fee_unknown_service`, `fee_unknown_code` in `billing_errors`),
//! re-matching, and the read API production uses.

use super::audit::{self, Actor};
use crate::domain::fees::{self, FeeRow, Match, Reference};
use crate::error::{Result, bad_input};
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;
use std::str::FromStr;

/// What matching needs: every service with its account, and the known fee
/// codes (plan codes and registered codes).
pub fn reference(conn: &Connection) -> Result<Reference> {
    let mut r = Reference::default();
    let mut st = conn.prepare("SELECT service, account FROM services")?;
    for x in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (s, a) = x?;
        r.services.insert(s, a);
    }
    let mut st = conn.prepare("SELECT plan FROM plans UNION SELECT code FROM fee_codes")?;
    for c in st.query_map([], |r| r.get::<_, String>(0))? {
        r.codes.insert(c?);
    }
    Ok(r)
}

/// The outcome of a fee file import.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub file_id: i64,
    pub lines: u64,
    pub matched: u64,
    pub fee_unknown_service: u64,
    pub fee_unknown_code: u64,
}

/// A fee file being imported.
#[derive(Debug, Clone, Copy)]
pub struct FeeFile<'a> {
    /// The carrier that sent it.
    pub carrier: &'a str,
    /// Its name as the operator gave it.
    pub name: &'a str,
    pub sha256: &'a str,
    /// As stored in `imported_at` (RFC 3339, UTC).
    pub imported_at: &'a str,
}

/// Store a parsed fee file once (by SHA-256) and match every line. Call
/// inside a write transaction. A known file or unknown carrier is bad input.
pub fn import(
    conn: &Connection,
    actor: &Actor,
    file: &FeeFile<'_>,
    rows: &[FeeRow],
) -> Result<Imported> {
    let FeeFile {
        carrier,
        name,
        sha256,
        imported_at: now,
    } = *file;
    let known_carrier = conn
        .query_row("SELECT 1 FROM carriers WHERE name = ?1", [carrier], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    if !known_carrier {
        return Err(bad_input(format!(
            "--carrier: unknown carrier '{carrier}' (see `billrun carriers list`)"
        )));
    }
    let earlier: Option<(i64, String, String)> = conn
        .query_row(
            "SELECT id, name, imported_at FROM fee_files WHERE sha256 = ?1",
            [sha256],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((id, n, at)) = earlier {
        return Err(bad_input(format!(
            "{name}: this file was already imported (fee file #{id} '{n}', {at}); nothing was changed"
        )));
    }
    // A fee line already imported from another file, or repeated within
    // this one (same service, code, period and amount: `FeeRow::same_fee`),
    // would be billed twice: refuse the file, naming every such line.
    let mut copies = Vec::new();
    {
        let mut st = conn.prepare_cached(
            "SELECT f.line, ff.name, f.amount FROM fees f JOIN fee_files ff ON ff.id = f.file_id
             WHERE f.service = ?1 AND f.fee_code = ?2 AND f.period_start = ?3
               AND f.period_end = ?4 ORDER BY f.id",
        )?;
        let within: std::collections::HashMap<u64, u64> =
            fees::repeated_within(rows).into_iter().collect();
        for f in rows {
            let candidates: Vec<(i64, String, String)> = st
                .query_map(
                    params![
                        f.service,
                        f.fee_code,
                        f.period_start.to_string(),
                        f.period_end.to_string(),
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
                .collect::<Result<_, _>>()?;
            // Amounts compared as numbers: `10.0` in one file is `10.00` in another.
            let hit = candidates.into_iter().find(|(_, _, a)| {
                Decimal::from_str(a).is_ok_and(|a| {
                    f.same_fee(&f.service, &f.fee_code, f.period_start, f.period_end, a)
                })
            });
            let what = format!(
                "{name}:{}: the same fee line ({} {} {} to {}, {})",
                f.line, f.service, f.fee_code, f.period_start, f.period_end, f.amount
            );
            if let Some((line, other, _)) = hit {
                copies.push(format!("{what} was imported from {other} line {line}"));
            } else if let Some(earlier) = within.get(&f.line) {
                copies.push(format!("{what} is already on line {earlier} of this file"));
            }
        }
    }
    if !copies.is_empty() {
        return Err(bad_input(format!(
            "{}\n{} fee line{} would be billed twice; nothing was changed (remove the repeated lines from the file, or ask the carrier for a file of new lines only)",
            copies.join("\n"),
            copies.len(),
            if copies.len() == 1 { "" } else { "s" }
        )));
    }
    conn.execute(
        "INSERT INTO fee_files (carrier, name, sha256, lines, imported_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![carrier, name, sha256, rows.len() as i64, now],
    )?;
    let file_id = conn.last_insert_rowid();
    let refs = reference(conn)?;
    let mut out = Imported {
        file_id,
        lines: rows.len() as u64,
        matched: 0,
        fee_unknown_service: 0,
        fee_unknown_code: 0,
    };
    for f in rows {
        let m = fees::match_line(&refs, &f.service, &f.fee_code);
        let (state, account) = match &m {
            Match::Account(a) => ("matched", Some(a.as_str())),
            Match::Error(..) => ("error", None),
        };
        conn.execute(
            "INSERT INTO fees (file_id, line, service, fee_code, description, amount, period_start, period_end, state, account)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                file_id,
                f.line as i64,
                f.service,
                f.fee_code,
                f.description,
                f.amount.to_string(),
                f.period_start.to_string(),
                f.period_end.to_string(),
                state,
                account
            ],
        )?;
        let fee_id = conn.last_insert_rowid();
        match m {
            Match::Account(_) => out.matched += 1,
            Match::Error(kind, detail) => {
                if kind == "fee_unknown_service" {
                    out.fee_unknown_service += 1;
                } else {
                    out.fee_unknown_code += 1;
                }
                conn.execute(
                    "INSERT INTO billing_errors (kind, fee_id, file_id, line, service, start, carrier_cost, detail, raw, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        kind,
                        fee_id,
                        file_id,
                        f.line as i64,
                        f.service,
                        f.period_start.to_string(),
                        f.amount.to_string(),
                        detail,
                        f.raw,
                        now
                    ],
                )?;
            }
        }
    }
    audit::log(
        conn,
        actor,
        None,
        "fees import",
        &format!(
            "{name} ({carrier}): {} lines, {} matched, {} fee_unknown_service, {} fee_unknown_code",
            out.lines, out.matched, out.fee_unknown_service, out.fee_unknown_code
        ),
    )?;
    Ok(out)
}

/// The result of [`rematch_open`].
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Rematched {
    pub resolved: u64,
    pub still_open: u64,
}

/// Re-match every open fee error against today's reference data (after the
/// operator adds the missing service or registers the fee code): a line that
/// now matches becomes `matched` with its account and its error `resolved`;
/// one that still fails stays open, its kind and detail updated (adding the
/// service can reveal an unknown code). Call inside a write transaction;
/// `errors rerate` calls it.
pub fn rematch_open(conn: &Connection, actor: &Actor) -> Result<Rematched> {
    let refs = reference(conn)?;
    let open: Vec<(i64, i64, String, String, String)> = {
        let mut st = conn.prepare(
            "SELECT e.id, f.id, f.service, f.fee_code, e.kind FROM billing_errors e JOIN fees f ON f.id = e.fee_id
             WHERE e.state = 'open' AND e.kind IN ('fee_unknown_service', 'fee_unknown_code') ORDER BY e.id",
        )?;
        st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let now = actor.stamp();
    let mut out = Rematched::default();
    for (err_id, fee_id, service, code, kind) in open {
        match fees::match_line(&refs, &service, &code) {
            Match::Account(a) => {
                conn.execute(
                    "UPDATE fees SET state = 'matched', account = ?1 WHERE id = ?2",
                    params![a, fee_id],
                )?;
                conn.execute(
                    "UPDATE billing_errors SET state = 'resolved', closed_at = ?1, closed_by = ?2 WHERE id = ?3",
                    params![now, actor.operator, err_id],
                )?;
                out.resolved += 1;
            }
            Match::Error(k, detail) => {
                if k != kind {
                    conn.execute(
                        "UPDATE billing_errors SET kind = ?1, detail = ?2 WHERE id = ?3",
                        params![k, detail, err_id],
                    )?;
                }
                out.still_open += 1;
            }
        }
    }
    if out.resolved > 0 {
        audit::log(
            conn,
            actor,
            None,
            "fees rematch",
            &format!(
                "{} fee errors resolved, {} still open",
                out.resolved, out.still_open
            ),
        )?;
    }
    Ok(out)
}

/// Open fee errors (the `check_fee_errors` step).
pub fn open_errors(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM billing_errors WHERE state = 'open'
         AND kind IN ('fee_unknown_service', 'fee_unknown_code')",
        [],
        |r| r.get(0),
    )?)
}

/// Register a fee code (upsert of its description) at `now` (RFC 3339, UTC).
pub fn add_code(
    conn: &Connection,
    actor: &Actor,
    code: &str,
    description: &str,
    now: &str,
) -> Result<()> {
    let code = code.trim();
    if code.is_empty() {
        return Err(bad_input("CODE must not be empty"));
    }
    conn.execute(
        "INSERT INTO fee_codes (code, description, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(code) DO UPDATE SET description = excluded.description",
        params![code, description.trim(), now],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "fees codes add",
        &format!("{code}: {}", description.trim()),
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Code {
    pub code: String,
    pub description: String,
    /// `plan` (a plan code) or `registered`.
    pub source: String,
}

/// Every known fee code: plan codes, then registered codes.
pub fn list_codes(conn: &Connection) -> Result<Vec<Code>> {
    let mut st = conn.prepare(
        "SELECT plan, name, 'plan' FROM plans
         UNION ALL SELECT code, description, 'registered' FROM fee_codes WHERE code NOT IN (SELECT plan FROM plans)
         ORDER BY 3, 1",
    )?;
    let v = st
        .query_map([], |r| {
            Ok(Code {
                code: r.get(0)?,
                description: r.get(1)?,
                source: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// A wholesale fee line. `amount` is the carrier's cost, unrounded; the
/// charge is `domain::fees::wholesale_charge(amount, fees.markup_percent)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeeLine {
    pub id: i64,
    pub file_id: i64,
    pub line: u64,
    pub service: String,
    pub fee_code: String,
    pub description: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// matched | error
    pub state: String,
    pub account: Option<String>,
    pub invoice_id: Option<i64>,
}

const COLS: &str = "id, file_id, line, service, fee_code, description, amount, period_start, period_end, state, account, invoice_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeeLine> {
    let amount: String = r.get(6)?;
    let ps: String = r.get(7)?;
    let pe: String = r.get(8)?;
    Ok(FeeLine {
        id: r.get(0)?,
        file_id: r.get(1)?,
        line: r.get(2)?,
        service: r.get(3)?,
        fee_code: r.get(4)?,
        description: r.get(5)?,
        amount: Decimal::from_str(&amount).unwrap_or_default(),
        period_start: ps.parse().unwrap_or_default(),
        period_end: pe.parse().unwrap_or_default(),
        state: r.get(9)?,
        account: r.get(10)?,
        invoice_id: r.get(11)?,
    })
}

/// Fee lines, optionally one account's, optionally unbilled matched ones only.
pub fn list(conn: &Connection, account: Option<&str>, unbilled: bool) -> Result<Vec<FeeLine>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM fees
         WHERE (?1 IS NULL OR account = ?1) AND (?2 = 0 OR (invoice_id IS NULL AND state = 'matched'))
         ORDER BY file_id, line"
    ))?;
    let v = st
        .query_map(params![account, unbilled], row)?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// For production: the account's matched, unbilled fee lines whose
/// `period_end` is on or before `cutoff` (a fee is billed once the period it
/// pays for has ended by the cutoff, like usage; a line for a period that
/// runs past the cutoff waits for a later run). Oldest period first.
#[cfg(test)]
pub fn unbilled_for(conn: &Connection, account: &str, cutoff: NaiveDate) -> Result<Vec<FeeLine>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM fees WHERE account = ?1 AND state = 'matched' AND invoice_id IS NULL
           AND period_end <= ?2 ORDER BY period_start, id"
    ))?;
    let v = st
        .query_map(params![account, cutoff.to_string()], row)?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Mark fee lines billed by an invoice (production, inside its transaction).
/// Only matched, unbilled lines are touched; returns how many were marked.
pub fn mark_billed(conn: &Connection, ids: &[i64], invoice_id: i64) -> Result<usize> {
    super::mark_invoiced(conn, "fees", "AND state = 'matched'", ids, invoice_id)
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
                   VALUES ('A1', 'One', 'print', 'manual', 'x');
                 INSERT INTO plans VALUES ('BIZ', 'Plan', '10', 'T');
                 INSERT INTO services (service, account, plan, start_date) VALUES ('0111', 'A1', 'BIZ', '2026-01-01');
                 INSERT INTO carriers (name, format, created_at) VALUES ('acme', 'billrun', 'x');",
            )
            .unwrap();
        s
    }

    fn rows() -> Vec<FeeRow> {
        let f = "service,fee_code,description,amount,period_start,period_end\n\
0111,BIZ,Line,10.00,2026-11-01,2026-11-30\n\
0222,BIZ,Line,5.00,2026-11-01,2026-11-30\n\
0111,PORT,Port fee,2.50,2026-11-01,2026-11-30\n\
0111,BIZ,Line Dec,10.00,2026-12-01,2026-12-31\n";
        fees::parse("f.csv", f.as_bytes()).unwrap()
    }

    #[test]
    fn import_matches_and_records_errors_then_rematch_resolves() {
        let s = setup();
        let a = Actor::test();
        let file = |carrier, name, sha256| FeeFile {
            carrier,
            name,
            sha256,
            imported_at: "x",
        };
        let r = import(&s.conn, &a, &file("acme", "f.csv", "abc"), &rows()).unwrap();
        assert_eq!(
            (r.matched, r.fee_unknown_service, r.fee_unknown_code),
            (2, 1, 1)
        );
        assert_eq!(open_errors(&s.conn).unwrap(), 2);
        let e = import(&s.conn, &a, &file("acme", "f2.csv", "abc"), &rows()).unwrap_err();
        assert!(e.to_string().contains("already imported"), "{e}");
        let e = import(&s.conn, &a, &file("nope", "f3.csv", "def"), &rows()).unwrap_err();
        assert!(e.to_string().contains("unknown carrier"), "{e}");

        let cutoff = "2026-11-30".parse().unwrap();
        let v = unbilled_for(&s.conn, "A1", cutoff).unwrap();
        assert_eq!(v.len(), 1, "the December line waits");
        assert_eq!(v[0].amount, Decimal::from(10));

        add_code(&s.conn, &a, "PORT", "Porting", "x").unwrap();
        assert_eq!(
            rematch_open(&s.conn, &a).unwrap(),
            Rematched {
                resolved: 1,
                still_open: 1
            }
        );
        assert_eq!(open_errors(&s.conn).unwrap(), 1);
        assert_eq!(unbilled_for(&s.conn, "A1", cutoff).unwrap().len(), 2);
        // The unknown service appears under the other account's number: add it.
        s.conn
            .execute(
                "INSERT INTO services (service, account, plan, start_date) VALUES ('0222', 'A1', 'BIZ', '2026-01-01')",
                [],
            )
            .unwrap();
        assert_eq!(rematch_open(&s.conn, &a).unwrap().resolved, 1);
        assert_eq!(open_errors(&s.conn).unwrap(), 0);
        let ids: Vec<i64> = unbilled_for(&s.conn, "A1", cutoff)
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids.len(), 3);
    }
}
