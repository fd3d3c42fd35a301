//! Xero export records: which invoices went into which import file.

use super::audit::{self, Actor};
use crate::domain::checklist::InvoiceFacts;
use crate::domain::money;
use crate::domain::xero::{Invoice, Line};
use crate::error::Result;
use rusqlite::{Connection, params};

/// The run's invoices as the Xero template needs them, in number order, each
/// with whether it was exported before.
pub fn invoices(conn: &Connection, run_id: i64) -> Result<Vec<(Invoice, bool)>> {
    let mut st = conn.prepare(
        "SELECT i.id, i.number, i.account, c.name, c.email, c.address1, c.address2, c.town,
                c.region, c.postcode, i.invoice_date, i.due_date, i.currency,
                i.total_charges_minor, i.tax_minor,
                EXISTS (SELECT 1 FROM xero_exports x WHERE x.invoice_id = i.id)
         FROM invoices i JOIN customers c ON c.account = i.account
         WHERE i.run_id = ?1 ORDER BY i.seq",
    )?;
    let rows: Vec<(Invoice, bool)> = st
        .query_map([run_id], |r| {
            let date = |i: usize| -> rusqlite::Result<chrono::NaiveDate> {
                let s: String = r.get(i)?;
                s.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        i,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })
            };
            let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
            Ok((
                Invoice {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    account: r.get(2)?,
                    contact_name: r.get(3)?,
                    email: blank(r.get(4)?),
                    address1: blank(r.get(5)?),
                    address2: blank(r.get(6)?),
                    town: blank(r.get(7)?),
                    region: blank(r.get(8)?),
                    postcode: blank(r.get(9)?),
                    invoice_date: date(10)?,
                    due_date: date(11)?,
                    currency: r.get(12)?,
                    total_charges: money::from_minor(r.get(13)?),
                    tax: money::from_minor(r.get(14)?),
                    lines: Vec::new(),
                },
                r.get(15)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut lines = conn.prepare(
        "SELECT service, description, amount_minor, taxable FROM invoice_lines
         WHERE invoice_id = ?1 ORDER BY position, id",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (mut inv, exported) in rows {
        inv.lines = lines
            .query_map([inv.id], |r| {
                Ok(Line {
                    service: r.get(0)?,
                    description: r.get(1)?,
                    amount: money::from_minor(r.get(2)?),
                    taxable: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        out.push((inv, exported));
    }
    Ok(out)
}

/// Record that these invoices were written to `file` at `now` (audited). Call
/// inside a write transaction.
pub fn record(
    conn: &Connection,
    actor: &Actor,
    run_id: i64,
    file: &str,
    invoices: &[(i64, &str)],
    now: &str,
) -> Result<()> {
    {
        let mut ins = conn.prepare(
            "INSERT INTO xero_exports (invoice_id, file, exported_at, operator)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (id, _) in invoices {
            ins.execute(params![id, file, now, actor.operator])?;
        }
    }
    let first = invoices.first().map(|i| i.1).unwrap_or("");
    let last = invoices.last().map(|i| i.1).unwrap_or("");
    audit::log(
        conn,
        actor,
        Some(run_id),
        "xero export",
        &format!("{} invoices ({first}…{last}) to {file}", invoices.len()),
    )?;
    Ok(())
}

/// The credit notes crediting the run's invoices as the Xero credit-note
/// template needs them, in number order, each with whether it was exported.
pub fn credit_notes(
    conn: &Connection,
    run_id: i64,
) -> Result<Vec<(crate::domain::xero::CreditNote, bool)>> {
    as_xero(conn, super::credits::list(conn, Some(run_id))?)
}

/// The credit notes `xero push RUN` sends: those crediting the run's
/// invoices and those its invoices brought forward, in number order.
pub fn credit_notes_to_push(
    conn: &Connection,
    run_id: i64,
) -> Result<Vec<crate::domain::xero::CreditNote>> {
    Ok(as_xero(conn, super::credits::for_postbill(conn, run_id)?)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

fn as_xero(
    conn: &Connection,
    notes: Vec<super::credits::CreditNote>,
) -> Result<Vec<(crate::domain::xero::CreditNote, bool)>> {
    let mut out = Vec::with_capacity(notes.len());
    for n in notes {
        let f: Vec<Option<String>> = conn.query_row(
            "SELECT email, address1, address2, town, region, postcode FROM customers WHERE account = ?1",
            [&n.account],
            |r| (0..6).map(|i| r.get(i)).collect(),
        )?;
        let [email, a1, a2, town, region, postcode]: [Option<String>; 6] =
            f.try_into().unwrap_or_default();
        let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let exported: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM xero_credit_exports WHERE credit_note_id = ?1)",
            [n.id],
            |r| r.get(0),
        )?;
        let date = |s: &str| {
            s.parse::<chrono::NaiveDate>().map_err(|e| {
                crate::error::bad_input(format!("credit note {}: stored date '{s}': {e}", n.number))
            })
        };
        let lines = super::credits::lines(conn, n.id)?
            .into_iter()
            .map(|l| Line {
                service: l.service,
                description: l.description,
                amount: money::from_minor(l.amount_minor),
                taxable: n.tax_minor != 0,
            })
            .collect();
        out.push((
            crate::domain::xero::CreditNote {
                id: n.id,
                number: n.number.clone(),
                invoice: n.invoice.clone(),
                date: date(&n.credit_date)?,
                tax: money::from_minor(n.tax_minor),
                contact: Invoice {
                    id: n.invoice_id,
                    number: n.invoice.clone(),
                    account: n.account.clone(),
                    contact_name: n.name.clone(),
                    email: blank(email),
                    address1: blank(a1),
                    address2: blank(a2),
                    town: blank(town),
                    region: blank(region),
                    postcode: blank(postcode),
                    invoice_date: date(&n.invoice_date)?,
                    due_date: date(&n.credit_date)?,
                    currency: n.currency.clone(),
                    total_charges: money::from_minor(n.total_minor),
                    tax: money::from_minor(n.tax_minor),
                    lines,
                },
            },
            exported,
        ));
    }
    Ok(out)
}

/// Record that these credit notes were written to `file` at `now` (audited).
pub fn record_credits(
    conn: &Connection,
    actor: &Actor,
    run_id: i64,
    file: &str,
    notes: &[(i64, &str)],
    now: &str,
) -> Result<()> {
    let mut ins = conn.prepare(
        "INSERT INTO xero_credit_exports (credit_note_id, file, exported_at) VALUES (?1, ?2, ?3)",
    )?;
    for (id, _) in notes {
        ins.execute(params![id, file, now])?;
    }
    let first = notes.first().map(|i| i.1).unwrap_or("");
    let last = notes.last().map(|i| i.1).unwrap_or("");
    audit::log(
        conn,
        actor,
        Some(run_id),
        "xero export",
        &format!("{} credit notes ({first}…{last}) to {file}", notes.len()),
    )?;
    Ok(())
}

/// The checklist's Xero fact: invoices Xero accepts (new charges above zero)
/// not yet exported. Zero and negative invoices never count.
pub fn fill_facts(conn: &Connection, run_id: i64, f: &mut InvoiceFacts) -> Result<()> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM invoices i
         WHERE i.run_id = ?1 AND i.total_charges_minor > 0
           AND NOT EXISTS (SELECT 1 FROM xero_exports x WHERE x.invoice_id = i.id)",
        [run_id],
        |r| r.get(0),
    )?;
    f.xero_unsent = n as u64;
    // The credit notes `xero export RUN` writes: those crediting the run's
    // invoices, not yet in a credit-note file.
    let credits: i64 = conn.query_row(
        "SELECT COUNT(*) FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id
         WHERE i.run_id = ?1
           AND NOT EXISTS (SELECT 1 FROM xero_credit_exports x WHERE x.credit_note_id = n.id)",
        [run_id],
        |r| r.get(0),
    )?;
    f.xero_credits_unsent = credits as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::email::seed;

    #[test]
    fn export_records_resolve_the_fact() {
        let s = Store::memory().unwrap();
        seed::run(&s);
        let a = seed::invoice(&s, 1, "C1", "email", 1200);
        seed::invoice(&s, 2, "C2", "both", 0);
        seed::invoice(&s, 3, "C3", "print", -600);
        let mut f = InvoiceFacts::default();
        fill_facts(&s.conn, 1, &mut f).unwrap();
        assert_eq!(f.xero_unsent, 1, "zero and negative invoices never count");

        let all = invoices(&s.conn, 1).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].0.contact_name, "One Ltd");
        assert_eq!(all[0].0.lines.len(), 1);
        assert_eq!(all[0].0.lines[0].amount.to_string(), "10.00");
        assert!(!all[0].1);

        record(&s.conn, &Actor::test(), 1, "x.csv", &[(a, "INV-1")], "now").unwrap();
        fill_facts(&s.conn, 1, &mut f).unwrap();
        assert_eq!(f.xero_unsent, 0);
        assert!(invoices(&s.conn, 1).unwrap()[0].1);
    }
}
