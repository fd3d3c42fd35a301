//! Billing cycles: add one, and `tick` (for cron): create the runs that are
//! due.

use super::Clock;
use crate::domain::cycles;
use crate::domain::settings::Settings;
use crate::error::Result;
use crate::store::runs::{self, Run};
use crate::store::{Store, audit::Actor, reference};
use chrono::NaiveDate;

/// `billrun cycles add`.
#[derive(Debug, Clone)]
pub struct AddCycle {
    pub name: String,
    /// Day of the month of the invoice date (1-31).
    pub day: u32,
    /// Days from invoice date to due date (default: `invoice.due_days`).
    pub due_days: Option<u32>,
}

/// Add (or change) a cycle.
pub fn add(store: &mut Store, actor: &Actor, opts: &AddCycle) -> Result<()> {
    let tx = store.write()?;
    reference::add_cycle(&tx, actor, &opts.name, opts.day, opts.due_days)?;
    tx.commit()?;
    Ok(())
}

/// `billrun cycles remove NAME`: refused while the cycle has runs that are
/// not completed or cancelled, or customers; audited. The cycle's row stays
/// for its past runs, marked removed.
pub fn remove(store: &mut Store, actor: &Actor, name: &str, clock: &dyn Clock) -> Result<()> {
    let tx = store.write()?;
    let now = clock.stamp();
    reference::remove_cycle(&tx, actor, name, &now)?;
    tx.commit()?;
    Ok(())
}

/// `billrun cycles tick`.
#[derive(Debug, Clone, Default)]
pub struct Tick {
    /// Pretend today is this date (default: the clock's).
    pub today: Option<NaiveDate>,
}

/// Create, in one transaction, the run each cycle has due on or before
/// today, unless it exists (idempotent). Returns the runs created.
pub fn tick(
    store: &mut Store,
    actor: &Actor,
    opts: &Tick,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<Vec<Run>> {
    let today = opts.today.unwrap_or_else(|| clock.today());
    let default_due = settings.invoice.due_days;
    let tx = store.write()?;
    let mut created = Vec::new();
    for c in reference::list_cycles(&tx)? {
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
        created.push(runs::create(
            &tx,
            actor,
            Some(&due.name),
            &c.name,
            &f,
            clock.now(),
        )?);
    }
    tx.commit()?;
    Ok(created)
}
