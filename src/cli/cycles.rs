//! `billrun cycles add|list|remove|tick`.

use super::output::{self, Ctx};
use crate::ops::{self, SystemClock};
use crate::store::{Store, audit::Actor, reference as refstore, settings};
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
    /// Remove a cycle (refused while it has open runs or customers; audited).
    Remove {
        name: String,
    },
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
            let opts = ops::cycles::AddCycle {
                name,
                day,
                due_days,
            };
            ops::cycles::add(store, actor, &opts)?;
            ctx.say(&format!(
                "cycle {}: invoices on day {} of each month",
                opts.name, opts.day
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
        Cmd::Remove { name } => {
            ops::cycles::remove(store, actor, &name, &SystemClock)?;
            ctx.say(&format!("cycle {name} removed"));
        }
        Cmd::Tick { today } => {
            let settings = settings::load(&store.conn)?;
            let opts = ops::cycles::Tick { today };
            let created = ops::cycles::tick(store, actor, &opts, &settings, &SystemClock)?;
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
