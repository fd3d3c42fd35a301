//! What a run bills: gathers each customer's `invoice::Inputs` from the
//! store (rated unbilled CDRs, plan fees, one-off charges, wholesale fees,
//! unallocated payments, the previous invoice) for the pre-billing report
//! and for production. Read-only; production marks what it billed.

use super::{runs::Run, settings};
use crate::domain::fees;
use crate::domain::invoice::{self, Inputs, Item, PlanFee, UsageGroup};
use crate::domain::money::{self, to_minor};
use crate::domain::prebill::{self, CarrierRow, CustomerFacts, Minor, Report};
use crate::domain::prorata;
use crate::error::{Result, precondition};
use chrono::NaiveDate;
use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// A customer billed by a run, with the fields reports and invoices need.
#[derive(Debug, Clone)]
pub struct BillCustomer {
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub delivery: String,
    pub payment_method: String,
    pub has_bank_details: bool,
    pub invoice_message: Option<String>,
    pub postcode: Option<String>,
    /// The previous invoice's total charges and amount due, if any.
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, Copy)]
pub struct Previous {
    pub total_charges_minor: i64,
    pub amount_due_minor: i64,
}

/// Settings the invoice maths needs.
#[derive(Debug, Clone)]
pub struct Terms {
    pub tax_rate: Decimal,
    pub min_amount: Decimal,
    pub markup_percent: Decimal,
    pub wholesale: bool,
}

pub fn terms(conn: &Connection) -> Result<Terms> {
    let dec = |key: &str, default: &str| -> Result<Decimal> {
        let v = settings::get_or(conn, key, default)?;
        money::parse(&v).map_err(|e| {
            precondition(format!(
                "setting {key} = '{v}' is not a number ({e}): fix it with billrun config set {key} VALUE"
            ))
        })
    };
    Ok(Terms {
        tax_rate: dec("tax.rate", "0.20")?,
        min_amount: dec("invoice.min_amount", "0")?,
        markup_percent: dec("fees.markup_percent", "0")?,
        wholesale: settings::get_bool(conn, "features.wholesale_fees")?,
    })
}

/// The cutoff as the exclusive upper bound of stored CDR start times (the
/// first second of the day after; see `domain::cdrs::start_secs`).
pub(crate) fn cutoff_bound(cutoff: NaiveDate) -> i64 {
    crate::domain::cdrs::day_secs(cutoff.succ_opt().unwrap_or(cutoff))
}

