//! What a run bills, as stored: the rows each customer's `invoice::Inputs`
//! are made of (rated unbilled CDRs, plan fees, one-off charges, wholesale
//! fees, unallocated payments, the previous invoice), for the pre-billing
//! report and for production. Read-only; production marks what it billed.
//! The rules that make inputs of these rows are `domain::billing`'s.

use super::runs::Run;
use crate::domain::billing::{self as rules, CustomerRow, FeeLineRow, PlanFeeRow, Stored};
use crate::domain::invoice::{Inputs, Item, UsageGroup};
use crate::domain::settings::Settings;
use crate::error::{Error, Result, bad_input, precondition};
use chrono::NaiveDate;
use rusqlite::{Connection, params};
use std::collections::HashMap;

pub use crate::domain::billing::{BillCustomer, Previous, Terms};

/// The cutoff as the exclusive upper bound of stored CDR start times (the
/// first second of the day after; see `domain::cdrs::start_secs`).
pub(crate) fn cutoff_bound(cutoff: NaiveDate) -> i64 {
    crate::domain::cdrs::day_secs(cutoff.succ_opt().unwrap_or(cutoff))
}

/// The customers with their inputs, and per carrier what allowances took
/// off its usage.
pub type Gathered = (Vec<(BillCustomer, Inputs)>, HashMap<String, i64>);

/// The customers of the run's cycle, in account order, with their inputs.
pub fn gather_with(
    conn: &Connection,
    run: &Run,
    settings: &Settings,
) -> Result<Vec<(BillCustomer, Inputs)>> {
    Ok(gather(conn, run, settings, false)?.0)
}

/// [`gather_with`] for production: each CDR an allowance covered keeps its
/// outcome for `allowances::record_charged`.
pub fn gather_for_production(
    conn: &Connection,
    run: &Run,
    settings: &Settings,
) -> Result<Vec<(BillCustomer, Inputs)>> {
    Ok(gather(conn, run, settings, true)?.0)
}

/// What the pre-billing report reads: the customers with their inputs, per
/// carrier what allowances took off its usage, the usage by carrier and the
/// CDR counts.
#[derive(Debug)]
pub struct ReportData {
    pub gathered: Vec<(BillCustomer, Inputs)>,
    pub allowance_by_carrier: HashMap<String, i64>,
    /// (carrier, CDRs, usage charges) of the cycle's customers up to the cutoff.
    pub by_carrier: Vec<(String, u64, i64)>,
    /// Rated unbilled CDRs of the cycle's customers up to the cutoff...
    pub unbilled_cdrs: u64,
    /// ...and after it (waiting for a later run).
    pub waiting_cdrs: u64,
    /// Every open billing error (an error has no customer yet).
    pub open_errors: u64,
}

/// [`gather_with`], the usage by carrier and the CDR counts, for the
/// pre-billing report: the unbilled CDRs are read ONCE for all three (they
/// were three passes over every unbilled CDR; issue 16).
/// `read` is told, now and then, how many more CDRs were read.
pub fn gather_report(
    conn: &Connection,
    run: &Run,
    settings: &Settings,
    read: &dyn Fn(u64),
) -> Result<ReportData> {
    let cutoff = cutoff_of(run)?;
    let bound = cutoff_bound(cutoff);
    let scan = match scan_unbilled(conn, bound, Some(&run.cycle), read) {
        Err(Error::Db(e)) if sum_overflowed(&e) => Err(usage_overflow(conn, bound)),
        other => other,
    }?;
    let (gathered, allowance_by_carrier) =
        gather_using(conn, run, settings, false, cutoff, scan.usage)?;
    let open: i64 = conn.query_row(
        "SELECT COUNT(*) FROM billing_errors WHERE state = 'open'",
        [],
        |r| r.get(0),
    )?;
    Ok(ReportData {
        gathered,
        allowance_by_carrier,
        by_carrier: scan.by_carrier,
        unbilled_cdrs: scan.unbilled,
        waiting_cdrs: scan.waiting,
        open_errors: open.max(0) as u64,
    })
}

fn cutoff_of(run: &Run) -> Result<NaiveDate> {
    run.cutoff_date
        .ok_or_else(|| precondition(format!("run {}: set the cutoff date first", run.id)))
}

