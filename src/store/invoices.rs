//! Produced invoices: the read model for listings, `invoices show`, PDFs,
//! the post-billing report and print bundles.

pub use crate::domain::invoice::{Call, IssuedLine as Line, UsageGroup};
use crate::error::{Result, bad_input};
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: i64,
    pub run_id: i64,
    pub number: String,
    pub seq: i64,
    pub account: String,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub cutoff_date: NaiveDate,
    pub currency: String,
    pub opening_balance_minor: i64,
    pub payments_minor: i64,
    /// Credit notes brought forward (total, positive).
    pub credits_minor: i64,
    pub charges_ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_charges_minor: i64,
    pub amount_due_minor: i64,
    /// Payments received since the cutoff, recorded by production (net).
    pub received_since_minor: i64,
    /// What the invoice asks to be collected; collection takes at most this.
    pub to_collect_minor: i64,
    pub message: String,
    pub delivery: String,
    pub payment_method: String,
    pub pdf_path: Option<String>,
    /// The recorded SHA-256 of the PDF (production checks it on resume).
    #[cfg(test)]
    pub pdf_sha256: Option<String>,
    /// The itemised-calls file beside the PDF (`domain::itemised`), if any.
    pub calls_path: Option<String>,
    /// Customer details at the time of reading.
    pub name: String,
    pub address: Vec<String>,
    pub postcode: String,
    pub printed: bool,
}

const COLS: &str = "i.id, i.run_id, i.number, i.seq, i.account, i.invoice_date, i.due_date,
    i.cutoff_date, i.currency, i.opening_balance_minor, i.payments_minor,
    i.charges_ex_tax_minor, i.tax_minor, i.total_charges_minor, i.amount_due_minor,
    i.message, i.delivery, i.payment_method, i.pdf_path, i.pdf_sha256,
    c.name, c.email, c.address1, c.address2, c.town, c.region, c.postcode,
    EXISTS (SELECT 1 FROM print_items p WHERE p.invoice_id = i.id),
    i.received_since_minor, COALESCE(i.to_collect_minor, MAX(0, i.amount_due_minor)),
    i.calls_path, i.credits_minor";

fn date(r: &Row<'_>, i: usize) -> rusqlite::Result<NaiveDate> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<Invoice> {
    let address: Vec<String> = (22..=25)
        .filter_map(|i| r.get::<_, Option<String>>(i).ok().flatten())
        .filter(|s| !s.trim().is_empty())
        .collect();
    Ok(Invoice {
        id: r.get(0)?,
        run_id: r.get(1)?,
        number: r.get(2)?,
        seq: r.get(3)?,
        account: r.get(4)?,
        invoice_date: date(r, 5)?,
        due_date: date(r, 6)?,
        cutoff_date: date(r, 7)?,
        currency: r.get(8)?,
        opening_balance_minor: r.get(9)?,
        payments_minor: r.get(10)?,
        charges_ex_tax_minor: r.get(11)?,
        tax_minor: r.get(12)?,
        total_charges_minor: r.get(13)?,
        amount_due_minor: r.get(14)?,
        message: r.get(15)?,
        delivery: r.get(16)?,
        payment_method: r.get(17)?,
        pdf_path: r.get(18)?,
        #[cfg(test)]
        pdf_sha256: r.get(19)?,
        name: r.get(20)?,
        address,
        postcode: r.get::<_, Option<String>>(26)?.unwrap_or_default(),
        printed: r.get(27)?,
        received_since_minor: r.get(28)?,
        to_collect_minor: r.get(29)?,
        calls_path: r.get(30)?,
        credits_minor: r.get(31)?,
    })
}

/// Invoices of a run (or all), in number order.
pub fn list(conn: &Connection, run_id: Option<i64>) -> Result<Vec<Invoice>> {
    let mut out = Vec::new();
    each(conn, run_id, |i| {
        out.push(i);
        Ok::<_, crate::error::Error>(())
    })?;
    Ok(out)
}

/// The invoices of [`list`], handed to `each` one by one as SQLite reads them (`invoices`
/// prints a run of 50,000 without holding it). Stops at `each`'s first
/// error and returns it.
pub fn each<E: From<crate::error::Error>>(
    conn: &Connection,
    run_id: Option<i64>,
    mut each: impl FnMut(Invoice) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let db = |e: rusqlite::Error| E::from(crate::error::Error::from(e));
    let sql = format!(
        "SELECT {COLS} FROM invoices i JOIN customers c ON c.account = i.account
         WHERE ?1 IS NULL OR i.run_id = ?1 ORDER BY i.seq"
    );
    let mut st = conn.prepare(&sql).map_err(db)?;
    let mut rows = st.query([run_id]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        each(row(r).map_err(db)?)?;
    }
    Ok(())
}

