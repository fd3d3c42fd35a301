//! `billrun payments add | import | list` (docs/file-formats.md#payments).

use super::output::{self, Ctx, file_label, read_input};
use crate::domain::money;
use crate::ops::payments::{AddOptions, Format, ImportOptions};
use crate::ops::{self, SystemClock};
use crate::store::{Store, audit::Actor, payments as paystore};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Record one payment received.
    Add(AddArgs),
    /// Import a payments file (all or nothing).
    Import {
        file: PathBuf,
        /// csv: account, date, amount, method, reference; xero: Xero's payments export.
        #[arg(long, default_value = "csv", value_parser = ["csv", "xero"])]
        format: String,
        /// Accept payment dates more than 7 days ahead or more than a year back.
        #[arg(long)]
        allow_date: bool,
    },
    /// Fetch the payments Xero recorded since the last fetch (xero.mode api).
    Fetch,
    /// List payments.
    List {
        /// Only payments no invoice has applied yet.
        #[arg(long)]
        unallocated: bool,
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[arg(long)]
    pub account: String,
    /// Amount received, above zero, at most two decimals.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// Date received, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// direct_debit, card, bank_transfer, cash, cheque or xero.
    #[arg(long)]
    pub method: String,
    /// The payment's reference (unique per account).
    #[arg(long)]
    pub reference: String,
    /// Accept a date more than 7 days ahead or more than a year back.
    #[arg(long)]
    pub allow_date: bool,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add(a) => {
            let opts = AddOptions {
                account: a.account,
                amount: a.amount,
                date: a.date,
                method: a.method,
                reference: a.reference,
                allow_date: a.allow_date,
            };
            let added = ops::payments::add(store, actor, &opts, &SystemClock)?;
            let p = &added.payment;
            ctx.say(&format!(
                "payment #{} recorded: {} {} {} '{}' on {}",
                added.id,
                p.account,
                money::fmt_minor(p.amount_minor),
                p.method,
                p.reference,
                p.date
            ));
            if ctx.json {
                output::print_json(&added)?;
            }
            Ok(())
        }
        Cmd::Import {
            file,
            format,
            allow_date,
        } => {
            let opts = ImportOptions {
                bytes: read_input(&file)?,
                label: file_label(&file),
                format: if format == "xero" {
                    Format::Xero
                } else {
                    Format::Csv
                },
                allow_date,
            };
            let r = ops::payments::import(store, actor, &opts, &SystemClock)?;
            ctx.say(&format!(
                "{}: {} payments imported ({}), total {}",
                r.file, r.imported, r.format, r.total
            ));
            if let Some(w) = &r.warning {
                ctx.warn(w);
            }
            if ctx.json {
                output::print_json(&r)?;
            }
            Ok(())
        }
        Cmd::Fetch => fetch(ctx, store, actor),
        Cmd::List {
            unallocated,
            account,
        } => {
            let rows = paystore::list(
                &store.conn,
                &paystore::Filter {
                    account,
                    unallocated,
                },
            )?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "id",
                "date",
                "account",
                "method",
                "reference",
                "amount",
                "allocated",
            ]);
            let mut total = 0;
            for p in &rows {
                total += p.amount_minor;
                t.add_row(vec![
                    p.id.to_string(),
                    p.date.to_string(),
                    p.account.clone(),
                    p.method.clone(),
                    p.reference.clone(),
                    money::fmt_minor(p.amount_minor),
                    match p.invoice_id {
                        Some(i) => format!("invoice #{i}"),
                        None => "no".into(),
                    },
                ]);
            }
            output::print_table(ctx, &t)?;
            ctx.say(&format!(
                "{} payments, total {}",
                rows.len(),
                money::fmt_minor(total)
            ));
            Ok(())
        }
    }
}

fn fetch(ctx: &Ctx, store: &mut Store, actor: &Actor) -> anyhow::Result<()> {
    let settings = crate::store::settings::load(&store.conn)?;
    let client = if settings.xero.api {
        super::xero::client(&settings)?
    } else {
        crate::gateway::xero::XeroClient::new(
            "",
            "",
            String::new(),
            String::new(),
            Default::default(),
        )
    };
    let r = ops::xero_fetch::fetch(
        store,
        actor,
        &settings,
        &client,
        &SystemClock,
        &super::progress::Bar::new(ctx),
    )?;
    if ctx.json {
        return output::print_json(&r);
    }
    ctx.say(&format!(
        "{} payments from Xero{}: {} recorded ({}), {} linked to earlier imports, {} recorded before",
        r.fetched,
        r.since
            .as_deref()
            .map(|s| format!(" changed since {s}"))
            .unwrap_or_default(),
        r.recorded,
        r.total,
        r.linked,
        r.already_recorded
    ));
    for (title, list) in [
        ("skipped", &r.skipped),
        (
            "deleted in Xero after they were recorded",
            &r.deleted_in_xero,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        ctx.warn(&format!("{} {title}", list.len()));
        let mut t = ctx.table(&["Xero payment", "invoice", "amount", "reason"]);
        for s in list {
            t.add_row(vec![
                s.payment_id.clone(),
                s.invoice.clone().unwrap_or_default(),
                s.amount.clone(),
                s.reason.clone(),
            ]);
        }
        if !ctx.quiet {
            output::print_table(ctx, &t)?;
        }
    }
    Ok(())
}
