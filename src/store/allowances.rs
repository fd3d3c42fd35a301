//! Inclusive allowances as stored (schema.sql migration 17): the import's
//! upsert, the list, and the billing-time consumption stream that
//! `store::billing` folds into each customer's usage (the rules are
//! `domain::allowance`'s).

use super::audit::{self, Actor};
use super::reference::Upserted;
use super::runs::Run;
use crate::domain::allowance::{
    Allowance, AllowanceUse, Consumer, PartRate, Quantity, RatedCdr, ServiceOnPlan, period,
};
use crate::domain::rating::CallType;
use crate::error::{Result, bad_input};
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;

/// Upsert allowances by (plan, name); a new one is listed after those
/// already stored (in file order), an updated one keeps its place.
pub fn upsert(
    conn: &Connection,
    actor: &Actor,
    file: &str,
    rows: &[Allowance],
) -> Result<Upserted> {
    let mut n = Upserted::default();
    for a in rows {
        let found: Option<i64> = conn
            .query_row(
                "SELECT id FROM allowances WHERE plan = ?1 AND name = ?2",
                params![a.plan, a.name],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_some() {
            n.updated += 1;
        } else {
            n.inserted += 1;
        }
        conn.execute(
            "INSERT INTO allowances (plan, name, call_type, prefixes, quantity, pooled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(plan, name) DO UPDATE SET call_type = excluded.call_type,
                prefixes = excluded.prefixes, quantity = excluded.quantity, pooled = excluded.pooled",
            params![
                a.plan,
                a.name,
                a.call_type.as_str(),
                a.prefixes.join(" "),
                a.quantity.to_string(),
                a.pooled
            ],
        )?;
    }
    audit::log(
        conn,
        actor,
        None,
        "allowances import",
        &format!("{file}: {} new, {} updated", n.inserted, n.updated),
    )?;
    Ok(n)
}

/// One allowance as `allowances list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowanceRow {
    pub plan: String,
    pub name: String,
    pub call_type: String,
    pub prefixes: String,
    pub quantity: String,
    pub pooled: bool,
}