pub fn get(conn: &Connection, id: i64) -> Result<Invoice> {
    let sql = format!(
        "SELECT {COLS} FROM invoices i JOIN customers c ON c.account = i.account WHERE i.id = ?1"
    );
    Ok(conn.query_row(&sql, [id], row)?)
}

/// An invoice by its number (`INV000123`).
pub fn by_number(conn: &Connection, number: &str) -> Result<Invoice> {
    let sql = format!(
        "SELECT {COLS} FROM invoices i JOIN customers c ON c.account = i.account WHERE i.number = ?1"
    );
    conn.query_row(&sql, [number], row)
        .optional()?
        .ok_or_else(|| {
            bad_input(format!(
                "no invoice numbered '{number}': list them with billrun invoices RUN"
            ))
        })
}

pub fn lines(conn: &Connection, invoice_id: i64) -> Result<Vec<Line>> {
    let mut st = conn.prepare_cached(
        "SELECT category, service, description, quantity, amount_minor FROM invoice_lines
         WHERE invoice_id = ?1 ORDER BY position",
    )?;
    let rows = st.query_map([invoice_id], |r| {
        Ok(Line {
            category: r.get(0)?,
            service: r.get(1)?,
            description: r.get(2)?,
            quantity: r.get(3)?,
            amount_minor: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The itemised usage an invoice billed, by service and time (for an
/// invoice whose calls are printed: at most `invoice.itemise_max_lines`).
pub fn calls(conn: &Connection, invoice_id: i64) -> Result<Vec<Call>> {
    let mut out = Vec::new();
    each_call(conn, invoice_id, |c| {
        out.push(c);
        Ok(())
    })?;
    Ok(out)
}

/// How many calls an invoice billed.
pub fn call_count(conn: &Connection, invoice_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM cdrs WHERE invoice_id = ?1")?
        .query_row([invoice_id], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Hand `f` each call an invoice billed, by service and time, one row at a
/// time: memory does not grow with the number of calls (SQLite sorts a
/// large result in temporary files). Returns how many there were.
pub fn each_call(
    conn: &Connection,
    invoice_id: i64,
    mut f: impl FnMut(Call) -> Result<()>,
) -> Result<u64> {
    let mut st = conn.prepare_cached(
        "SELECT c.service, c.start, c.destination, c.rate_id, c.call_type,
                c.units, COALESCE(c.charged_minor, c.charge_minor)
         FROM cdrs c
         WHERE c.invoice_id = ?1 ORDER BY c.service, c.start, c.id",
    )?;
    // A rate's description, looked up once per invoice (an invoice's calls
    // use a handful of rates; a join looked it up for every call). A rate
    // that is gone or has none reads as "" (as the LEFT JOIN did).
    let mut rate = conn.prepare_cached("SELECT description FROM rates WHERE id = ?1")?;
    let mut descriptions: HashMap<i64, String> = HashMap::new();
    let mut rows = st.query([invoice_id])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let start: i64 = r.get(1)?;
        let description = match r.get::<_, Option<i64>>(3)? {
            None => String::new(),
            Some(id) => match descriptions.get(&id) {
                Some(d) => d.clone(),
                None => {
                    let d: String = rate
                        .query_row([id], |r| r.get::<_, Option<String>>(0))
                        .optional()?
                        .flatten()
                        .unwrap_or_default();
                    descriptions.insert(id, d.clone());
                    d
                }
            },
        };
        f(Call {
            service: r.get(0)?,
            start: crate::domain::cdrs::from_start_secs(start)
                .ok_or(rusqlite::Error::IntegralValueOutOfRange(1, start))?,
            destination: r.get(2)?,
            description,
            call_type: super::cdrs::code::call_type_name(r.get(4)?, 4)?,
            units: r.get(5)?,
            charge_minor: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
        })?;
        n += 1;
    }
    Ok(n)
}

/// An invoice's calls summed per service, call type and destination
/// description: the groups its usage lines were made of.
pub fn usage_summary(conn: &Connection, invoice_id: i64) -> Result<Vec<UsageGroup>> {
    let mut st = conn.prepare_cached(
        "SELECT c.service, c.call_type, COALESCE(r.description, ''), COUNT(*),
                SUM(c.units), SUM(COALESCE(c.charged_minor, c.charge_minor))
         FROM cdrs c LEFT JOIN rates r ON r.id = c.rate_id
         WHERE c.invoice_id = ?1
         GROUP BY c.service, c.call_type, COALESCE(r.description, '')
         ORDER BY c.service, c.call_type, COALESCE(r.description, '')",
    )?;
    let rows = st.query_map([invoice_id], |r| {
        Ok(UsageGroup {
            service: r.get(0)?,
            call_type: super::cdrs::code::call_type_name(r.get(1)?, 1)?,
            description: r.get(2)?,
            count: r.get::<_, i64>(3)?.max(0) as u64,
            units: r.get::<_, i64>(4)?.max(0) as u64,
            amount_minor: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The last `n` invoices of an account before `seq`, newest first:
/// (number, total charges).
pub fn history(conn: &Connection, account: &str, before_seq: i64, n: u32) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached(
        "SELECT total_charges_minor FROM invoices WHERE account = ?1 AND seq < ?2
         ORDER BY seq DESC LIMIT ?3",
    )?;
    let rows = st.query_map(params![account, before_seq, n], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Not produced customers of a run: (account, name, reason, amount).
pub fn not_produced(conn: &Connection, run_id: i64) -> Result<Vec<(String, String, String, i64)>> {
    let mut st = conn.prepare(
        "SELECT n.account, c.name, n.reason, n.amount_minor FROM not_produced n
         JOIN customers c ON c.account = n.account WHERE n.run_id = ?1 ORDER BY n.account",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Invoice counts of a run: (total, with a PDF).
pub fn pdf_progress(conn: &Connection, run_id: i64) -> Result<(u64, u64)> {
    let (t, p): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COUNT(pdf_path) FROM invoices WHERE run_id = ?1",
        [run_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((t as u64, p as u64))
}

/// Checklist facts of a run's invoices: total, with a PDF, and for
/// print/both customers not yet in a print bundle.
pub fn facts(conn: &Connection, run_id: i64) -> Result<(u64, u64, u64)> {
    let (t, p, u): (i64, i64, i64) = conn.query_row(
        "SELECT COUNT(*), COUNT(pdf_path),
                COALESCE(SUM(delivery IN ('print', 'both') AND NOT EXISTS
                    (SELECT 1 FROM print_items pi WHERE pi.invoice_id = invoices.id)), 0)
         FROM invoices WHERE run_id = ?1",
        [run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((t as u64, p as u64, u as u64))
}

/// The produced invoices of a run as the post-billing report needs them.
pub fn for_postbill(
    conn: &Connection,
    run_id: i64,
) -> Result<Vec<crate::domain::postbill::Produced>> {
    let mut by_cat: std::collections::HashMap<i64, Vec<(String, i64)>> = Default::default();
    {
        let mut st = conn.prepare(
            "SELECT l.invoice_id, l.category, SUM(l.amount_minor) FROM invoice_lines l
             JOIN invoices i ON i.id = l.invoice_id WHERE i.run_id = ?1
             GROUP BY l.invoice_id, l.category",
        )?;
        for r in st.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
            let (id, c, m): (i64, String, i64) = r?;
            by_cat.entry(id).or_default().push((c, m));
        }
    }
    list(conn, Some(run_id))?
        .into_iter()
        .map(|i| {
            Ok(crate::domain::postbill::Produced {
                history: history(conn, &i.account, i.seq, 3)?,
                by_category: by_cat.remove(&i.id).unwrap_or_default(),
                number: i.number,
                account: i.account,
                name: i.name,
                delivery: i.delivery,
                payment_method: i.payment_method,
                charges_ex_tax_minor: i.charges_ex_tax_minor,
                tax_minor: i.tax_minor,
                total_minor: i.total_charges_minor,
                opening_balance_minor: i.opening_balance_minor,
                payments_minor: i.payments_minor,
            })
        })
        .collect()
}

/// Of the items of a payment run, (invoice id, amount collected), those
/// that collect less than their invoice stated (`to_collect_minor`), for
/// the collect report.
pub fn collected_less(
    conn: &Connection,
    items: impl IntoIterator<Item = (i64, i64)>,
) -> Result<Vec<crate::domain::invoice::CollectedLess>> {
    let mut st = conn.prepare_cached(
        "SELECT number, COALESCE(to_collect_minor, MAX(0, amount_due_minor)) FROM invoices
         WHERE id = ?1",
    )?;
    let mut out = Vec::new();
    for (id, amount) in items {
        let (number, stated): (String, i64) = st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if amount < stated {
            out.push(crate::domain::invoice::CollectedLess {
                invoice: number,
                stated: crate::domain::money::fmt_minor(stated),
                collecting: crate::domain::money::fmt_minor(amount),
            });
        }
    }
    Ok(out)
}

/// A run's key figures: (invoices, total charges, amount due).
pub fn run_totals(conn: &Connection, run_id: i64) -> Result<(u64, i64, i64)> {
    let (n, t, d): (i64, i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(total_charges_minor), 0), COALESCE(SUM(amount_due_minor), 0)
         FROM invoices WHERE run_id = ?1",
        [run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((n as u64, t, d))
}
