//! `status`: the next-steps checklist of one run, the latest open run, or
//! every open run.

use super::Clock;
use super::run_steps::RunView;
use crate::domain::checklist::{self, CarrierPeriod, CdrFacts, Stage, State, Step, StepKey};
use crate::domain::settings::Settings;
use crate::domain::setup_check::SetupProblem;
use crate::error::{Result, bad_input};
use crate::store::{Store, runs, status};
use serde::Serialize;

/// Which runs.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// Run id or name (default: the latest open run).
    pub run: Option<String>,
    /// Every open run (not complete).
    pub all: bool,
}

/// The CDR files banner above the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Banner {
    pub pending_cdr_files: u64,
    pub processing_cdr_files: u64,
    pub failed_cdr_files: u64,
    pub detail: String,
}

impl Banner {
    /// The banner of the CDR files' states.
    pub fn of(c: &CdrFacts) -> Banner {
        let parts: Vec<String> = [
            (c.pending_files, "pending"),
            (c.processing_files, "processing"),
            (c.failed_files, "failed"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        Banner {
            pending_cdr_files: c.pending_files,
            processing_cdr_files: c.processing_files,
            failed_cdr_files: c.failed_files,
            detail: if parts.is_empty() {
                "no CDR files pending".to_string()
            } else {
                format!("CDR files: {}", parts.join(", "))
            },
        }
    }

    /// CDR files not yet processed.
    pub fn unfinished(&self) -> u64 {
        self.pending_cdr_files + self.processing_cdr_files + self.failed_cdr_files
    }
}

/// One run's checklist, as `status --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatusDoc {
    pub run: RunView,
    pub banner: Banner,
    pub steps: Vec<Step>,
    pub next: Option<StepKey>,
    pub complete: bool,
    /// The Check CDRs step carrier by carrier: files and lines this period
    /// against the previous run's period.
    pub cdr_carriers: Vec<CarrierPeriod>,
    /// The Check customer setup step: every customer that cannot be
    /// billed, delivered or collected as set up, with its fix.
    pub setup_problems: Vec<SetupProblem>,
    /// Each carrier's latest `cdr fetch` from its remote source: when, how
    /// many files came in, or why it failed.
    pub carrier_fetches: Vec<crate::store::sources::LastFetch>,
    /// The stage to show in text: pre-billing until bills are requested.
    #[serde(skip)]
    pub stage: Stage,
}

impl RunStatusDoc {
    /// A step waits for the operator.
    pub fn needs_operator(&self) -> bool {
        self.steps.iter().any(|s| s.state == State::Todo)
    }
}

/// The checklist of `run` now.
pub fn document(
    store: &Store,
    run: &runs::Run,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<RunStatusDoc> {
    let facts = status::facts(&store.conn, run, settings, clock.now())?;
    let cl = checklist::compute(&facts);
    Ok(RunStatusDoc {
        run: RunView::of(&store.conn, run, settings)?,
        banner: Banner::of(&facts.cdr),
        steps: cl.steps,
        next: cl.next,
        complete: cl.complete,
        cdr_carriers: facts.cdr.by_carrier,
        setup_problems: facts.setup_problems,
        carrier_fetches: crate::store::sources::last_fetches(&store.conn)?,
        stage: cl.stage,
    })
}

/// The CDR files banner alone (for `runs`).
pub fn banner(store: &Store) -> Result<Banner> {
    let mut c = CdrFacts::default();
    (c.pending_files, c.processing_files, c.failed_files) =
        crate::store::cdrs::file_state_counts(&store.conn)?;
    Ok(Banner::of(&c))
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub runs: Vec<RunStatusDoc>,
    /// Some step of some run waits for the operator (`status --check`).
    pub needs_operator: bool,
}

pub fn status(
    store: &Store,
    opts: &StatusOptions,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<StatusReport> {
    let conn = &store.conn;
    let selected: Vec<runs::Run> = if opts.all {
        let complete = |r: &runs::Run| -> Result<bool> {
            let facts = status::facts(conn, r, settings, clock.now())?;
            Ok(checklist::compute(&facts).complete)
        };
        // Cancelled runs are closed: not listed, never waiting.
        runs::list(conn)?
            .into_iter()
            .filter(|r| !r.status.is_cancelled())
            .filter(|r| !complete(r).unwrap_or(false))
            .collect()
    } else if let Some(key) = &opts.run {
        vec![runs::resolve(conn, key)?]
    } else {
        match runs::latest_open(conn)? {
            Some(r) => vec![r],
            None => {
                return Err(bad_input(
                    "no billing runs yet: create one with `billrun new --invoice-date D --cutoff D`",
                ));
            }
        }
    };
    let runs = selected
        .iter()
        .map(|r| document(store, r, settings, clock))
        .collect::<Result<Vec<_>>>()?;
    Ok(StatusReport {
        needs_operator: runs.iter().any(RunStatusDoc::needs_operator),
        runs,
    })
}