/// The customers of the run's cycle, in account order, with their inputs.
pub fn gather(conn: &Connection, run: &Run) -> Result<Vec<(BillCustomer, Inputs)>> {
    let cutoff = run
        .cutoff_date
        .ok_or_else(|| precondition(format!("run {}: set the cutoff date first", run.id)))?;
    let terms = terms(conn)?;
    let bound = cutoff_bound(cutoff);
    let cut = cutoff.to_string();

    let mut customers = Vec::new();
    {
        let mut st = conn.prepare_cached(
            "SELECT c.account, c.name, c.email, c.delivery, c.payment_method,
                    CASE ?2 WHEN 'sepa' THEN COALESCE(c.iban, '') <> ''
                                           AND COALESCE(c.mandate_ref, '') <> ''
                            ELSE COALESCE(c.bank_branch, '') <> ''
                                 AND COALESCE(c.bank_account, '') <> '' END,
                    c.card_token IS NOT NULL AND c.card_token <> '',
                    c.invoice_message, c.postcode, c.tax_exempt, c.min_invoice
             FROM customers c WHERE c.cycle = ?1 ORDER BY c.account",
        )?;
        let dd_format = settings::get_or(conn, "dd.format", "bacs18")?;
        let rows = st.query_map(params![run.cycle, dd_format], |r| {
            let method: String = r.get(4)?;
            let bank: bool = r.get(5)?;
            let card: bool = r.get(6)?;
            Ok((
                BillCustomer {
                    account: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get::<_, Option<String>>(2)?.filter(|e| !e.is_empty()),
                    delivery: r.get(3)?,
                    has_bank_details: match method.as_str() {
                        "direct_debit" => bank,
                        "card" => card,
                        _ => true,
                    },
                    payment_method: method,
                    invoice_message: r.get(7)?,
                    postcode: r.get(8)?,
                    previous: None,
                },
                r.get::<_, bool>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })?;
        for row in rows {
            customers.push(row?);
        }
    }

    // Per-account data, each loaded with one query.
    let mut previous: HashMap<String, Previous> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT i.account, i.total_charges_minor, i.amount_due_minor FROM invoices i
             JOIN (SELECT account, MAX(seq) AS seq FROM invoices WHERE run_id <> ?1 GROUP BY account) m
               ON m.account = i.account AND m.seq = i.seq",
        )?;
        for r in st.query_map([run.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Previous {
                    total_charges_minor: r.get(1)?,
                    amount_due_minor: r.get(2)?,
                },
            ))
        })? {
            let (a, p) = r?;
            previous.insert(a, p);
        }
    }

    let mut usage: HashMap<String, Vec<UsageGroup>> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT s.account, c.service, c.call_type, COALESCE(r.description, ''),
                    COUNT(*), SUM(c.units), SUM(c.charge_minor)
             FROM cdrs c JOIN services s ON s.service = c.service
             LEFT JOIN rates r ON r.id = c.rate_id
             WHERE c.state = 1 AND c.invoice_id IS NULL AND c.start < ?1
             GROUP BY s.account, c.service, c.call_type, COALESCE(r.description, '')",
        )?;
        for r in st.query_map([&bound], |r| {
            Ok((
                r.get::<_, String>(0)?,
                UsageGroup {
                    service: r.get(1)?,
                    call_type: super::cdrs::code::call_type_name(r.get(2)?, 2)?,
                    description: r.get(3)?,
                    count: r.get::<_, i64>(4)? as u64,
                    units: r.get::<_, i64>(5)? as u64,
                    amount_minor: r.get(6)?,
                },
            ))
        })? {
            let (a, u) = r?;
            usage.entry(a).or_default().push(u);
        }
    }

    let mut fees: HashMap<String, Vec<PlanFee>> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT s.account, s.service, p.name, p.monthly_fee, s.start_date, s.end_date,
                    MAX(COALESCE(s.billed_to, ''), COALESCE((SELECT MAX(l.period_end)
                      FROM invoice_lines l WHERE l.service = s.service AND l.category = 'fixed'), ''))
             FROM services s JOIN plans p ON p.plan = s.plan
             ORDER BY s.account, s.service",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        for row in rows {
            let (account, service, plan_name, fee, start, end, last) = row?;
            let last = Some(last).filter(|l| !l.is_empty());
            let date = |s: &str| -> Result<NaiveDate> {
                s.parse().map_err(|_| {
                    precondition(format!("service {service}: stored date '{s}' is invalid"))
                })
            };
            let monthly_fee = money::parse(&fee)
                .map_err(|e| precondition(format!("plan fee '{fee}' is invalid: {e}")))?;
            let span = prorata::span(
                date(&start)?,
                end.as_deref().map(date).transpose()?,
                last.as_deref().map(date).transpose()?,
                cutoff,
            );
            if let Some(span) = span {
                fees.entry(account).or_default().push(PlanFee {
                    service,
                    plan_name,
                    monthly_fee,
                    span,
                });
            }
        }
    }

    let mut one_offs: HashMap<String, Vec<Item>> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT account, id, service, description, amount_minor FROM charges
             WHERE invoice_id IS NULL AND date <= ?1 ORDER BY date, id",
        )?;
        for r in st.query_map([&cut], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Item {
                    id: r.get(1)?,
                    service: r.get(2)?,
                    description: r.get(3)?,
                    amount_minor: r.get(4)?,
                },
            ))
        })? {
            let (a, i) = r?;
            one_offs.entry(a).or_default().push(i);
        }
    }

    let mut wholesale: HashMap<String, Vec<Item>> = HashMap::new();
    if terms.wholesale {
        let mut st = conn.prepare(
            "SELECT account, id, service, description, amount, period_start, period_end FROM fees
             WHERE state = 'matched' AND invoice_id IS NULL AND account IS NOT NULL
               AND period_end <= ?1 ORDER BY service, period_start, id",
        )?;
        let rows = st.query_map([&cut], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        for row in rows {
            let (account, id, service, description, amount, from, to) = row?;
            let cost = money::parse(&amount)
                .map_err(|e| precondition(format!("fee line {id}: amount '{amount}': {e}")))?;
            wholesale.entry(account).or_default().push(Item {
                id,
                service: Some(service),
                description: format!("{description} ({from} to {to})"),
                amount_minor: to_minor(fees::wholesale_charge(cost, terms.markup_percent)),
            });
        }
    }

    let mut payments: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT account, id, amount_minor FROM payments
             WHERE invoice_id IS NULL AND date <= ?1 ORDER BY date, id",
        )?;
        for r in st.query_map(params![cut], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })? {
            let (a, id, m) = r?;
            payments.entry(a).or_default().push((id, m));
        }
    }

    let mut out = Vec::with_capacity(customers.len());
    for (mut c, tax_exempt, min_invoice) in customers {
        let min_amount = match min_invoice.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => money::parse(s).map_err(|e| {
                precondition(format!("customer {}: min_invoice '{s}': {e}", c.account))
            })?,
            None => terms.min_amount,
        };
        c.previous = previous.get(&c.account).copied();
        let inputs = Inputs {
            account: c.account.clone(),
            tax_exempt,
            min_amount,
            opening_balance_minor: c.previous.map_or(0, |p| p.amount_due_minor),
            payments: payments.remove(&c.account).unwrap_or_default(),
            usage: usage.remove(&c.account).unwrap_or_default(),
            plan_fees: fees.remove(&c.account).unwrap_or_default(),
            one_offs: one_offs.remove(&c.account).unwrap_or_default(),
            wholesale: wholesale.remove(&c.account).unwrap_or_default(),
        };
        out.push((c, inputs));
    }
    Ok(out)
}

