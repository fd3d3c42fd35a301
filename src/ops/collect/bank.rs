//! Bank reports in `collect results F` (docs/collection.md, "Bank
//! reports"): Bacs ARUDD and ADDACS, SEPA pain.002, ABA returns. Each item
//! is matched to exactly one payment item (or, for ADDACS, customer);
//! anything matching none, or more than one, is listed and left alone —
//! never guessed. A report is recorded by its SHA-256: read again, it
//! changes nothing. Bad reports change nothing (exit 4, `file:line:col`).

use super::results::{
    Applied, MandateChange, ResultsOptions, ResultsReport, Unknown, apply_effect,
};
use crate::domain::bank_report::{self, Format, Item};
use crate::domain::collect::{self as rules, ResultStatus};
use crate::domain::money;
use crate::domain::settings::Settings;
use crate::error::{Result, bad_input};
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit, audit::Actor, collect as store};
use sha2::{Digest, Sha256};

/// One matched change before it is applied.
struct Change {
    line: u64,
    item: store::Item,
    status: ResultStatus,
    reason: String,
}

pub(super) fn apply(
    store: &mut Store,
    actor: &Actor,
    opts: &ResultsOptions,
    format: Format,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<ResultsReport> {
    let label = &opts.label;
    let items = bank_report::parse(format, &opts.contents).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{label}:{}: {}", p.at, p.reason))
            .collect();
        bad_input(format!(
            "{label} is a {} with {} problem(s); nothing was changed:\n  {}",
            format.describe(),
            lines.len(),
            lines.join("\n  ")
        ))
    })?;
    let sha = hex::encode(Sha256::digest(&opts.contents));
    let fee = money::to_minor(settings.collect.dishonour_fee).map_err(bad_input)?;
    let today = clock.today();
    let tx = store.write()?;
    let mut report = ResultsReport {
        file: label.clone(),
        format: format.as_str(),
        applied: Vec::new(),
        unknown: Vec::new(),
        mandates: Vec::new(),
        info: Vec::new(),
        already_imported: store::bank_report_imported(&tx, &sha)?,
    };
    if report.already_imported.is_some() {
        return Ok(report);
    }
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    let mut mandates = Vec::new();
    progress.start("matching results", Some(items.len() as u64));
    for it in &items {
        progress.inc(1);
        let line = it.at().line;
        let mut unknown = |reference: &str, why: String| {
            report.unknown.push(Unknown {
                line,
                reference: reference.to_string(),
                why: Some(why),
            });
        };
        match it {
            Item::BacsReturn {
                mandate_ref,
                amount_minor,
                processing_date,
                reason,
                ..
            } => {
                let found =
                    store::bacs_items_returned(&tx, mandate_ref, *amount_minor, *processing_date)?;
                let what = format!(
                    "{} for {} processed {processing_date}",
                    mandate_ref,
                    money::fmt_minor(*amount_minor)
                );
                match <[store::Item; 1]>::try_from(found) {
                    Ok([item]) => changes.push(Change {
                        line,
                        item,
                        status: ResultStatus::Dishonoured,
                        reason: reason.clone(),
                    }),
                    Err(v) if v.is_empty() => unknown(
                        mandate_ref,
                        format!("no Bacs item matches {what} (mandate, amount and processing day)"),
                    ),
                    Err(v) => unknown(
                        mandate_ref,
                        format!(
                            "{} Bacs items match {what}: {}; record the right one with a \
                             results CSV",
                            v.len(),
                            v.iter()
                                .map(|i| i.reference.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                }
            }
            Item::AbaReturn {
                reference,
                amount_minor,
                reason,
                ..
            } => match store::item_in_format(&tx, "aba", reference)? {
                Some(item) if item.amount_minor == *amount_minor => changes.push(Change {
                    line,
                    item,
                    status: ResultStatus::Dishonoured,
                    reason: reason.clone(),
                }),
                Some(item) => unknown(
                    reference,
                    format!(
                        "the ABA item {reference} collected {}, the return says {}",
                        money::fmt_minor(item.amount_minor),
                        money::fmt_minor(*amount_minor)
                    ),
                ),
                None => unknown(reference, "no ABA item has this lodgement reference".into()),
            },
            Item::SepaRejected {
                end_to_end_id,
                reason,
                ..
            } => match store::item_in_format(&tx, "sepa", end_to_end_id)? {
                Some(item) => changes.push(Change {
                    line,
                    item,
                    status: ResultStatus::Declined,
                    reason: reason.clone(),
                }),
                None => unknown(end_to_end_id, "no SEPA item has this end-to-end id".into()),
            },
            Item::SepaGroupRejected {
                msg_id,
                pmt_inf_id,
                reason,
                ..
            } => {
                let run = sepa_run_id(msg_id);
                let run_items = match run {
                    Some(id) => store::sepa_run_items(&tx, id, msg_id)?,
                    None => None,
                };
                let Some(run_items) = run_items else {
                    unknown(
                        msg_id,
                        "no SEPA payment run wrote a file with this message id".into(),
                    );
                    continue;
                };
                // PmtInfId is the MsgId plus -FRST / -RCUR (payfile::sepa).
                let seq = match pmt_inf_id {
                    None => None,
                    Some(p) => match p.strip_prefix(msg_id.as_str()) {
                        Some("-FRST") => Some("FRST"),
                        Some("-RCUR") => Some("RCUR"),
                        _ => {
                            unknown(
                                p,
                                format!("not a payment information id of message {msg_id}"),
                            );
                            continue;
                        }
                    },
                };
                for item in run_items {
                    if seq.is_some_and(|s| item.sequence.as_deref() != Some(s)) {
                        continue;
                    }
                    changes.push(Change {
                        line,
                        item,
                        status: ResultStatus::Declined,
                        reason: reason.clone(),
                    });
                }
            }
            Item::Mandate {
                mandate_ref,
                status,
                effective,
                reason,
                ..
            } => {
                let accounts = store::customers_with_mandate(&tx, mandate_ref)?;
                match <[String; 1]>::try_from(accounts) {
                    Ok([account]) => {
                        mandates.push((line, account, mandate_ref, *status, *effective, reason))
                    }
                    Err(v) if v.is_empty() => {
                        unknown(mandate_ref, "no customer has this mandate reference".into())
                    }
                    Err(v) => unknown(
                        mandate_ref,
                        format!(
                            "{} customers have this mandate reference ({}); fix them with \
                             `billrun customers import`",
                            v.len(),
                            v.join(", ")
                        ),
                    ),
                }
            }
            Item::Info { what, .. } => report.info.push(format!("line {line}: {what}")),
        }
    }
    // An item named twice in one report (a repeated return, or a
    // transaction inside a rejected block) is changed once: the first.
    let mut seen = std::collections::HashSet::new();
    changes.retain(|c| {
        let first = seen.insert(c.item.id);
        if !first {
            report.info.push(format!(
                "line {}: {} is named earlier in this report: applied once",
                c.line, c.item.reference
            ));
        }
        first
    });
    // A status an item cannot take is a problem: nothing changes.
    let mut checked = Vec::new();
    for c in changes {
        match rules::effect(c.item.state, c.status) {
            Ok(e) => checked.push((c, e)),
            Err(why) => problems.push(format!(
                "{label}:{}: {} ({}): {why}",
                c.line, c.item.reference, c.item.invoice
            )),
        }
    }
    if !problems.is_empty() {
        return Err(bad_input(format!(
            "{label}: {} item(s) cannot be applied; nothing was changed:\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    progress.start("applying results", Some(checked.len() as u64));
    for (c, e) in checked {
        let state = c.status.state();
        apply_effect(&tx, actor, &c.item, state, e, Some(&c.reason), today, fee)?;
        progress.inc(1);
        report.applied.push(Applied {
            line: c.line,
            reference: c.item.reference.clone(),
            account: c.item.account.clone(),
            invoice: c.item.invoice.clone(),
            amount: money::fmt_minor(c.item.amount_minor),
            from: c.item.state.as_str(),
            to: state.as_str(),
            effect: e.describe(),
        });
    }
    for (line, account, mandate_ref, status, on, reason) in mandates {
        let (from, _) = store::mandate_status(&tx, &account)?;
        if from.as_deref() != Some(status.as_str()) {
            store::set_mandate_status(&tx, actor, &account, status.as_str(), on, reason)?;
        }
        report.mandates.push(MandateChange {
            line,
            account,
            mandate_ref: mandate_ref.clone(),
            from,
            to: status.as_str(),
            on,
            reason: reason.clone(),
        });
    }
    // A report with items that matched nothing is not taken as read: once
    // the operator has fixed what was missing, reading it again applies
    // them (what was applied already is unchanged by its state).
    if report.unknown.is_empty() {
        store::record_bank_report(&tx, actor, &sha, format.as_str(), label, items.len())?;
    }
    audit::log(
        &tx,
        actor,
        None,
        "collect results",
        &format!(
            "{label} ({}, SHA-256 {sha}): {} items applied, {} mandates, {} unknown",
            format.describe(),
            report.applied.len(),
            report.mandates.len(),
            report.unknown.len()
        ),
    )?;
    tx.commit()?;
    progress.finish();
    Ok(report)
}

/// The payment run a billrun SEPA message id names:
/// `BILLRUN-<run, 6 digits>-<created>` (payfile::sepa).
fn sepa_run_id(msg_id: &str) -> Option<i64> {
    let rest = msg_id.strip_prefix("BILLRUN-")?;
    let (n, _) = rest.split_once('-')?;
    n.parse().ok()
}
