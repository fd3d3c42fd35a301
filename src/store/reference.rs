//! Reference data storage: customers, plans, services, rates, cycles.
//! Imports are upserts by key, all rows in one transaction.

use super::audit::{self, Actor};
use crate::domain::reference::{Customer, Known, Plan, Service, TariffRow};
use crate::error::Result;
use rusqlite::{Connection, params};
use serde::Serialize;

fn keys(conn: &Connection, sql: &str) -> Result<std::collections::HashSet<String>> {
    let mut st = conn.prepare(sql)?;
    let v = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// The keys reference checks need.
pub fn known(conn: &Connection) -> Result<Known> {
    Ok(Known {
        accounts: keys(conn, "SELECT account FROM customers")?,
        plans: keys(conn, "SELECT plan FROM plans")?,
        tariffs: keys(conn, "SELECT DISTINCT tariff FROM rates")?,
        cycles: keys(conn, "SELECT name FROM cycles WHERE removed_at IS NULL")?,
    })
}

/// Counts of rows inserted and updated by an import.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Upserted {
    pub inserted: u64,
    pub updated: u64,
}

fn exists(conn: &Connection, sql: &str, key: &str) -> Result<bool> {
    Ok(conn.query_row(sql, [key], |_| Ok(())).is_ok())
}

pub fn upsert_customers(
    conn: &Connection,
    actor: &Actor,
    file: &str,
    rows: &[Customer],
) -> Result<Upserted> {
    let mut n = Upserted::default();
    let now = actor.stamp();
    let mut st = conn.prepare(
        "INSERT INTO customers (account, name, email, delivery, payment_method, bank_branch, bank_account,
            bank_account_name, iban, bic, mandate_ref, mandate_date, card_token, address1, address2, town,
            region, postcode, invoice_message, tax_exempt, cycle, min_invoice, created_at,
            stripe_customer, gocardless_mandate)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)
         ON CONFLICT(account) DO UPDATE SET name=excluded.name, email=excluded.email, delivery=excluded.delivery,
            payment_method=excluded.payment_method, bank_branch=excluded.bank_branch,
            bank_account=excluded.bank_account, bank_account_name=excluded.bank_account_name,
            iban=excluded.iban, bic=excluded.bic, mandate_ref=excluded.mandate_ref,
            mandate_date=excluded.mandate_date, card_token=excluded.card_token, address1=excluded.address1,
            address2=excluded.address2, town=excluded.town, region=excluded.region, postcode=excluded.postcode,
            invoice_message=excluded.invoice_message, tax_exempt=excluded.tax_exempt, cycle=excluded.cycle,
            min_invoice=excluded.min_invoice, stripe_customer=excluded.stripe_customer,
            gocardless_mandate=excluded.gocardless_mandate,
            -- A new mandate (bank or GoCardless) or new bank details clear what
            -- the bank or gateway reported about the old mandate (SET
            -- expressions see the old row).
            mandate_status = CASE WHEN excluded.mandate_ref IS NOT mandate_ref
                OR excluded.gocardless_mandate IS NOT gocardless_mandate
                OR excluded.bank_branch IS NOT bank_branch OR excluded.bank_account IS NOT bank_account
                OR excluded.iban IS NOT iban THEN NULL ELSE mandate_status END,
            mandate_status_on = CASE WHEN excluded.mandate_ref IS NOT mandate_ref
                OR excluded.gocardless_mandate IS NOT gocardless_mandate
                OR excluded.bank_branch IS NOT bank_branch OR excluded.bank_account IS NOT bank_account
                OR excluded.iban IS NOT iban THEN NULL ELSE mandate_status_on END",
    )?;
    for c in rows {
        if exists(
            conn,
            "SELECT 1 FROM customers WHERE account = ?1",
            &c.account,
        )? {
            n.updated += 1;
        } else {
            n.inserted += 1;
        }
        st.execute(params![
            c.account,
            c.name,
            c.email,
            c.delivery,
            c.payment_method,
            c.bank_branch,
            c.bank_account,
            c.bank_account_name,
            c.iban,
            c.bic,
            c.mandate_ref,
            c.mandate_date.map(|d| d.to_string()),
            c.card_token,
            c.address1,
            c.address2,
            c.town,
            c.region,
            c.postcode,
            c.invoice_message,
            c.tax_exempt,
            c.cycle,
            c.min_invoice.map(|d| d.to_string()),
            now,
            c.stripe_customer,
            c.gocardless_mandate,
        ])?;
    }
    audit::log(
        conn,
        actor,
        None,
        "customers import",
        &format!("{file}: {} new, {} updated", n.inserted, n.updated),
    )?;
    Ok(n)
}