fn gather(conn: &Connection, run: &Run, settings: &Settings, record: bool) -> Result<Gathered> {
    let cutoff = cutoff_of(run)?;
    let usage = usage(conn, cutoff_bound(cutoff))?;
    gather_using(conn, run, settings, record, cutoff, usage)
}

/// The customers' inputs, given the usage groups of every account.
fn gather_using(
    conn: &Connection,
    run: &Run,
    settings: &Settings,
    record: bool,
    cutoff: NaiveDate,
    mut usage: HashMap<String, Vec<UsageGroup>>,
) -> Result<Gathered> {
    let terms = Terms::from_settings(settings);
    let cut = cutoff.to_string();
    let applied = super::allowances::consume(conn, run, cutoff, cutoff_bound(cutoff), record)?;
    crate::domain::allowance::adjust_usage(&mut usage, &applied.groups).map_err(bad_input)?;
    let stored = Stored {
        customers: customers(conn, &run.cycle)?,
        previous: previous(conn, run.id)?,
        usage,
        plan_fees: plan_fees(conn)?,
        one_offs: one_offs(conn, &cut)?,
        fee_lines: if terms.wholesale {
            fee_lines(conn, &cut)?
        } else {
            Vec::new()
        },
        payments: payments(conn, &cut)?,
        received_since: received_since(conn, &cut)?,
        credits: super::credits::unapplied(conn)?,
        allowances: applied.uses,
    };
    let inputs =
        rules::inputs(stored, cutoff, &terms, &settings.dd.format).map_err(precondition)?;
    Ok((inputs, applied.carriers))
}