/// Every allowance, in listed order (plan, then the order of first import).
pub fn list(conn: &Connection) -> Result<Vec<AllowanceRow>> {
    let mut st = conn.prepare(
        "SELECT plan, name, call_type, prefixes, quantity, pooled FROM allowances ORDER BY plan, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(AllowanceRow {
            plan: r.get(0)?,
            name: r.get(1)?,
            call_type: r.get(2)?,
            prefixes: r.get(3)?,
            quantity: r.get(4)?,
            pooled: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every allowance as the rules take it, in listed order.
fn load(conn: &Connection) -> Result<Vec<Allowance>> {
    list(conn)?
        .into_iter()
        .map(|r| {
            let bad = |e: String| {
                bad_input(format!(
                    "allowance '{}' of plan '{}' is stored wrongly ({e}): import the allowances file again",
                    r.name, r.plan
                ))
            };
            Ok(Allowance {
                call_type: r.call_type.parse::<CallType>().map_err(bad)?,
                quantity: r.quantity.parse::<Quantity>().map_err(bad)?,
                prefixes: r.prefixes.split_whitespace().map(str::to_string).collect(),
                plan: r.plan,
                name: r.name,
                pooled: r.pooled,
            })
        })
        .collect()
}

/// The cutoff of the previous run of the same cycle (not cancelled, an
/// earlier cutoff), if any.
fn previous_cutoff(conn: &Connection, run: &Run, cutoff: NaiveDate) -> Result<Option<NaiveDate>> {
    let prev: Option<String> = conn.query_row(
        "SELECT MAX(cutoff_date) FROM runs WHERE cycle = ?1 AND id <> ?2
           AND status <> 'cancelled' AND cutoff_date IS NOT NULL AND cutoff_date < ?3",
        params![run.cycle, run.id, cutoff.to_string()],
        |r| r.get(0),
    )?;
    Ok(prev.and_then(|p| p.parse().ok()))
}

/// The services of the cycle's customers on a plan with an allowance.
fn services(conn: &Connection, cycle: &str) -> Result<Vec<ServiceOnPlan>> {
    let mut st = conn.prepare(
        "SELECT s.service, s.account, s.plan, s.start_date, s.end_date FROM services s
         JOIN customers cu ON cu.account = s.account AND cu.cycle = ?1
         WHERE s.plan IN (SELECT plan FROM allowances)
         ORDER BY s.account, s.service",
    )?;
    let rows = st.query_map([cycle], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (service, account, plan, start, end) = row?;
        let date = |s: &str| -> Result<NaiveDate> {
            s.parse().map_err(|_| {
                bad_input(format!(
                    "service {service}: stored date '{s}' is invalid; import the services file again"
                ))
            })
        };
        out.push(ServiceOnPlan {
            start: date(&start)?,
            end: end
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(date)
                .transpose()?,
            service,
            account,
            plan,
        });
    }
    Ok(out)
}

/// What allowances changed in a run, for the usage lines and the report.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Per account: each allowance's included / used / remaining.
    pub uses: HashMap<String, Vec<AllowanceUse>>,
    /// Per (account, service, call type, rate description): the change to
    /// the usage group's amount (charged − rated; ≤ 0 for non-negative rates).
    pub groups: HashMap<(String, String, String, String), i64>,
    /// Per carrier: the change to its usage.
    pub carriers: HashMap<String, i64>,
}

/// Consume the run's allowances with its rated, unbilled CDRs of the
/// period (from the day after the previous run's cutoff to `bound`, the
/// first second after the cutoff), streamed in order of start time, record
/// id, CDR id: one row at a time, memory bounded by the allowances, not
/// the CDRs. With `record`, each covered CDR's outcome is kept in
/// `temp.allowance_charges` for [`record_charged`] (production).
pub fn consume(
    conn: &Connection,
    run: &Run,
    cutoff: NaiveDate,
    bound: i64,
    record: bool,
) -> Result<Applied> {
    let mut applied = Applied::default();
    let allowances = load(conn)?;
    if allowances.is_empty() {
        return Ok(applied);
    }
    let period = period(cutoff, previous_cutoff(conn, run, cutoff)?);
    let services = services(conn, &run.cycle)?;
    let mut consumer = Consumer::new(allowances, &services, period);
    if consumer.is_empty() {
        return Ok(applied);
    }
    let account_of: HashMap<&str, &str> = services
        .iter()
        .map(|s| (s.service.as_str(), s.account.as_str()))
        .collect();
    if record {
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS allowance_charges
                (cdr_id INTEGER PRIMARY KEY, covered INTEGER NOT NULL, charged INTEGER NOT NULL);
             DELETE FROM temp.allowance_charges;",
        )?;
    }
    let mut keep = if record {
        Some(conn.prepare(
            "INSERT INTO temp.allowance_charges (cdr_id, covered, charged) VALUES (?1, ?2, ?3)",
        )?)
    } else {
        None
    };
    // Rates and files are few: read once, so the stream joins nothing.
    let rates = rates(conn)?;
    let carriers = carriers(conn)?;
    // Per service, per rate id: the change to the usage; per file: to its
    // carrier's. Keys are allocated only once each.
    let mut by_rate: HashMap<String, HashMap<(Option<i64>, CallType), i64>> = HashMap::new();
    let mut by_file: HashMap<i64, i64> = HashMap::new();
    // In start, record id, CDR id order: SQLite sorts the period's unbilled
    // CDRs of services with allowances (its sorter spills to temporary
    // files, so memory stays bounded whatever the number of CDRs).
    let mut st = conn.prepare(
        "SELECT c.id, c.service, c.call_type, c.destination, COALESCE(c.billable, 0),
                COALESCE(c.charge_minor, 0), c.rate_id, c.file_id
         FROM cdrs c
         WHERE c.state = 1 AND c.invoice_id IS NULL AND c.start >= ?1 AND c.start < ?2
           AND c.service IN (SELECT s.service FROM services s
                JOIN customers cu ON cu.account = s.account AND cu.cycle = ?3
                WHERE s.plan IN (SELECT plan FROM allowances))
         ORDER BY c.start, c.record_id, c.id",
    )?;
    let from = crate::domain::cdrs::day_secs(period.0);
    let mut rows = st.query(params![from, bound, run.cycle])?;
    while let Some(r) = rows.next()? {
        let text = |i: usize| {
            r.get_ref(i)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        };
        let service = text(1)?;
        let code: i64 = r.get(2)?;
        let call_type = super::cdrs::code::call_type_of(code)
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(2, code))?;
        let rate_id: Option<i64> = r.get(6)?;
        let charge_minor: i64 = r.get(5)?;
        let cdr = RatedCdr {
            service,
            call_type,
            destination: text(3)?,
            billable: r.get::<_, i64>(4)?.max(0) as u64,
            charge_minor,
            rate: rate_id.and_then(|id| rates.get(&id)).and_then(|x| x.0),
        };
        let out = consumer.consume(&cdr);
        if out.covered == 0 {
            continue;
        }
        // Saturating: only absurd stored charges get near the limits, and the
        // usage sums that follow refuse those (exit 4, naming the CDR).
        let delta = out.charge_minor.saturating_sub(charge_minor);
        let per_rate = match by_rate.get_mut(service) {
            Some(m) => m,
            None => by_rate.entry(service.to_string()).or_default(),
        };
        let g = per_rate.entry((rate_id, call_type)).or_default();
        *g = g.saturating_add(delta);
        let f = by_file.entry(r.get(7)?).or_default();
        *f = f.saturating_add(delta);
        if let Some(k) = keep.as_mut() {
            k.execute(params![
                r.get::<_, i64>(0)?,
                out.covered as i64,
                out.charge_minor
            ])?;
        }
    }
    for (service, per_rate) in by_rate {
        let account = account_of
            .get(service.as_str())
            .copied()
            .unwrap_or_default();
        for ((rate_id, call_type), delta) in per_rate {
            // As the usage groups: the rate's description, '' without one.
            let description = rate_id
                .and_then(|id| rates.get(&id))
                .map(|x| x.1.clone())
                .unwrap_or_default();
            let g = applied
                .groups
                .entry((
                    account.to_string(),
                    service.clone(),
                    call_type.as_str().to_string(),
                    description,
                ))
                .or_default();
            *g = g.saturating_add(delta);
        }
    }
    for (file, delta) in by_file {
        if let Some(carrier) = carriers.get(&file) {
            let c = applied.carriers.entry(carrier.clone()).or_default();
            *c = c.saturating_add(delta);
        }
    }
    for (account, u) in consumer.report() {
        applied.uses.entry(account).or_default().push(u);
    }
    Ok(applied)
}