/// The pre-billing report of a run: computed, nothing changed.
pub fn prebill(conn: &Connection, run: &Run) -> Result<Report<Run>> {
    let terms = terms(conn)?;
    let threshold = money::parse(&settings::get_or(conn, "prebill.change_percent", "50")?)
        .unwrap_or(Decimal::from(50));
    let mut customers = Vec::new();
    for (c, inputs) in gather(conn, run)? {
        let d = invoice::draft(&inputs, terms.tax_rate);
        let facts = CustomerFacts {
            account: c.account.clone(),
            name: c.name.clone(),
            wants_email: c.delivery != "print",
            has_email: c.email.is_some(),
            has_bank_details: c.has_bank_details,
            previous_total_minor: c.previous.map(|p| p.total_charges_minor),
        };
        customers.push(prebill::row(&facts, &d, threshold));
    }
    let totals = prebill::totals(&customers);
    let by_carrier = usage_by_carrier(conn, run)?
        .into_iter()
        .map(|(carrier, cdrs, m)| CarrierRow {
            carrier,
            cdrs,
            usage: Minor(m),
        })
        .collect();
    let (unbilled_cdrs, waiting_cdrs, open_errors) = cdr_counts(conn, run)?;
    Ok(Report {
        run: run.clone(),
        customers,
        totals,
        by_carrier,
        unbilled_cdrs,
        waiting_cdrs,
        open_errors,
    })
}

/// CDR counts for the pre-billing report: of the run's cycle's customers,
/// rated and unbilled up to the cutoff, rated but after the cutoff
/// (waiting); and every open billing error (an error has no customer yet).
pub fn cdr_counts(conn: &Connection, run: &Run) -> Result<(u64, u64, u64)> {
    let bound = run.cutoff_date.map(cutoff_bound).unwrap_or(i64::MIN);
    let (unbilled, waiting): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(c.start < ?1), 0), COALESCE(SUM(c.start >= ?1), 0) FROM cdrs c
         JOIN services s ON s.service = c.service
         JOIN customers cu ON cu.account = s.account AND cu.cycle = ?2
         WHERE c.state = 1 AND c.invoice_id IS NULL",
        params![bound, run.cycle],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let open: i64 = conn.query_row(
        "SELECT COUNT(*) FROM billing_errors WHERE state = 'open'",
        [],
        |r| r.get(0),
    )?;
    Ok((unbilled as u64, waiting as u64, open as u64))
}

/// Usage charges by carrier for the pre-billing report.
pub fn usage_by_carrier(conn: &Connection, run: &Run) -> Result<Vec<(String, u64, i64)>> {
    let bound = run.cutoff_date.map(cutoff_bound).unwrap_or(i64::MIN);
    let mut st = conn.prepare(
        "SELECT f.carrier, COUNT(*), COALESCE(SUM(c.charge_minor), 0)
         FROM cdrs c JOIN cdr_files f ON f.id = c.file_id
         JOIN services s ON s.service = c.service
         JOIN customers cu ON cu.account = s.account AND cu.cycle = ?2
         WHERE c.state = 1 AND c.invoice_id IS NULL AND c.start < ?1
         GROUP BY f.carrier ORDER BY f.carrier",
    )?;
    let rows = st.query_map(params![bound, run.cycle], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