/// The customers of `cycle`, in account order.
fn customers(conn: &Connection, cycle: &str) -> Result<Vec<CustomerRow>> {
    let mut st = conn.prepare_cached(
        "SELECT c.account, c.name, c.email, c.delivery, c.payment_method,
                COALESCE(c.iban, '') <> '' AND COALESCE(c.mandate_ref, '') <> '',
                COALESCE(c.bank_branch, '') <> '' AND COALESCE(c.bank_account, '') <> '',
                c.card_token IS NOT NULL AND c.card_token <> '',
                c.invoice_message, c.postcode, c.tax_exempt, c.min_invoice
         FROM customers c WHERE c.cycle = ?1 ORDER BY c.account",
    )?;
    let rows = st.query_map([cycle], |r| {
        Ok(CustomerRow {
            account: r.get(0)?,
            name: r.get(1)?,
            email: r.get(2)?,
            delivery: r.get(3)?,
            payment_method: r.get(4)?,
            has_iban_mandate: r.get(5)?,
            has_branch_account: r.get(6)?,
            has_card: r.get(7)?,
            invoice_message: r.get(8)?,
            tax_exempt: r.get(10)?,
            min_invoice: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Each account's latest invoice of another run.
fn previous(conn: &Connection, run_id: i64) -> Result<HashMap<String, Previous>> {
    let mut st = conn.prepare(
        "SELECT i.account, i.total_charges_minor, i.amount_due_minor FROM invoices i
         JOIN (SELECT account, MAX(seq) AS seq FROM invoices WHERE run_id <> ?1 GROUP BY account) m
           ON m.account = i.account AND m.seq = i.seq",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Previous {
                total_charges_minor: r.get(1)?,
                amount_due_minor: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether SQLite refused a `SUM` of integers that left 64 bits.
fn sum_overflowed(e: &rusqlite::Error) -> bool {
    e.to_string().contains("integer overflow")
}

/// The error for usage charges that cannot be added up: names the unbilled
/// CDR with the largest charge (its file and line), the one to correct.
fn usage_overflow(conn: &Connection, bound: i64) -> Error {
    let worst = conn
        .query_row(
            "SELECT c.service, COALESCE(s.account, '?'), COALESCE(f.name, '?'), c.line,
                    c.charge_minor
             FROM cdrs c INDEXED BY cdrs_unbilled LEFT JOIN services s ON s.service = c.service
             LEFT JOIN cdr_files f ON f.id = c.file_id
             WHERE c.state = 1 AND c.invoice_id IS NULL AND c.start < ?1
             ORDER BY ABS(c.charge_minor) DESC LIMIT 1",
            [bound],
            |r| {
                Ok(format!(
                    "; the largest is {}:{} (service {}, customer {}) charged {} minor units",
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(4)?
                ))
            },
        )
        .unwrap_or_default();
    bad_input(format!(
        "the rated usage (charges or units) is too large to add up{worst}: a stored CDR charge is absurd; \
         correct it, then run billrun prebill again"
    ))
}

/// Rated unbilled CDRs starting before `bound`, summed per account and group.
fn usage(conn: &Connection, bound: i64) -> Result<HashMap<String, Vec<UsageGroup>>> {
    match usage_sums(conn, bound) {
        Err(Error::Db(e)) if sum_overflowed(&e) => Err(usage_overflow(conn, bound)),
        other => other,
    }
}

/// Sums of one (service, call type, rate) while the CDRs are read.
#[derive(Default, Clone, Copy)]
struct UsageSum {
    count: i64,
    units: i64,
    amount_minor: i64,
}

impl UsageSum {
    /// `None` when a sum leaves 64 bits (as SQLite's `SUM` refuses).
    fn add(self, count: i64, units: i64, amount: i64) -> Option<UsageSum> {
        Some(UsageSum {
            count: self.count.checked_add(count)?,
            units: self.units.checked_add(units)?,
            amount_minor: self.amount_minor.checked_add(amount)?,
        })
    }
}

/// The usage groups of every account: rated unbilled CDRs starting before
/// `bound`, grouped by account, service, call type and rate description,
/// in that order (see [`scan_unbilled`]).
fn usage_sums(conn: &Connection, bound: i64) -> Result<HashMap<String, Vec<UsageGroup>>> {
    Ok(scan_unbilled(conn, bound, None, &|_| ())?.usage)
}

/// What one read of the rated unbilled CDRs gives.
struct Scan {
    /// Per account, its usage groups (every known service, up to `bound`).
    usage: HashMap<String, Vec<UsageGroup>>,
    /// Per carrier: CDRs and charges of the cycle's services up to `bound`.
    by_carrier: Vec<(String, u64, i64)>,
    /// CDRs of the cycle's services before `bound`, and from `bound` on.
    unbilled: u64,
    waiting: u64,
}

/// How many CDRs [`scan_unbilled`] reads between two progress reports.
const READ_STEP: u64 = 1 << 16;

/// One known service while the CDRs are read.
struct Slot<'a> {
    account: &'a str,
    in_cycle: bool,
    /// Per (call type, rate id): a handful, so searched in order.
    sums: Vec<((i64, Option<i64>), UsageSum)>,
}

/// Read the rated unbilled CDRs ONCE, through `cdrs_unbilled` (in table
/// order), and sum in memory: the usage groups of every account (CDRs
/// before `bound`); and, for the services of the customers of `cycle`, the
/// usage per carrier (before `bound`) and the CDR counts before and from
/// `bound`. A CDR of a service not in `services` counts nowhere (as the
/// joins with `services` did). The groups, sums and their order are those
/// of the SQL `GROUP BY` this replaced (a `GROUP BY` on text keys sorted
/// every CDR: most of `prebill`'s time at a million CDRs); the three
/// passes over every unbilled CDR `prebill` made are one. `read` is told
/// every [`READ_STEP`] CDRs (and the rest at the end).
fn scan_unbilled(
    conn: &Connection,
    bound: i64,
    cycle: Option<&str>,
    read: &dyn Fn(u64),
) -> Result<Scan> {
    let services: Vec<(String, String, bool)> = conn
        .prepare(
            "SELECT s.service, s.account, COALESCE(cu.cycle = ?1, 0) FROM services s
             LEFT JOIN customers cu ON cu.account = s.account",
        )?
        .query_map([cycle], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let descriptions: HashMap<i64, Option<String>> = conn
        .prepare("SELECT id, description FROM rates")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let carriers: HashMap<i64, String> = conn
        .prepare("SELECT id, carrier FROM cdr_files")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut index: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    let mut slots: Vec<Slot> = Vec::with_capacity(services.len());
    for (service, account, in_cycle) in &services {
        index.insert(service, slots.len());
        slots.push(Slot {
            account,
            in_cycle: *in_cycle,
            sums: Vec::new(),
        });
    }
    let overflow = || usage_overflow(conn, bound);
    // Per file (few) while reading, then per carrier.
    let mut per_file: rustc_hash::FxHashMap<i64, (u64, i64)> = rustc_hash::FxHashMap::default();
    let (mut unbilled, mut waiting) = (0u64, 0u64);
    let mut st = conn.prepare(
        "SELECT c.service, c.start, c.call_type, c.rate_id, c.units, c.charge_minor, c.file_id
         FROM cdrs c INDEXED BY cdrs_unbilled
         WHERE c.state = 1 AND c.invoice_id IS NULL",
    )?;
    let mut q = st.query([])?;
    let mut rows = 0u64;
    while let Some(r) = q.next()? {
        rows += 1;
        if rows.is_multiple_of(READ_STEP) {
            read(READ_STEP);
        }
        let service = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let Some(&i) = index.get(service) else {
            continue; // not a known service: not billed, not counted
        };
        let slot = &mut slots[i];
        if r.get::<_, i64>(1)? >= bound {
            if slot.in_cycle {
                waiting += 1;
            }
            continue;
        }
        let key = (r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?);
        let (units, amount) = (
            r.get::<_, i64>(4)?,
            r.get::<_, Option<i64>>(5)?.unwrap_or(0),
        );
        let sum = match slot.sums.iter_mut().find(|(k, _)| *k == key) {
            Some((_, s)) => s,
            None => {
                slot.sums.push((key, UsageSum::default()));
                &mut slot.sums.last_mut().expect("just pushed").1
            }
        };
        *sum = sum.add(1, units, amount).ok_or_else(overflow)?;
        if slot.in_cycle {
            unbilled += 1;
            let e = per_file.entry(r.get(6)?).or_default();
            e.0 += 1;
            e.1 = e.1.checked_add(amount).ok_or_else(overflow)?;
        }
    }
    read(rows % READ_STEP);
    // (account, service, call type, description) -> sums, in that order.
    let mut grouped: std::collections::BTreeMap<(&str, &str, i64, &str), UsageSum> =
        std::collections::BTreeMap::new();
    for ((service, _, _), slot) in services.iter().zip(&slots) {
        for &((call_type, rate), sum) in &slot.sums {
            let description = rate
                .and_then(|id| descriptions.get(&id))
                .and_then(|d| d.as_deref())
                .unwrap_or("");
            let e = grouped
                .entry((slot.account, service, call_type, description))
                .or_default();
            *e = e
                .add(sum.count, sum.units, sum.amount_minor)
                .ok_or_else(overflow)?;
        }
    }
    let mut usage: HashMap<String, Vec<UsageGroup>> = HashMap::new();
    for ((account, service, call_type, description), sum) in grouped {
        usage
            .entry(account.to_string())
            .or_default()
            .push(UsageGroup {
                service: service.to_string(),
                call_type: super::cdrs::code::call_type_name(call_type, 2)?,
                description: description.to_string(),
                count: sum.count as u64,
                units: sum.units as u64,
                amount_minor: sum.amount_minor,
            });
    }
    let mut per_carrier: std::collections::BTreeMap<&str, (u64, i64)> =
        std::collections::BTreeMap::new();
    for (file, (n, sum)) in per_file {
        let Some(carrier) = carriers.get(&file) else {
            continue; // (the JOIN with cdr_files did the same)
        };
        let e = per_carrier.entry(carrier).or_default();
        e.0 += n;
        e.1 = e.1.checked_add(sum).ok_or_else(overflow)?;
    }
    Ok(Scan {
        usage,
        by_carrier: per_carrier
            .into_iter()
            .map(|(c, (n, sum))| (c.to_string(), n, sum))
            .collect(),
        unbilled,
        waiting,
    })
}

/// Every service's plan fee and the last day it was billed to.
fn plan_fees(conn: &Connection) -> Result<Vec<PlanFeeRow>> {
    let mut st = conn.prepare(
        "SELECT s.account, s.service, p.name, p.monthly_fee, s.start_date, s.end_date,
                MAX(COALESCE(s.billed_to, ''), COALESCE((SELECT MAX(l.period_end)
                  FROM invoice_lines l WHERE l.service = s.service AND l.category = 'fixed'), ''))
         FROM services s JOIN plans p ON p.plan = s.plan
         ORDER BY s.account, s.service",
    )?;
    let rows = st.query_map([], |r| {
        Ok(PlanFeeRow {
            account: r.get(0)?,
            service: r.get(1)?,
            plan_name: r.get(2)?,
            monthly_fee: r.get(3)?,
            start: r.get(4)?,
            end: r.get(5)?,
            billed_to: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Unbilled one-off charges dated on or before the cutoff.
fn one_offs(conn: &Connection, cut: &str) -> Result<HashMap<String, Vec<Item>>> {
    let mut one_offs: HashMap<String, Vec<Item>> = HashMap::new();
    let mut st = conn.prepare(
        "SELECT account, id, service, description, amount_minor FROM charges
         WHERE invoice_id IS NULL AND date <= ?1 ORDER BY date, id",
    )?;
    for r in st.query_map([cut], |r| {
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
    Ok(one_offs)
}

/// Matched unbilled wholesale fee lines ending on or before the cutoff.
fn fee_lines(conn: &Connection, cut: &str) -> Result<Vec<FeeLineRow>> {
    let mut st = conn.prepare(
        "SELECT account, id, service, description, amount, period_start, period_end FROM fees
         WHERE state = 'matched' AND invoice_id IS NULL AND account IS NOT NULL
           AND period_end <= ?1 ORDER BY service, period_start, id",
    )?;
    let rows = st.query_map([cut], |r| {
        Ok(FeeLineRow {
            account: r.get(0)?,
            id: r.get(1)?,
            service: r.get(2)?,
            description: r.get(3)?,
            amount: r.get(4)?,
            period_start: r.get(5)?,
            period_end: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Unallocated payments dated on or before the cutoff: (id, amount).
fn payments(conn: &Connection, cut: &str) -> Result<HashMap<String, Vec<(i64, i64)>>> {
    let mut payments: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
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
    Ok(payments)
}

/// Unallocated payments dated after the cutoff, summed per account: already
/// received when production runs, so deducted from what the invoice asks
/// to be collected (not from its balance at the cutoff).
fn received_since(conn: &Connection, cut: &str) -> Result<HashMap<String, i64>> {
    let mut out: HashMap<String, i64> = HashMap::new();
    let mut st = conn.prepare(
        "SELECT account, amount_minor FROM payments WHERE invoice_id IS NULL AND date > ?1",
    )?;
    for r in st.query_map([cut], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (a, m) = r?;
        let sum = out.entry(a.clone()).or_insert(0);
        *sum = sum.checked_add(m).ok_or_else(|| {
            bad_input(format!(
                "customer {a}: the payments received since the cutoff are too large to add up: \
                 a stored payment is absurd; correct it, then run billrun prebill again"
            ))
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// (account, service, call type code, description, count, units, amount).
    type Group = (String, String, i64, String, i64, i64, i64);
    /// (service, start, call type code, rate id, units, state, charge).
    type Row = (&'static str, i64, i64, Option<i64>, i64, i64, i64);

    /// The SQL `GROUP BY` that `usage_sums` replaced (issue 16): the
    /// reference its hash-map sums must equal, group for group and in order.
    fn usage_by_sql(conn: &Connection, bound: i64) -> Vec<Group> {
        let mut st = conn
            .prepare(
                "SELECT s.account, c.service, c.call_type, COALESCE(r.description, ''),
                        COUNT(*), SUM(c.units), SUM(c.charge_minor)
                 FROM cdrs c JOIN services s ON s.service = c.service
                 LEFT JOIN rates r ON r.id = c.rate_id
                 WHERE c.state = 1 AND c.invoice_id IS NULL AND c.start < ?1
                 GROUP BY s.account, c.service, c.call_type, COALESCE(r.description, '')
                 ORDER BY 1, 2, 3, 4",
            )
            .unwrap();
        st.query_map([bound], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn usage_sums_equal_the_sql_group_by_they_replaced() {
        let mut s = Store::memory().unwrap();
        let tx = s.write().unwrap();
        tx.execute_batch(
            "INSERT INTO customers (account, name, delivery, payment_method, created_at)
                VALUES ('C2', 'Two', 'print', 'manual', 'x'), ('C1', 'One', 'print', 'manual', 'x');
             INSERT INTO plans VALUES ('P', 'Plan', '10', 'T');
             INSERT INTO rates (id, tariff, prefix, description, call_type, band, flagfall, rate, increment, minimum_charge)
                VALUES (1, 'T', '44', 'UK', 'voice', 'peak', '0', '0.60', '1/1', '0'),
                       (2, 'T', '44', 'UK', 'voice', 'offpeak', '0', '0.30', '1/1', '0'),
                       (3, 'T', '1', 'USA', 'voice', 'all', '0', '0.10', '1/1', '0'),
                       (4, 'T', '', 'SMS', 'sms', 'all', '0', '0.05', '1/1', '0');
             INSERT INTO services (service, account, plan, start_date, end_date, description)
                VALUES ('449', 'C1', 'P', '2026-01-01', NULL, ''), ('441', 'C1', 'P', '2026-01-01', NULL, ''),
                       ('442', 'C2', 'P', '2026-01-01', NULL, '');
             INSERT INTO carriers VALUES ('c', 'billrun', NULL, 'x');
             INSERT INTO cdr_files (id, carrier, name, sha256, state, imported_at)
                VALUES (1, 'c', 'f', 'h', 'processed', 'x');",
        )
        .unwrap();
        // Services in and out of order, two rates with one description, a
        // rate that no longer exists, an unknown service, an error, a CDR
        // after the bound and one already invoiced.
        let rows: &[Row] = &[
            ("449", 10, 0, Some(1), 60, 1, 60),
            ("441", 20, 0, Some(2), 30, 1, 9),
            ("441", 30, 0, Some(1), 61, 1, 61),
            ("441", 31, 1, Some(4), 1, 1, 5),
            ("442", 40, 0, Some(3), 10, 1, 1),
            ("442", 41, 0, Some(99), 10, 1, 7),
            ("442", 42, 0, None, 10, 1, 3),
            ("999", 50, 0, Some(1), 60, 1, 60),
            ("441", 60, 0, Some(1), 60, 0, 0),
            ("441", 1_000, 0, Some(1), 60, 1, 60),
        ];
        for (i, (svc, start, ct, rate, units, state, charge)) in rows.iter().enumerate() {
            tx.execute(
                "INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units,
                    state, rate_id, charge_minor, dedupe) VALUES (1, ?1, ?2, ?3, '44', ?4, ?5, ?6, ?7, ?8, ?1)",
                params![i as i64 + 1, svc, start, ct, units, state, rate, charge],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let got: Vec<Group> = {
            let m = usage_sums(&s.conn, 500).unwrap();
            let mut accounts: Vec<_> = m.keys().cloned().collect();
            accounts.sort();
            accounts
                .iter()
                .flat_map(|a| {
                    m[a].iter().map(move |g| {
                        let code = match g.call_type.as_str() {
                            "voice" => 0,
                            "sms" => 1,
                            _ => 2,
                        };
                        (
                            a.clone(),
                            g.service.clone(),
                            code,
                            g.description.clone(),
                            g.count as i64,
                            g.units as i64,
                            g.amount_minor,
                        )
                    })
                })
                .collect()
        };
        let want = usage_by_sql(&s.conn, 500);
        assert_eq!(want.len(), 5, "{want:?}");
        assert_eq!(got, want);
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;
    use crate::store::Store;

    /// The one read of the unbilled CDRs gives the counts and the usage by
    /// carrier that the two SQL queries it replaced gave (issue 16).
    #[test]
    fn one_scan_gives_the_counts_and_carriers_of_the_queries_it_replaced() {
        let mut s = Store::memory().unwrap();
        // (An invoice id and a service of no customer without their rows.)
        s.conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let tx = s.write().unwrap();
        tx.execute_batch(
            "INSERT INTO cycles (name, day, due_days) VALUES ('quarterly', 1, NULL);
             INSERT INTO customers (account, name, delivery, payment_method, created_at, cycle)
                VALUES ('C1', 'One', 'print', 'manual', 'x', 'monthly'),
                       ('C2', 'Two', 'print', 'manual', 'x', 'monthly'),
                       ('Q1', 'Quarterly', 'print', 'manual', 'x', 'quarterly');
             INSERT INTO plans VALUES ('P', 'Plan', '10', 'T');
             INSERT INTO rates (id, tariff, prefix, description, call_type, band, flagfall, rate, increment, minimum_charge)
                VALUES (1, 'T', '44', 'UK', 'voice', 'peak', '0', '0.60', '1/1', '0');
             INSERT INTO services (service, account, plan, start_date, end_date, description)
                VALUES ('441', 'C1', 'P', '2026-01-01', NULL, ''), ('442', 'C2', 'P', '2026-01-01', NULL, ''),
                       ('443', 'Q1', 'P', '2026-01-01', NULL, ''), ('444', 'GONE', 'P', '2026-01-01', NULL, '');
             INSERT INTO carriers VALUES ('a', 'billrun', NULL, 'x'), ('b', 'billrun', NULL, 'x');
             INSERT INTO cdr_files (id, carrier, name, sha256, state, imported_at)
                VALUES (1, 'a', 'f1', 'h1', 'processed', 'x'), (2, 'b', 'f2', 'h2', 'processed', 'x'),
                       (3, 'a', 'f3', 'h3', 'processed', 'x');",
        )
        .unwrap();
        // (file, service, start, state, charge): before and after the bound,
        // another cycle, a service of no customer, an unknown service, an
        // error, an invoiced CDR.
        let rows: &[(i64, &str, i64, i64, Option<i64>)] = &[
            (1, "441", 10, 1, Some(60)),
            (2, "441", 20, 1, Some(7)),
            (3, "442", 30, 1, None),
            (1, "442", 600, 1, Some(5)),
            (2, "443", 40, 1, Some(9)),
            (2, "443", 700, 1, Some(9)),
            (1, "444", 50, 1, Some(11)),
            (1, "999", 50, 1, Some(13)),
            (1, "441", 60, 0, None),
            (3, "441", 70, 1, Some(17)),
        ];
        for (i, (file, svc, start, state, charge)) in rows.iter().enumerate() {
            tx.execute(
                "INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units,
                    state, rate_id, charge_minor, dedupe) VALUES (?1, ?2, ?3, ?4, '44', 0, 60, ?5, 1, ?6, ?2)",
                params![file, i as i64 + 1, svc, start, state, charge],
            )
            .unwrap();
        }
        tx.execute("UPDATE cdrs SET invoice_id = 1 WHERE charge_minor = 17", [])
            .unwrap();
        tx.commit().unwrap();
        let bound = 500;
        let scan = scan_unbilled(&s.conn, bound, Some("monthly"), &|_| ()).unwrap();
        let (unbilled, waiting): (i64, i64) = s
            .conn
            .query_row(
                "SELECT SUM(c.start < ?1), SUM(c.start >= ?1) FROM cdrs c
                 JOIN services s ON s.service = c.service
                 JOIN customers cu ON cu.account = s.account AND cu.cycle = 'monthly'
                 WHERE c.state = 1 AND c.invoice_id IS NULL",
                [bound],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((scan.unbilled, scan.waiting), (3, 1));
        assert_eq!(
            (unbilled as u64, waiting as u64),
            (scan.unbilled, scan.waiting)
        );
        let want: Vec<(String, u64, i64)> = s
            .conn
            .prepare(
                "SELECT f.carrier, COUNT(*), SUM(COALESCE(c.charge_minor, 0)) FROM cdrs c
                 JOIN services s ON s.service = c.service
                 JOIN customers cu ON cu.account = s.account AND cu.cycle = 'monthly'
                 JOIN cdr_files f ON f.id = c.file_id
                 WHERE c.state = 1 AND c.invoice_id IS NULL AND c.start < ?1
                 GROUP BY f.carrier ORDER BY f.carrier",
            )
            .unwrap()
            .query_map([bound], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(want, vec![("a".into(), 2, 60), ("b".into(), 1, 7)]);
        assert_eq!(scan.by_carrier, want);
        // The usage covers every known service (the quarterly customer's
        // and the service of no customer too), before the bound only.
        let mut accounts: Vec<&String> = scan.usage.keys().collect();
        accounts.sort();
        assert_eq!(accounts, ["C1", "C2", "GONE", "Q1"]);
        assert_eq!(scan.usage["C1"][0].count, 2);
        assert_eq!(scan.usage["C2"][0].amount_minor, 0);
        // Without a cycle: usage only.
        let none = scan_unbilled(&s.conn, bound, None, &|_| ()).unwrap();
        assert_eq!(
            (none.unbilled, none.waiting, none.by_carrier.len()),
            (0, 0, 0)
        );
        assert_eq!(none.usage.len(), 4);
    }
}
