//! `collect.auto true`: production ends by submitting the run's
//! collections (docs/collection.md, "Auto-collection"). One function,
//! [`submit_run`], for every caller (`produce`, `request`, an autopilot):
//! cards through Stripe; Direct Debit through GoCardless (`dd.provider
//! gocardless`) or as a payment file in `collect.out_dir` (`dd.provider
//! file`). Each kind that has invoices to collect is submitted with the
//! same workflow as its `collect` command (same keys, same records, same
//! crash safety); a kind that cannot be submitted (no key, a gateway
//! down, bad bank details) is reported and left to the checklist, never
//! an error of the production that just completed.

use super::{
    ChargeOptions, ChargeReport, DdOptions, FileRunReport, GcOptions, GcReport, charge, dd,
    gocardless_dd,
};
use crate::domain::collect::Kind;
use crate::domain::settings::Settings;
use crate::error::Result;
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit::Actor, collect as store};
use serde::Serialize;
use std::path::PathBuf;

/// The secrets a submission may need (from the environment).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub stripe_api_key: Option<String>,
    pub gocardless_token: Option<String>,
}

/// What [`submit_run`] did. `problems` name what was not submitted and
/// why (the checklist's collection steps show the rest).
#[derive(Debug, Clone, Serialize, Default)]
pub struct AutoReport {
    /// Direct Debit as a payment file.
    pub dd_file: Option<FileRunReport>,
    /// Direct Debit through GoCardless.
    pub dd_gocardless: Option<GcReport>,
    /// Cards through Stripe.
    pub card: Option<ChargeReport>,
    pub problems: Vec<String>,
}

/// Which run to submit.
#[derive(Debug, Clone)]
pub struct AutoOptions {
    pub run_id: i64,
    /// The database file (payment files go to `collect.out_dir`, else
    /// beside it).
    pub db: PathBuf,
    pub secrets: Secrets,
}

/// Submit a completed run's collections (see the module docs).
pub fn submit_run(
    store: &mut Store,
    actor: &Actor,
    opts: &AutoOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<AutoReport> {
    let AutoOptions {
        run_id,
        db,
        secrets,
    } = opts;
    let run_id = *run_id;
    let mut report = AutoReport::default();
    let run = run_id.to_string();
    if waiting(store, run_id, Kind::Dd, settings)? {
        if settings.dd_provider == "gocardless" {
            let opts = GcOptions {
                run: run.clone(),
                date: None,
                retry_failed: false,
                token: secrets.gocardless_token.clone(),
            };
            match gocardless_dd(store, actor, &opts, settings, clock, progress) {
                Ok(r) => {
                    if let Some(why) = &r.token_refused {
                        report
                            .problems
                            .push(format!("GoCardless refused the token: {why}"));
                    }
                    if r.unanswered > 0 {
                        report.problems.push(format!(
                            "{} GoCardless payment(s) got no answer: run `billrun collect dd {run}`",
                            r.unanswered
                        ));
                    }
                    report.dd_gocardless = Some(r);
                }
                Err(e) => report
                    .problems
                    .push(format!("Direct Debit not submitted: {e}")),
            }
        } else {
            let opts = DdOptions {
                run: run.clone(),
                out: None,
                date: None,
                retry_failed: false,
                db: db.clone(),
                out_dir: settings.collect.out_dir.as_ref().map(PathBuf::from),
            };
            match dd(store, actor, &opts, settings, clock, progress) {
                Ok(r) => report.dd_file = Some(r),
                Err(e) => report
                    .problems
                    .push(format!("Direct Debit file not written: {e}")),
            }
        }
    }
    if waiting(store, run_id, Kind::Card, settings)? {
        let opts = ChargeOptions {
            run: run.clone(),
            retry_failed: false,
            api_key: secrets.stripe_api_key.clone(),
        };
        match charge(store, actor, &opts, settings, clock, progress) {
            Ok(r) => {
                if let Some(why) = &r.key_refused {
                    report
                        .problems
                        .push(format!("Stripe refused the API key: {why}"));
                }
                if r.unanswered > 0 {
                    report.problems.push(format!(
                        "{} card charge(s) got no answer: run `billrun collect card {run}`",
                        r.unanswered
                    ));
                }
                report.card = Some(r);
            }
            Err(e) => report.problems.push(format!("cards not charged: {e}")),
        }
    }
    Ok(report)
}

/// Whether run `run_id` has invoices of `kind` to collect now.
fn waiting(store: &Store, run_id: i64, kind: Kind, settings: &Settings) -> Result<bool> {
    let wanted = store::Wanted {
        run_id,
        kind,
        format: None,
        max_retries: settings.collect.max_retries,
        retry_failed: false,
    };
    Ok(!store::candidates(&store.conn, &wanted)?.is_empty())
}
