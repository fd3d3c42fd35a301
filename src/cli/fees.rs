//! `billrun fees import | list | codes add | codes list`: wholesale fixed
//! fees (docs/rating.md#wholesale-fixed-fees), behind the setting `features.wholesale_fees`.

use super::output::{self, Ctx, file_label, read_input};
use crate::domain::money;
use crate::ops::{self, SystemClock};
use crate::store::{Store, audit::Actor, fees as feestore};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Import a carrier's fixed-fee file and match its lines to services.
    Import {
        file: PathBuf,
        /// The carrier that sent the file.
        #[arg(long)]
        carrier: String,
    },
    /// List fee lines.
    List {
        #[arg(long)]
        account: Option<String>,
        /// Only matched lines no invoice has billed yet.
        #[arg(long)]
        unbilled: bool,
    },
    /// Fee codes: a line's fee code is known when it is a plan code or registered here.
    #[command(subcommand)]
    Codes(CodesCmd),
}

#[derive(Debug, Subcommand)]
pub enum CodesCmd {
    /// Register (or re-describe) a fee code.
    Add { code: String, description: String },
    /// Every known fee code.
    List,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    let settings = crate::store::settings::load(&store.conn)?;
    ops::fees::require_enabled(&settings)?;
    match cmd {
        Cmd::Import { file, carrier } => {
            let opts = ops::fees::ImportOptions {
                carrier,
                bytes: read_input(&file)?,
                label: file_label(&file),
            };
            let label = &opts.label;
            let r = ops::fees::import(store, actor, &opts, &settings, &SystemClock)?;
            ctx.say(&format!(
                "{label}: {} fee lines, {} matched, {} fee errors ({} fee_unknown_service, {} fee_unknown_code)",
                r.lines,
                r.matched,
                r.fee_unknown_service + r.fee_unknown_code,
                r.fee_unknown_service,
                r.fee_unknown_code
            ));
            if r.fee_unknown_service + r.fee_unknown_code > 0 {
                ctx.warn("fee errors must be resolved or ignored before the run: see `billrun errors --kind fee_unknown_service` and `--kind fee_unknown_code`");
            }
            if ctx.json {
                output::print_json(&r)?;
            }
            Ok(())
        }
        Cmd::List { account, unbilled } => {
            let rows = feestore::list(&store.conn, account.as_deref(), unbilled)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "id",
                "service",
                "code",
                "description",
                "amount",
                "period",
                "state",
                "account",
                "billed",
            ]);
            for f in rows {
                t.add_row(vec![
                    f.id.to_string(),
                    f.service,
                    f.fee_code,
                    f.description,
                    money::fmt(f.amount),
                    format!("{} – {}", f.period_start, f.period_end),
                    f.state,
                    f.account.unwrap_or_default(),
                    match f.invoice_id {
                        Some(i) => format!("invoice #{i}"),
                        None => "no".into(),
                    },
                ]);
            }
            output::print_table(ctx, &t)
        }
        Cmd::Codes(CodesCmd::Add { code, description }) => {
            ops::fees::add_code(store, actor, &code, &description, &settings, &SystemClock)?;
            ctx.say(&format!(
                "fee code {} registered; re-match open fee errors with `billrun errors rerate`",
                code.trim()
            ));
            Ok(())
        }
        Cmd::Codes(CodesCmd::List) => {
            let rows = feestore::list_codes(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&["code", "description", "source"]);
            for c in rows {
                t.add_row(vec![c.code, c.description, c.source]);
            }
            output::print_table(ctx, &t)
        }
    }
}
