//! `billrun payments add | import | list` (SPEC §7).

use super::output::{self, Ctx, file_label, read_input};
use crate::domain::{csvfile, money, payments};
use crate::error::Error;
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
    },
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
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add(a) => {
            let tx = store.write()?;
            let known = paystore::known(&tx)?;
            let p = payments::check_one(
                &known,
                &a.account,
                &a.date,
                &a.amount,
                &a.method,
                &a.reference,
            )
            .map_err(|errs| {
                Error::BadInput(
                    errs.iter()
                        .map(|(f, e)| format!("{f}: {e}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            })?;
            let ids = paystore::insert(&tx, actor, std::slice::from_ref(&p), "manual", None)?;
            tx.commit()?;
            ctx.say(&format!(
                "payment #{} recorded: {} {} {} '{}' on {}",
                ids[0],
                p.account,
                money::fmt_minor(p.amount_minor),
                p.method,
                p.reference,
                p.date
            ));
            if ctx.json {
                output::print_json(&serde_json::json!({"id": ids[0]}))?;
            }
            Ok(())
        }
        Cmd::Import { file, format } => {
            let bytes = read_input(&file)?;
            let label = file_label(&file);
            let tx = store.write()?;
            let known = paystore::known(&tx)?;
            let rows = if format == "xero" {
                payments::parse_xero(&label, &bytes, &known)
            } else {
                payments::parse_csv(&label, &bytes, &known)
            }
            .map_err(|p| {
                Error::BadInput(csvfile::report(&p, "Fix the file and import it again."))
            })?;
            let sha = sha256_hex(&bytes);
            let f = paystore::ImportFile {
                format: &format,
                file: &label,
                sha256: &sha,
            };
            paystore::insert(&tx, actor, &rows, &format, Some(&f))?;
            tx.commit()?;
            let total: i64 = rows.iter().map(|p| p.amount_minor).sum();
            ctx.say(&format!(
                "{label}: {} payments imported ({format}), total {}",
                rows.len(),
                money::fmt_minor(total)
            ));
            if ctx.json {
                output::print_json(&serde_json::json!({
                    "file": label, "format": format, "imported": rows.len(),
                    "total": money::fmt_minor(total),
                }))?;
            }
            Ok(())
        }
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
