//! `billrun customers|services|plans|tariffs import FILE | list`.
//! Imports are all or nothing: every bad row is reported, nothing changes.

use super::output::{self, Ctx, file_label, read_input};
use crate::domain::csvfile::{self, Problem};
use crate::domain::reference;
use crate::error::Error;
use crate::store::{Store, audit::Actor, reference as refstore, settings};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CustomersCmd {
    /// Upsert customers from a CSV file (SPEC §3.1).
    Import {
        file: PathBuf,
    },
    List,
}
#[derive(Debug, Subcommand)]
pub enum ServicesCmd {
    /// Upsert services from a CSV file (SPEC §3.3).
    Import {
        file: PathBuf,
    },
    List,
}
#[derive(Debug, Subcommand)]
pub enum PlansCmd {
    /// Upsert plans from a CSV file (SPEC §3.2).
    Import {
        file: PathBuf,
    },
    List,
}
#[derive(Debug, Subcommand)]
pub enum TariffsCmd {
    /// Upsert tariff rates from a CSV file (SPEC §3.4).
    Import {
        file: PathBuf,
    },
    List,
}

fn refused(problems: Vec<Problem>) -> Error {
    Error::BadInput(csvfile::report(
        &problems,
        "Fix the file and import it again.",
    ))
}

fn done(ctx: &Ctx, what: &str, file: &str, n: refstore::Upserted) -> anyhow::Result<()> {
    ctx.say(&format!(
        "{file}: {} {what} added, {} updated",
        n.inserted, n.updated
    ));
    if ctx.json {
        output::print_json(
            &serde_json::json!({"file": file, "inserted": n.inserted, "updated": n.updated}),
        )?;
    }
    Ok(())
}

pub fn customers(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    cmd: CustomersCmd,
) -> anyhow::Result<()> {
    match cmd {
        CustomersCmd::Import { file } => {
            let bytes = read_input(&file)?;
            let label = file_label(&file);
            let tx = store.write()?;
            let known = refstore::known(&tx)?;
            let dd = settings::get_or(&tx, "dd.format", "bacs18")?;
            let rows = reference::parse_customers(&label, &bytes, &known, &dd).map_err(refused)?;
            let n = refstore::upsert_customers(&tx, actor, &label, &rows)?;
            tx.commit()?;
            done(ctx, "customers", &label, n)
        }
        CustomersCmd::List => {
            let rows = refstore::list_customers(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "account",
                "name",
                "email",
                "delivery",
                "payment",
                "bank/card",
                "cycle",
                "services",
            ]);
            for r in rows {
                t.add_row(vec![
                    r.account,
                    r.name,
                    r.email.unwrap_or_default(),
                    r.delivery,
                    r.payment_method,
                    r.bank.unwrap_or_default(),
                    r.cycle,
                    r.services.to_string(),
                ]);
            }
            output::print_table(ctx, &t)
        }
    }
}

pub fn services(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    cmd: ServicesCmd,
) -> anyhow::Result<()> {
    match cmd {
        ServicesCmd::Import { file } => {
            let bytes = read_input(&file)?;
            let label = file_label(&file);
            let tx = store.write()?;
            let known = refstore::known(&tx)?;
            let rows = reference::parse_services(&label, &bytes, &known).map_err(refused)?;
            let n = refstore::upsert_services(&tx, actor, &label, &rows)?;
            tx.commit()?;
            done(ctx, "services", &label, n)
        }
        ServicesCmd::List => {
            let rows = refstore::list_services(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&["service", "account", "plan", "start", "end", "description"]);
            for r in rows {
                t.add_row(vec![
                    r.service,
                    r.account,
                    r.plan,
                    r.start_date,
                    r.end_date.unwrap_or_default(),
                    r.description,
                ]);
            }
            output::print_table(ctx, &t)
        }
    }
}

pub fn plans(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: PlansCmd) -> anyhow::Result<()> {
    match cmd {
        PlansCmd::Import { file } => {
            let bytes = read_input(&file)?;
            let label = file_label(&file);
            let tx = store.write()?;
            let known = refstore::known(&tx)?;
            let rows = reference::parse_plans(&label, &bytes, &known).map_err(refused)?;
            let n = refstore::upsert_plans(&tx, actor, &label, &rows)?;
            tx.commit()?;
            done(ctx, "plans", &label, n)
        }
        PlansCmd::List => {
            let rows = refstore::list_plans(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&["plan", "name", "monthly fee", "tariff", "services"]);
            for r in rows {
                t.add_row(vec![
                    r.plan,
                    r.name,
                    r.monthly_fee,
                    r.tariff,
                    r.services.to_string(),
                ]);
            }
            output::print_table(ctx, &t)
        }
    }
}

pub fn tariffs(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: TariffsCmd) -> anyhow::Result<()> {
    match cmd {
        TariffsCmd::Import { file } => {
            let bytes = read_input(&file)?;
            let label = file_label(&file);
            let tx = store.write()?;
            let rows = reference::parse_tariffs(&label, &bytes).map_err(refused)?;
            let n = refstore::upsert_tariffs(&tx, actor, &label, &rows)?;
            tx.commit()?;
            done(ctx, "rates", &label, n)
        }
        TariffsCmd::List => {
            let rows = refstore::list_rates(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "tariff",
                "prefix",
                "description",
                "type",
                "band",
                "flagfall",
                "rate",
                "incr",
                "min",
                "max",
            ]);
            for r in rows {
                t.add_row(vec![
                    r.tariff,
                    r.prefix,
                    r.description,
                    r.call_type,
                    r.band,
                    r.flagfall,
                    r.rate,
                    r.increment,
                    r.minimum_charge,
                    r.maximum_charge.unwrap_or_default(),
                ]);
            }
            output::print_table(ctx, &t)
        }
    }
}
