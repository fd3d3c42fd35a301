//! `billrun charge add | list | remove`: one-off charges and credits (docs/rating.md#one-off-charges-and-credits).

use super::output::{self, Ctx};
use crate::domain::money;
use crate::ops::{self, SystemClock};
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

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add(a) => {
            let opts = ops::charges::AddOptions {
                account: a.account,
                amount: a.amount,
                description: a.description,
                service: a.service,
                date: a.date,
            };
            let added = ops::charges::add(store, actor, &opts, &SystemClock)?;
            let c = &added.new;
            if let Some((run, cutoff)) = &added.locked_run {
                ctx.warn(&format!(
                    "run {run} (cutoff {cutoff}) already has its bills requested: this charge will be billed by the next run"
                ));
            }
            let what = if c.amount_minor < 0 {
                "credit"
            } else {
                "charge"
            };
            ctx.say(&format!(
                "{what} #{} added: {} {} '{}' dated {}",
                added.id,
                c.account,
                money::fmt_minor(c.amount_minor),
                c.description,
                c.date
            ));
            if ctx.json
                && let Some(row) = &added.charge
            {
                output::print_json(row)?;
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
            let c = ops::charges::remove(store, actor, id)?;
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