pub fn upsert_plans(
    conn: &Connection,
    actor: &Actor,
    file: &str,
    rows: &[Plan],
) -> Result<Upserted> {
    let mut n = Upserted::default();
    for p in rows {
        if exists(conn, "SELECT 1 FROM plans WHERE plan = ?1", &p.plan)? {
            n.updated += 1;
        } else {
            n.inserted += 1;
        }
        conn.execute(
            "INSERT INTO plans (plan, name, monthly_fee, tariff) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(plan) DO UPDATE SET name=excluded.name, monthly_fee=excluded.monthly_fee, tariff=excluded.tariff",
            params![p.plan, p.name, p.monthly_fee.to_string(), p.tariff],
        )?;
    }
    audit::log(
        conn,
        actor,
        None,
        "plans import",
        &format!("{file}: {} new, {} updated", n.inserted, n.updated),
    )?;
    Ok(n)
}

pub fn upsert_services(
    conn: &Connection,
    actor: &Actor,
    file: &str,
    rows: &[Service],
) -> Result<Upserted> {
    let mut n = Upserted::default();
    for s in rows {
        if exists(
            conn,
            "SELECT 1 FROM services WHERE service = ?1",
            &s.service,
        )? {
            n.updated += 1;
        } else {
            n.inserted += 1;
        }
        conn.execute(
            "INSERT INTO services (service, account, plan, start_date, end_date, description, billed_to) VALUES (?1,?2,?3,?4,?5,?6,?7)
             ON CONFLICT(service) DO UPDATE SET account=excluded.account, plan=excluded.plan,
                start_date=excluded.start_date, end_date=excluded.end_date, description=excluded.description,
                billed_to=excluded.billed_to",
            params![
                s.service,
                s.account,
                s.plan,
                s.start_date.to_string(),
                s.end_date.map(|d| d.to_string()),
                s.description,
                s.billed_to.map(|d| d.to_string())
            ],
        )?;
    }
    audit::log(
        conn,
        actor,
        None,
        "services import",
        &format!("{file}: {} new, {} updated", n.inserted, n.updated),
    )?;
    Ok(n)
}

pub fn upsert_tariffs(
    conn: &Connection,
    actor: &Actor,
    file: &str,
    rows: &[TariffRow],
) -> Result<Upserted> {
    let mut n = Upserted::default();
    for t in rows {
        let found = conn
            .query_row(
                "SELECT 1 FROM rates WHERE tariff=?1 AND prefix=?2 AND call_type=?3 AND band=?4",
                params![t.tariff, t.prefix, t.call_type.as_str(), t.band.as_str()],
                |_| Ok(()),
            )
            .is_ok();
        if found {
            n.updated += 1;
        } else {
            n.inserted += 1;
        }
        conn.execute(
            "INSERT INTO rates (tariff, prefix, description, call_type, band, flagfall, rate, increment,
                minimum_charge, maximum_charge) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)
             ON CONFLICT(tariff, prefix, call_type, band) DO UPDATE SET description=excluded.description,
                flagfall=excluded.flagfall, rate=excluded.rate, increment=excluded.increment,
                minimum_charge=excluded.minimum_charge, maximum_charge=excluded.maximum_charge",
            params![
                t.tariff,
                t.prefix,
                t.description,
                t.call_type.as_str(),
                t.band.as_str(),
                t.flagfall.to_string(),
                t.rate.to_string(),
                t.increment.to_string(),
                t.minimum_charge.to_string(),
                t.maximum_charge.map(|d| d.to_string())
            ],
        )?;
    }
    audit::log(
        conn,
        actor,
        None,
        "tariffs import",
        &format!("{file}: {} new, {} updated", n.inserted, n.updated),
    )?;
    Ok(n)
}

