//! `billrun charge add | list | remove`: one-off charges and credits (SPEC §6.3).

use super::output::{self, Ctx};
use crate::domain::{csvfile, money, payments::parse_amount_minor, rating::normalise_number};
use crate::error::{Error, bad_input};
use crate::store::{Store, audit::Actor, charges};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add a one-off charge, or a credit (negative amount).
    Add(AddArgs),
    /// List charges and credits.
    List {
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
        /// Only those no invoice has billed yet.
        #[arg(long)]
        unbilled: bool,
    },
    /// Remove a charge that is not billed yet.
    Remove {
        /// The charge id (see `billrun charge list`).
        id: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Customer account.
    #[arg(long)]
    pub account: String,
    /// Amount ex-tax, at most two decimals; negative for a credit (e.g. -10.00).
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// Text printed on the invoice line.
    #[arg(long)]
    pub description: String,
    /// The service it is for (must belong to the account).
    #[arg(long)]
    pub service: Option<String>,
    /// Date YYYY-MM-DD (default today); billed by the first run whose cutoff is on or after it.
    #[arg(long)]
    pub date: Option<String>,
}

fn bad(flag: &str, e: String) -> Error {
    bad_input(format!("{flag}: {e}"))
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add(a) => {
            let amount_minor = parse_amount_minor(&a.amount).map_err(|e| bad("--amount", e))?;
            if amount_minor == 0 {
                return Err(bad("--amount", "a charge of 0.00 bills nothing".into()).into());
            }
            let description = a.description.trim().to_string();
            if description.is_empty() {
                return Err(bad("--description", "must not be empty".into()).into());
            }
            let date = match &a.date {
                Some(d) => csvfile::date(d.trim()).map_err(|e| bad("--date", e))?,
                None => chrono::Local::now().date_naive(),
            };
            let service = match &a.service {
                Some(s) => {
                    let n = normalise_number(s);
                    if n.is_empty() {
                        return Err(bad("--service", format!("'{s}' has no digits")).into());
                    }
                    Some(n)
                }
                None => None,
            };
            let c = charges::NewCharge {
                account: a.account.trim().to_string(),
                service,
                date,
                description,
                amount_minor,
                source: "manual".into(),
            };
            let tx = store.write()?;
            let id = charges::add(&tx, actor, &c)?;
            let locked = charges::locked_run_covering(&tx, &c.account, c.date)?;
            tx.commit()?;
            if let Some((run, cutoff)) = locked {
                ctx.warn(&format!(
                    "run {run} (cutoff {cutoff}) already has its bills requested: this charge will be billed by the next run"
                ));
            }
            let what = if amount_minor < 0 { "credit" } else { "charge" };
            ctx.say(&format!(
                "{what} #{id} added: {} {} '{}' dated {}",
                c.account,
                money::fmt_minor(amount_minor),
                c.description,
                c.date
            ));
            if ctx.json
                && let Some(row) = charges::get(&store.conn, id)?
            {
                output::print_json(&row)?;
            }
            Ok(())
        }
        Cmd::List { account, unbilled } => {
            let rows = charges::list(&store.conn, account.as_deref(), unbilled)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "id",
                "date",
                "account",
                "service",
                "description",
                "amount",
                "billed",
            ]);
            let mut total = 0;
            for r in &rows {
                total += r.amount_minor;
                t.add_row(vec![
                    r.id.to_string(),
                    r.date.to_string(),
                    r.account.clone(),
                    r.service.clone().unwrap_or_default(),
                    r.description.clone(),
                    money::fmt_minor(r.amount_minor),
                    match r.invoice_id {
                        Some(i) => format!("invoice #{i}"),
                        None => "no".into(),
                    },
                ]);
            }
            output::print_table(ctx, &t)?;
            ctx.say(&format!(
                "{} charges, total {}",
                rows.len(),
                money::fmt_minor(total)
            ));
            Ok(())
        }
        Cmd::Remove { id } => {
            let tx = store.write()?;
            let c = charges::remove(&tx, actor, id)?;
            tx.commit()?;
            ctx.say(&format!(
                "charge #{id} removed: {} {} '{}'",
                c.account,
                money::fmt_minor(c.amount_minor),
                c.description
            ));
            if ctx.json {
                output::print_json(&serde_json::json!({"removed": id}))?;
            }
            Ok(())
        }
    }
}
