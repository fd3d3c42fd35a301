//! A bank or gateway results file (`collect results F`).

use crate::domain::bank_report;
use crate::domain::collect::{self as rules, Effect};
use crate::domain::csvfile::Problem;
use crate::domain::money;
use crate::domain::settings::Settings;
use crate::error::{Result, bad_input};
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit, audit::Actor, collect as store};
use chrono::NaiveDate;
use serde::Serialize;

/// `collect results F`.
#[derive(Debug, Clone)]
pub struct ResultsOptions {
    /// The file's name in messages (as the operator typed it).
    pub label: String,
    /// The file's bytes: CSV with columns reference, status, reason.
    pub contents: Vec<u8>,
}

/// What one results row did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub line: u64,
    pub reference: String,
    pub account: String,
    pub invoice: String,
    pub amount: String,
    /// The item's state before and after.
    pub from: &'static str,
    pub to: &'static str,
    pub effect: &'static str,
}

/// A row (or report item) matching no payment item (or, for ADDACS, no
/// customer): nothing changed for it.
#[derive(Debug, Clone, Serialize)]
pub struct Unknown {
    pub line: u64,
    pub reference: String,
    /// Bank reports: why it matched nothing (or more than one item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// A customer's mandate status set by an ADDACS report.
#[derive(Debug, Clone, Serialize)]
pub struct MandateChange {
    pub line: u64,
    pub account: String,
    pub mandate_ref: String,
    /// The status before (`null`: none reported) and after.
    pub from: Option<String>,
    pub to: &'static str,
    pub on: NaiveDate,
    pub reason: String,
}

/// What `collect results F` did.
#[derive(Debug, Clone, Serialize)]
pub struct ResultsReport {
    /// The file's label.
    pub file: String,
    /// The format recognised: `csv`, `arudd`, `addacs`, `pain.002`,
    /// `aba_return`.
    pub format: &'static str,
    pub applied: Vec<Applied>,
    pub unknown: Vec<Unknown>,
    /// ADDACS: mandate statuses set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mandates: Vec<MandateChange>,
    /// Bank report statuses that change nothing (accepted, pending …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<String>,
    /// A bank report read before (same SHA-256): when. Nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_imported: Option<String>,
}

impl ResultsReport {
    /// Rows that moved an item to `state` (from another state).
    pub fn moved_to(&self, state: &str) -> usize {
        self.applied
            .iter()
            .filter(|x| x.to == state && x.from != state)
            .count()
    }
    /// Rows that changed nothing.
    pub fn unchanged(&self) -> usize {
        self.applied.iter().filter(|x| x.from == x.to).count()
    }
}

/// Apply a results file in one transaction. All or nothing for bad rows
/// (file:line problems, including a status the item cannot take); unknown
/// references are reported in [`ResultsReport::unknown`] and skipped, the
/// other rows applied.
pub fn results(
    store: &mut Store,
    actor: &Actor,
    opts: &ResultsOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<ResultsReport> {
    let label = &opts.label;
    let format =
        bank_report::detect(&opts.contents).map_err(|e| bad_input(format!("{label}:{e}")))?;
    if format != bank_report::Format::Csv {
        return super::bank::apply(store, actor, opts, format, settings, clock, progress);
    }
    let rows =
        rules::parse_results(label, &opts.contents).map_err(|p| bad_input(rules::report(&p)))?;
    let fee = money::to_minor(settings.collect.dishonour_fee).map_err(bad_input)?;
    let today = clock.today();
    let tx = store.write()?;
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    let mut changes = Vec::new();
    progress.start("matching results", Some(rows.len() as u64));
    for r in &rows {
        progress.inc(1);
        match store::item_by_reference(&tx, &r.reference)? {
            None => unknown.push(Unknown {
                line: r.line,
                reference: r.reference.clone(),
                why: None,
            }),
            Some(item) => match rules::effect(item.state, r.status) {
                Ok(e) => changes.push((r, item, e)),
                Err(why) => problems.push(Problem {
                    file: label.clone(),
                    line: r.line,
                    col: None,
                    column: Some("status".into()),
                    reason: format!("{}: {why}", r.reference),
                }),
            },
        }
    }
    if !problems.is_empty() {
        return Err(bad_input(rules::report(&problems)));
    }
    let mut applied = Vec::new();
    progress.start("applying results", Some(changes.len() as u64));
    for (r, item, e) in changes {
        let state = r.status.state();
        apply_effect(&tx, actor, &item, state, e, r.reason.as_deref(), today, fee)?;
        progress.inc(1);
        applied.push(Applied {
            line: r.line,
            reference: item.reference.clone(),
            account: item.account.clone(),
            invoice: item.invoice.clone(),
            amount: money::fmt_minor(item.amount_minor),
            from: item.state.as_str(),
            to: state.as_str(),
            effect: e.describe(),
        });
    }
    audit::log(
        &tx,
        actor,
        None,
        "collect results",
        &format!(
            "{label}: {} rows applied, {} unknown references",
            applied.len(),
            unknown.len()
        ),
    )?;
    tx.commit()?;
    progress.finish();
    Ok(ResultsReport {
        file: label.clone(),
        format: format.as_str(),
        applied,
        unknown,
        mandates: Vec::new(),
        info: Vec::new(),
        already_imported: None,
    })
}

/// Apply one result to `item`: its new `state` by `effect` (payments,
/// reversals and the dishonour fee as docs/collection.md says).
#[allow(clippy::too_many_arguments, reason = "one result's facts")]
pub(super) fn apply_effect(
    tx: &rusqlite::Connection,
    actor: &Actor,
    item: &store::Item,
    state: rules::ItemState,
    effect: Effect,
    reason: Option<&str>,
    today: NaiveDate,
    fee: i64,
) -> Result<()> {
    match effect {
        Effect::Unchanged => {}
        Effect::Approve => {
            store::approve(tx, actor, item, today, None, reason)?;
        }
        Effect::Fail { .. } => {
            let failure = store::Failure {
                state,
                reason,
                gateway_id: None,
                date: today,
                fee_minor: rules::dishonour_fee(state, fee),
            };
            store::fail(tx, actor, item, &failure)?;
        }
        Effect::Refer => store::refer(tx, actor, item, reason)?,
    }
    Ok(())
}
