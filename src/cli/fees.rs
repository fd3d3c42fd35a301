//! `billrun fees import | list | codes add | codes list`: wholesale fixed
//! fees (SPEC §6.2), behind the setting `features.wholesale_fees`.

use super::output::{self, Ctx, file_label, read_input};
use crate::domain::{csvfile, fees, money};
use crate::error::{Error, precondition};
use crate::store::{Store, audit::Actor, fees as feestore, settings};
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

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    if !settings::get_bool(&store.conn, "features.wholesale_fees")? {
        return Err(precondition(
            "wholesale fixed fees are off: turn them on with `billrun config set features.wholesale_fees true`",
        )
        .into());
    }
    match cmd {
        Cmd::Import { file, carrier } => {
            let bytes = read_input(&file)?;
            let label = file_label(&file);
            let rows = fees::parse(&label, &bytes).map_err(|p| {
                Error::BadInput(csvfile::report(&p, "Fix the file and import it again."))
            })?;
            let tx = store.write()?;
            let r = feestore::import(&tx, actor, &carrier, &label, &sha256_hex(&bytes), &rows)?;
            tx.commit()?;
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
            let tx = store.write()?;
            feestore::add_code(&tx, actor, &code, &description)?;
            tx.commit()?;
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
