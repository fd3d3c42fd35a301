//! `billrun cycles add|list|tick`.

use super::output::{self, Ctx};
use crate::domain::cycles;
use crate::store::{Store, audit::Actor, reference as refstore, runs, settings};
use chrono::NaiveDate;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add (or change) a billing cycle billing on day D of every month.
    Add {
        #[arg(long)]
        name: String,
        /// Day of the month of the invoice date (1-31; the cutoff is the day before).
        #[arg(long)]
        day: u32,
        /// Days from invoice date to due date (default: setting invoice.due_days).
        #[arg(long)]
        due_days: Option<u32>,
    },
    List,
    /// Create the runs that are due (idempotent; for cron).
    Tick {
        /// Pretend today is this date (YYYY-MM-DD).
        #[arg(long)]
        today: Option<NaiveDate>,
    },
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add {
            name,
            day,
            due_days,
        } => {
            let tx = store.write()?;
            refstore::add_cycle(&tx, actor, &name, day, due_days)?;
            tx.commit()?;
            ctx.say(&format!(
                "cycle {name}: invoices on day {day} of each month"
            ));
        }
        Cmd::List => {
            let rows = refstore::list_cycles(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&["cycle", "day", "due days", "customers"]);
            for r in rows {
                t.add_row(vec![
                    r.name,
                    r.day.to_string(),
                    r.due_days
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "default".into()),
                    r.customers.to_string(),
                ]);
            }
            output::print_table(ctx, &t)?;
        }
        Cmd::Tick { today } => {
            let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
            let tx = store.write()?;
            let default_due: u32 = settings::get_or(&tx, "invoice.due_days", "14")?
                .parse()
                .unwrap_or(14);
            let mut created = Vec::new();
            for c in refstore::list_cycles(&tx)? {
                let due = cycles::due_run(&c.name, c.day, c.due_days.unwrap_or(default_due), today);
                if runs::exists_for(&tx, &c.name, due.invoice_date)? {
                    continue;
                }
                let f = runs::Fields {
                    invoice_date: Some(Some(due.invoice_date)),
                    cutoff_date: Some(Some(due.cutoff)),
                    due_date: Some(Some(due.due_date)),
                    invoice_message: None,
                };
                let r = runs::create(&tx, actor, Some(&due.name), &c.name, &f)?;
                created.push(r);
            }
            tx.commit()?;
            for r in &created {
                ctx.say(&format!(
                    "created run {} '{}' (cutoff {})",
                    r.id,
                    r.name,
                    r.cutoff_date.map(|d| d.to_string()).unwrap_or_default()
                ));
            }
            if created.is_empty() {
                ctx.say("no runs due");
            }
            if ctx.json {
                output::print_json(&created)?;
            }
        }
    }
    Ok(())
}