/// Every rate: what partial coverage needs, and its description.
fn rates(conn: &Connection) -> Result<HashMap<i64, (Option<PartRate>, String)>> {
    let mut st = conn.prepare("SELECT id, rate, maximum_charge, description FROM rates")?;
    let mut out = HashMap::new();
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let rate: String = r.get(1)?;
        let max: Option<String> = r.get(2)?;
        let part = rate.parse().ok().map(|rate| PartRate {
            rate,
            maximum_charge: max.as_deref().and_then(|m| m.parse().ok()),
        });
        out.insert(r.get(0)?, (part, r.get(3)?));
    }
    Ok(out)
}

/// Each CDR file's carrier.
fn carriers(conn: &Connection) -> Result<HashMap<i64, String>> {
    let mut st = conn.prepare("SELECT id, carrier FROM cdr_files")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// After production marked the usage billed: keep on each billed CDR an
/// allowance covered what it cost (the itemised calls show it), then drop
/// the outcomes of CDRs left unbilled (their customers got no invoice).
pub fn record_charged(conn: &Connection) -> Result<()> {
    let exists: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM temp.sqlite_master WHERE name = 'allowance_charges'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(());
    }
    conn.execute(
        "UPDATE cdrs SET covered = t.covered, charged_minor = t.charged
         FROM temp.allowance_charges t WHERE cdrs.id = t.cdr_id AND cdrs.invoice_id IS NOT NULL",
        [],
    )?;
    conn.execute_batch("DROP TABLE temp.allowance_charges")?;
    Ok(())
}

/// Keep an invoice's allowances as billed.
pub fn insert_invoice_allowances(
    conn: &Connection,
    invoice_id: i64,
    uses: &[AllowanceUse],
) -> Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO invoice_allowances (invoice_id, position, plan, name, call_type, pooled,
            services, included_units, used_units) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (i, u) in uses.iter().enumerate() {
        st.execute(params![
            invoice_id,
            i as i64,
            u.plan,
            u.name,
            u.call_type,
            u.pooled,
            u.services.join(" "),
            u.included_units.map(|n| n as i64),
            u.used_units as i64
        ])?;
    }
    Ok(())
}

/// An invoice's allowances as billed, in the order shown.
pub fn invoice_allowances(conn: &Connection, invoice_id: i64) -> Result<Vec<AllowanceUse>> {
    let mut st = conn.prepare_cached(
        "SELECT plan, name, call_type, pooled, services, included_units, used_units
         FROM invoice_allowances WHERE invoice_id = ?1 ORDER BY position",
    )?;
    let rows = st.query_map([invoice_id], |r| {
        let ct: String = r.get(2)?;
        let services: String = r.get(4)?;
        Ok(AllowanceUse::from_parts(
            &r.get::<_, String>(0)?,
            &r.get::<_, String>(1)?,
            ct.parse().unwrap_or(CallType::Voice),
            r.get(3)?,
            services.split_whitespace().map(str::to_string).collect(),
            r.get::<_, Option<i64>>(5)?.map(|n| n.max(0) as u64),
            r.get::<_, i64>(6)?.max(0) as u64,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