/// A customer as listed (bank details masked by the caller's printer).
#[derive(Debug, Serialize)]
pub struct CustomerRow {
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub delivery: String,
    pub payment_method: String,
    pub bank: Option<String>,
    pub cycle: String,
    pub services: u64,
    /// The mandate's status as the bank last reported it (ADDACS or a
    /// gateway): `null` (none reported), `cancelled`, `transferred`,
    /// `disputed`, `amended`, `active`.
    pub mandate_status: Option<String>,
    /// The date that status took effect.
    pub mandate_status_on: Option<String>,
    /// Stripe Customer (`cus_…`), if any.
    pub stripe_customer: Option<String>,
    /// GoCardless mandate (`MD…`), if any.
    pub gocardless_mandate: Option<String>,
}

pub fn list_customers(conn: &Connection) -> Result<Vec<CustomerRow>> {
    let mut st = conn.prepare(
        "SELECT c.account, c.name, c.email, c.delivery, c.payment_method,
                COALESCE(c.bank_account, c.iban, c.card_token), c.cycle,
                (SELECT COUNT(*) FROM services s WHERE s.account = c.account),
                c.mandate_status, c.mandate_status_on, c.stripe_customer, c.gocardless_mandate
         FROM customers c ORDER BY c.account",
    )?;
    let rows = st.query_map([], |r| {
        Ok(CustomerRow {
            account: r.get(0)?,
            name: r.get(1)?,
            email: r.get(2)?,
            delivery: r.get(3)?,
            payment_method: r.get(4)?,
            bank: r
                .get::<_, Option<String>>(5)?
                .map(|s| crate::domain::bank::mask_account(&s)),
            cycle: r.get(6)?,
            services: r.get(7)?,
            mandate_status: r.get(8)?,
            mandate_status_on: r.get(9)?,
            stripe_customer: r.get(10)?,
            gocardless_mandate: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Serialize)]
pub struct PlanRow {
    pub plan: String,
    pub name: String,
    pub monthly_fee: String,
    pub tariff: String,
    pub services: u64,
}

pub fn list_plans(conn: &Connection) -> Result<Vec<PlanRow>> {
    let mut st = conn.prepare(
        "SELECT p.plan, p.name, p.monthly_fee, p.tariff, (SELECT COUNT(*) FROM services s WHERE s.plan = p.plan)
         FROM plans p ORDER BY p.plan",
    )?;
    let rows = st.query_map([], |r| {
        Ok(PlanRow {
            plan: r.get(0)?,
            name: r.get(1)?,
            monthly_fee: r.get(2)?,
            tariff: r.get(3)?,
            services: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Serialize)]
pub struct ServiceRow {
    pub service: String,
    pub account: String,
    pub plan: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub description: String,
}

pub fn list_services(conn: &Connection) -> Result<Vec<ServiceRow>> {
    let mut st = conn.prepare(
        "SELECT service, account, plan, start_date, end_date, description FROM services ORDER BY account, service",
    )?;
    let rows = st.query_map([], |r| {
        Ok(ServiceRow {
            service: r.get(0)?,
            account: r.get(1)?,
            plan: r.get(2)?,
            start_date: r.get(3)?,
            end_date: r.get(4)?,
            description: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Serialize)]
pub struct RateListRow {
    pub tariff: String,
    pub prefix: String,
    pub description: String,
    pub call_type: String,
    pub band: String,
    pub flagfall: String,
    pub rate: String,
    pub increment: String,
    pub minimum_charge: String,
    pub maximum_charge: Option<String>,
}

pub fn list_rates(conn: &Connection) -> Result<Vec<RateListRow>> {
    let mut st = conn.prepare(
        "SELECT tariff, prefix, description, call_type, band, flagfall, rate, increment, minimum_charge, maximum_charge
         FROM rates ORDER BY tariff, call_type, prefix, band",
    )?;
    let rows = st.query_map([], |r| {
        Ok(RateListRow {
            tariff: r.get(0)?,
            prefix: r.get(1)?,
            description: r.get(2)?,
            call_type: r.get(3)?,
            band: r.get(4)?,
            flagfall: r.get(5)?,
            rate: r.get(6)?,
            increment: r.get(7)?,
            minimum_charge: r.get(8)?,
            maximum_charge: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Serialize)]
pub struct CycleRow {
    pub name: String,
    pub day: u32,
    pub due_days: Option<u32>,
    pub customers: u64,
}

pub fn list_cycles(conn: &Connection) -> Result<Vec<CycleRow>> {
    let mut st = conn.prepare(
        "SELECT y.name, y.day, y.due_days, (SELECT COUNT(*) FROM customers c WHERE c.cycle = y.name)
         FROM cycles y WHERE y.removed_at IS NULL ORDER BY y.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(CycleRow {
            name: r.get(0)?,
            day: r.get(1)?,
            due_days: r.get(2)?,
            customers: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn add_cycle(
    conn: &Connection,
    actor: &Actor,
    name: &str,
    day: u32,
    due_days: Option<u32>,
) -> Result<()> {
    crate::domain::cycles::check_cycle(name, day).map_err(crate::error::bad_input)?;
    conn.execute(
        "INSERT INTO cycles (name, day, due_days) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET day = excluded.day, due_days = excluded.due_days,
             removed_at = NULL",
        params![name, day, due_days],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "cycles add",
        &format!("{name}: day {day}, due days {due_days:?}"),
    )?;
    Ok(())
}

/// Remove cycle `name` (audited): refused while it has runs that are not
/// completed or cancelled, or customers. The row stays (its runs refer to
/// it) marked removed: not listed, ticked or accepted any more.
pub fn remove_cycle(conn: &Connection, actor: &Actor, name: &str, now: &str) -> Result<()> {
    use crate::error::{bad_input, precondition};
    let live: Option<Option<String>> = conn
        .query_row(
            "SELECT removed_at FROM cycles WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    match live {
        None | Some(Some(_)) => {
            return Err(bad_input(format!(
                "no billing cycle '{name}' (see billrun cycles list)"
            )));
        }
        Some(None) => {}
    }
    let open: Vec<String> = conn
        .prepare(
            "SELECT name FROM runs WHERE cycle = ?1 AND status NOT IN ('completed', 'cancelled')
             ORDER BY id",
        )?
        .query_map([name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !open.is_empty() {
        return Err(precondition(format!(
            "cycle {name} has open runs ({}): finish or cancel them first (billrun cancel RUN)",
            open.join(", ")
        )));
    }
    let customers = cycle_customers(conn, name)?;
    if customers > 0 {
        return Err(precondition(format!(
            "cycle {name} still has {customers} customers: move them to another cycle first \
             (the cycle column of billrun customers import FILE)"
        )));
    }
    conn.execute(
        "UPDATE cycles SET removed_at = ?2 WHERE name = ?1",
        params![name, now],
    )?;
    audit::log(conn, actor, None, "cycles remove", name)
}

/// The number of customers in `cycle`.
pub fn cycle_customers(conn: &Connection, cycle: &str) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM customers WHERE cycle = ?1",
        [cycle],
        |r| r.get(0),
    )?)
}

/// The customers of `cycle` as the setup check reads them, in account order.
pub fn setup_customers(
    conn: &Connection,
    cycle: &str,
) -> Result<Vec<crate::domain::setup_check::SetupCustomer>> {
    let mut st = conn.prepare_cached(
        "SELECT account, name, delivery, payment_method, email, bank_branch, bank_account,
                iban, bic, mandate_ref, card_token, address1, postcode, mandate_status,
                mandate_status_on, stripe_customer, gocardless_mandate
         FROM customers WHERE cycle = ?1 ORDER BY account",
    )?;
    let rows = st.query_map([cycle], |r| {
        Ok(crate::domain::setup_check::SetupCustomer {
            account: r.get(0)?,
            name: r.get(1)?,
            delivery: r.get(2)?,
            payment_method: r.get(3)?,
            email: r.get(4)?,
            bank_branch: r.get(5)?,
            bank_account: r.get(6)?,
            iban: r.get(7)?,
            bic: r.get(8)?,
            mandate_ref: r.get(9)?,
            card_token: r.get(10)?,
            address1: r.get(11)?,
            postcode: r.get(12)?,
            mandate_status: r.get(13)?,
            mandate_status_on: r.get(14)?,
            stripe_customer: r.get(15)?,
            gocardless_mandate: r.get(16)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
