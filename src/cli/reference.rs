//! `billrun customers|services|plans|tariffs import FILE | list`.
//! Imports are all or nothing: every bad row is reported, nothing changes.

use super::output::{self, Ctx, file_label, read_input};
use crate::ops;
use crate::ops::reference::{Import, Kind};
use crate::store::{Store, audit::Actor, reference as refstore, settings};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CustomersCmd {
    /// Upsert customers from a CSV file (docs/file-formats.md#customerscsv).
    Import {
        file: PathBuf,
    },
    List,
}
#[derive(Debug, Subcommand)]
pub enum ServicesCmd {
    /// Upsert services from a CSV file (docs/file-formats.md#servicescsv).
    Import {
        file: PathBuf,
    },
    List,
}
#[derive(Debug, Subcommand)]
pub enum PlansCmd {
    /// Upsert plans from a CSV file (docs/file-formats.md#planscsv).
    Import {
        file: PathBuf,
    },
    List,
}
#[derive(Debug, Subcommand)]
pub enum TariffsCmd {
    /// Upsert tariff rates from a CSV file (docs/file-formats.md#tariffscsv).
    Import {
        file: PathBuf,
    },
    List,
}

/// Read the file, import it, and say what changed.
pub(crate) fn import(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    kind: Kind,
    what: &str,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let bytes = read_input(file)?;
    let label = file_label(file);
    let settings = settings::load(&store.conn)?;
    let n = ops::reference::import(store, actor, &Import { kind, label, bytes }, &settings)?;
    ctx.say(&format!(
        "{}: {} {what} added, {} updated",
        n.file, n.inserted, n.updated
    ));
    if ctx.json {
        output::print_json(&n)?;
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
            import(ctx, store, actor, Kind::Customers, "customers", &file)
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
                "gateway",
                "cycle",
                "services",
                "mandate",
            ]);
            for r in rows {
                let gateway = [
                    r.stripe_customer.as_deref(),
                    r.gocardless_mandate.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                t.add_row(vec![
                    r.account,
                    r.name,
                    r.email.unwrap_or_default(),
                    r.delivery,
                    r.payment_method,
                    r.bank.unwrap_or_default(),
                    gateway,
                    r.cycle,
                    r.services.to_string(),
                    match (&r.mandate_status, &r.mandate_status_on) {
                        (Some(s), Some(on)) => format!("{s} {on}"),
                        (Some(s), None) => s.clone(),
                        _ => String::new(),
                    },
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
            import(ctx, store, actor, Kind::Services, "services", &file)
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
        PlansCmd::Import { file } => import(ctx, store, actor, Kind::Plans, "plans", &file),
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
        TariffsCmd::Import { file } => import(ctx, store, actor, Kind::Tariffs, "rates", &file),
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
