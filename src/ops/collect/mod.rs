//! Collection: Direct Debit files, card charges, results (docs/collection.md).
//!
//! - [`dd`] and [`card_file`] write a payment file: the payment run is
//!   committed durably (`synchronous=FULL`) before its file, staged beside
//!   its path, is renamed into place, so a submittable file always has its
//!   payment run on disk; the run records the file's bytes, and one left
//!   out of place by an interrupted run is put in place by the next;
//! - [`charge`] charges card invoices through Stripe, each item (with its
//!   idempotency key) committed before its request and its outcome after;
//! - [`results`] applies a bank or gateway results file in one transaction;
//! - [`list`] and [`show`] read payment runs.
//!
//! Payment files are written mode 0600, never over an existing file. Bank
//! account numbers and card tokens are masked everywhere except in the
//! payment files.

mod auto;
mod bank;
mod card;
mod dd;
mod gocardless;
mod results;
mod sync;
#[cfg(test)]
mod tests;

pub use auto::{AutoOptions, AutoReport, Secrets, submit_run};
pub use card::{ChargeOptions, ChargeReport, charge};
pub use dd::{CardFileOptions, DdOptions, FileRunReport, NothingNew, Restored, card_file, dd};
pub use gocardless::{GcOptions, GcReport, gocardless_dd};
pub use results::{ResultsOptions, ResultsReport, results};
pub use sync::{SyncOptions, SyncReport, sync};

use crate::domain::calendar::{self, Calendar};
use crate::domain::collect::DdFormat;
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::settings::Settings;
use crate::error::{Result, bad_input, precondition};
use crate::store::{Store, collect as store, runs};
use serde::Serialize;

/// The debit date (and the date for the file) of a Direct Debit run by
/// `cal`: `asked` (`--date`) or the due date, kept to working days and to
/// the scheme's submission deadline. The one rule for payment files and
/// GoCardless's `charge_date` alike.
pub(crate) fn debit_dates(
    cal: &Calendar,
    asked: Option<chrono::NaiveDate>,
    due: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Result<calendar::DebitDates> {
    calendar::plan_dates(cal, asked, due, today).map_err(|e| match e {
        calendar::DateError::NotWorkingDay { .. } => bad_input(e.to_string()),
        calendar::DateError::TooLate { .. } => precondition(format!(
            "{e}: choose a later --date, or leave --date out to collect on the earliest \
             possible date"
        )),
    })
}

/// The working-day calendar of `format`, with the extra closing days of
/// the `dd.holidays` file when it is set (docs/collection.md, "Dates").
/// An unreadable file is exit 3, a bad line exit 4 with `file:line:column`.
pub fn dd_calendar(settings: &Settings, format: DdFormat) -> Result<Calendar> {
    let extra = match settings.dd.holidays.as_deref() {
        None | Some("") => Default::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                precondition(format!(
                    "dd.holidays names {path}, which cannot be read ({e}): fix the file or \
                     `billrun config set dd.holidays FILE`"
                ))
            })?;
            calendar::parse_holidays(&text).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(|p| format!("{path}:{p}")).collect();
                bad_input(format!(
                    "dd.holidays file {path} has {} bad line(s):\n  {}\nfix them (one date \
                     YYYY-MM-DD a line, `#` comments) and run it again",
                    lines.len(),
                    lines.join("\n  ")
                ))
            })?
        }
    };
    Ok(Calendar::new(format.scheme(), extra))
}

/// The billing run `key` (id or name), which must have its invoices produced.
fn produced_run(store: &Store, key: &str) -> Result<runs::Run> {
    let run = runs::resolve(&store.conn, key)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}: invoices are collected once they are produced (status completed); see `billrun status {}`",
            run.id,
            run.status.as_str(),
            run.id
        )));
    }
    Ok(run)
}

/// A payment run with its figures, as `collect list` and `collect show`
/// show it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: i64,
    pub run: i64,
    pub run_name: String,
    pub kind: String,
    pub format: String,
    pub collection_date: Option<String>,
    pub currency: String,
    pub state: String,
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub items: i64,
    pub total: String,
    pub approved: i64,
    pub approved_total: String,
    pub failed: i64,
    pub refer: i64,
    pub live: i64,
    pub created_at: String,
    pub created_by: String,
    /// When its file was put in place; `null` while it is not (an
    /// interrupted run: the next `collect` puts it there) and for Stripe.
    pub placed_at: Option<String>,
    /// Direct Debit: the day customers are debited (`collection_date` is
    /// the date in the file: for Bacs the processing day before it).
    pub debit_date: Option<String>,
}

impl From<store::PaymentRun> for RunView {
    fn from(p: store::PaymentRun) -> RunView {
        RunView {
            id: p.id,
            run: p.run_id,
            run_name: p.run_name,
            kind: p.kind,
            format: p.format,
            collection_date: p.collection_date,
            currency: p.currency,
            state: p.state,
            file: p.file,
            sha256: p.sha256,
            items: p.items,
            total: money::fmt_minor(p.total_minor),
            approved: p.approved,
            approved_total: money::fmt_minor(p.approved_minor),
            failed: p.failed,
            refer: p.referred,
            live: p.live,
            created_at: p.created_at,
            created_by: p.created_by,
            placed_at: p.placed_at,
            debit_date: p.debit_date,
        }
    }
}

/// One payment item, masked, as `collect show` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub reference: String,
    pub invoice: String,
    pub account: String,
    pub payee: String,
    pub amount: String,
    pub sequence: Option<String>,
    pub attempt: u32,
    pub state: &'static str,
    pub reason: Option<String>,
    pub gateway_id: Option<String>,
}

/// One payment run with its items (`collect show`).
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    #[serde(flatten)]
    pub run: RunView,
    pub items_detail: Vec<ItemView>,
}

/// Every payment run, oldest first.
pub fn list(store: &Store) -> Result<Vec<RunView>> {
    Ok(store::list(&store.conn)?
        .into_iter()
        .map(RunView::from)
        .collect())
}

/// Payment run `id` with its items, in file order.
pub fn show(store: &Store, id: i64) -> Result<ShowReport> {
    let p = store::get(&store.conn, id)?
        .ok_or_else(|| bad_input(format!("no payment run {id}: see `billrun collect list`")))?;
    let items = store::items(&store.conn, p.id)?
        .into_iter()
        .map(|i| ItemView {
            amount: money::fmt_minor(i.amount_minor),
            state: i.state.as_str(),
            reference: i.reference,
            invoice: i.invoice,
            account: i.account,
            payee: i.payee,
            sequence: i.sequence,
            attempt: i.attempt,
            reason: i.reason,
            gateway_id: i.gateway_id,
        })
        .collect();
    Ok(ShowReport {
        run: p.into(),
        items_detail: items,
    })
}
