//! `autopilot`: walk every open run as far as the policy (`auto.*`)
//! allows, doing each step with the same op the CLI runs, audited with the
//! operator `autopilot` and the rule that allowed it; stop each run at the
//! first step the policy does not allow or whose condition is not met; tell
//! `notify.email` once when a run newly needs a person or completes.
//!
//! Safety rests on each op's own idempotency (confirmations, production,
//! emails, Xero files, print bundles and payment runs are each recorded and
//! never done twice), so a kill anywhere is resumed by the next invocation.
//! One autopilot at a time: an OS lock on `<db>.files/autopilot.lock`,
//! released by the OS when the process ends (a killed one never blocks).
//!
//! The gateways: `Pilot::fetch_payments` (Xero API `payments fetch`),
//! `Pilot::sync_collections` (`collect sync`: Stripe and GoCardless),
//! `Pilot::xero` (`xero push` in API mode, else the import file) and
//! `Pilot::collect_dd` (a payment file, or GoCardless with
//! `dd.provider gocardless`).

use super::{Clock, Progress};
use crate::domain::autopilot::{self as rules, StopKind};
use crate::domain::checklist::{self, Facts, Step, StepKey};
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::settings::Settings;
use crate::error::{Error, Result};
use crate::store::audit::Actor;
use crate::store::autopilot::{self as notices, Notice};
use crate::store::runs::{self, Run};
use crate::store::{Store, cdrs, status};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The operator name of everything the autopilot does.
pub const OPERATOR: &str = "autopilot";

/// `billrun autopilot`.
#[derive(Debug)]
pub struct AutopilotOptions<'a> {
    pub db: &'a Path,
    /// Say what would be done, change nothing.
    pub dry_run: bool,
    /// `cdr fetch`'s settle interval.
    pub settle: Duration,
    /// `STRIPE_API_KEY`, for card collection.
    pub stripe_key: Option<String>,
    /// `BILLRUN_SMTP_PASSWORD`, for invoice emails and the notice.
    pub smtp_password: Option<String>,
    /// `GOCARDLESS_ACCESS_TOKEN`, for `dd.provider gocardless` and sync.
    pub gocardless_token: Option<String>,
    /// The Xero API client (`xero.mode api`; `None` in csv mode), or why
    /// there is none (credentials missing).
    pub xero: Option<std::result::Result<crate::gateway::xero::XeroClient, String>>,
}

/// One thing done (or, on a dry run, that would be done).
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub run: Option<i64>,
    pub step: String,
    /// The policy rule that allowed it.
    pub rule: String,
    pub detail: String,
}

/// A run stopped at a step.
#[derive(Debug, Clone, Serialize)]
pub struct Wait {
    pub run: i64,
    pub run_name: String,
    pub step: StepKey,
    /// `person`: someone must act (exit 3); `later`: time moves it on.
    pub kind: StopKind,
    pub why: String,
    /// The command to act.
    pub command: String,
}

/// An outside service failed (exit 5).
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub run: Option<i64>,
    pub step: String,
    pub why: String,
    pub command: String,
}

/// The summary sent to `notify.email`.
#[derive(Debug, Clone, Serialize)]
pub struct Notified {
    pub to: String,
    pub subject: String,
    /// `sent`, `failed`, or `would send` on a dry run.
    pub state: String,
    pub runs_needing_a_person: Vec<i64>,
    pub runs_completed: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AutopilotReport {
    pub dry_run: bool,
    /// Another autopilot holds the lock: this one did nothing.
    pub locked: Option<String>,
    /// Runs `cycles tick` created (or would create).
    pub created_runs: Vec<String>,
    pub actions: Vec<Action>,
    pub waiting: Vec<Wait>,
    pub failures: Vec<Failure>,
    /// Runs that completed during this invocation.
    pub completed: Vec<i64>,
    /// Every run found complete (for the completion notice).
    #[serde(skip)]
    pub complete_now: Vec<i64>,
    pub notified: Option<Notified>,
    /// Policy rules that are on but have nothing to act with in this build.
    pub notes: Vec<String>,
}

impl AutopilotReport {
    /// Something waits on a person.
    pub fn needs_person(&self) -> bool {
        self.waiting.iter().any(|w| w.kind == StopKind::Person)
    }

    /// 0 nothing waits on a person, 3 something does, 5 an outside service
    /// failed (5 wins: the service must be fixed first).
    pub fn exit_code(&self) -> u8 {
        if !self.failures.is_empty() {
            5
        } else if self.needs_person() {
            3
        } else {
            0
        }
    }
}

/// The lock file of the autopilot on this database.
pub fn lock_path(db: &Path) -> PathBuf {
    crate::store::files_dir(db).join("autopilot.lock")
}

/// Run the autopilot once.
pub fn run(
    store: &mut Store,
    opts: &AutopilotOptions<'_>,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<AutopilotReport> {
    let mut report = AutopilotReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    // A dry run writes nothing, so it needs no lock (and creates no file).
    let _lock = if opts.dry_run {
        None
    } else {
        match lock(opts.db, clock)? {
            Ok(f) => f,
            Err(holder) => {
                report.locked = Some(holder);
                return Ok(report);
            }
        }
    };
    let mut p = Pilot {
        store,
        settings,
        clock,
        progress,
        opts,
        report,
    };
    p.tick()?;
    p.fetch_cdrs()?;
    p.fetch_payments();
    p.sync_collections();
    let open: Vec<Run> = runs::list(&p.store.conn)?
        .into_iter()
        .filter(|r| !r.status.is_cancelled())
        .collect();
    for run in &open {
        p.walk(run)?;
    }
    p.notify(&open)?;
    Ok(p.report)
}

/// Take the lock: `Ok(Ok(file))` held (None for an in-memory database),
/// `Ok(Err(holder))` another autopilot holds it.
fn lock(
    db: &Path,
    clock: &dyn Clock,
) -> Result<std::result::Result<Option<std::fs::File>, String>> {
    use std::io::{Seek, Write};
    if db.as_os_str().is_empty() {
        return Ok(Ok(None));
    }
    let path = lock_path(db);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::error::external(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(&path).map_err(|e| {
        crate::error::external(format!(
            "cannot open the autopilot lock {}: {e}",
            path.display()
        ))
    })?;
    match f.try_lock() {
        Ok(()) => {
            let holder = format!("pid {}, since {}\n", std::process::id(), clock.stamp());
            let _ = f
                .set_len(0)
                .and_then(|()| f.rewind())
                .and_then(|()| f.write_all(holder.as_bytes()));
            Ok(Ok(Some(f)))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            Ok(Err(format!(
                "another autopilot is running on this database ({}): this one did nothing",
                holder.trim()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(crate::error::external(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// What one step of a run came to.
enum Outcome {
    /// Something was done: look at the run again.
    Progressed,
    /// Dry run: something would be done here; the walk stops.
    Planned,
    Stop(StopKind, String, String),
    Fail(String, String),
    Complete,
}

fn person(why: impl Into<String>, command: impl Into<String>) -> Outcome {
    Outcome::Stop(StopKind::Person, why.into(), command.into())
}

struct Pilot<'a, 'o> {
    store: &'a mut Store,
    settings: &'a Settings,
    clock: &'a dyn Clock,
    /// The long steps' progress (produce, email, collect, …); the
    /// autopilot's own walk is quick.
    progress: &'a dyn Progress,
    opts: &'a AutopilotOptions<'o>,
    report: AutopilotReport,
}

/// The actor of an action allowed by `rule` (the audit log's operator and
/// command), stamping what it records with `clock`'s time when that clock
/// stands still (`BILLRUN_TEST_NOW`, the demo's month).
fn actor(clock: &dyn Clock, rule: &str, why: &str) -> Actor {
    Actor {
        at: clock.frozen(),
        operator: OPERATOR.into(),
        command: if why.is_empty() {
            format!("billrun autopilot (policy {rule})")
        } else {
            format!("billrun autopilot (policy {rule}: {why})")
        },
    }
}

impl Pilot<'_, '_> {
    fn act(&mut self, run: Option<i64>, step: &str, rule: &str, detail: impl Into<String>) {
        self.report.actions.push(Action {
            run,
            step: step.into(),
            rule: rule.into(),
            detail: detail.into(),
        });
    }

    /// A dry run's answer at a step it would act on: say what, change nothing.
    fn planned(
        &mut self,
        run: Option<i64>,
        step: &str,
        rule: &str,
        detail: impl Into<String>,
    ) -> Outcome {
        self.act(run, step, rule, detail);
        Outcome::Planned
    }

    fn fail(&mut self, run: Option<i64>, step: &str, why: String, command: &str) {
        self.report.failures.push(Failure {
            run,
            step: step.into(),
            why,
            command: command.into(),
        });
    }

    /// Create the runs that are due (`cycles tick`).
    fn tick(&mut self) -> Result<()> {
        if self.opts.dry_run {
            let today = self.clock.today();
            let conn = &self.store.conn;
            for c in crate::store::reference::list_cycles(conn)? {
                let due_days = c.due_days.unwrap_or(self.settings.invoice.due_days);
                let due = crate::domain::cycles::due_run(&c.name, c.day, due_days, today);
                if !runs::exists_for(conn, &c.name, due.invoice_date)? {
                    self.report.created_runs.push(due.name);
                }
            }
            return Ok(());
        }
        let created = super::cycles::tick(
            self.store,
            &actor(self.clock, "cycles tick", ""),
            &super::cycles::Tick::default(),
            self.settings,
            self.clock,
        )?;
        self.report.created_runs = created.into_iter().map(|r| r.name).collect();
        Ok(())
    }

    /// `auto.fetch_cdrs`: `cdr fetch`, then `cdr process`.
    fn fetch_cdrs(&mut self) -> Result<()> {
        const RULE: &str = "auto.fetch_cdrs";
        if !self.settings.auto.fetch_cdrs {
            return Ok(());
        }
        let conn = &self.store.conn;
        let inboxes = cdrs::list_carriers(conn)?
            .iter()
            .filter(|c| c.inbox.is_some())
            .count();
        let (pending, _, _) = cdrs::file_state_counts(conn)?;
        if self.opts.dry_run {
            self.act(
                None,
                "cdr fetch",
                RULE,
                format!("would fetch CDR files from {inboxes} carrier inboxes and rate every pending file ({pending} now)"),
            );
            return Ok(());
        }
        let who = actor(self.clock, RULE, "");
        if inboxes > 0 {
            let fo = super::cdr_import::FetchOptions {
                actor: &who,
                db: self.opts.db,
                settle: self.opts.settle,
            };
            let mut f = super::cdr_import::fetch(self.store, &fo, self.clock, self.progress)?;
            let n = f.fetched().count();
            if n > 0 {
                self.act(None, "cdr fetch", RULE, format!("{n} CDR files fetched"));
            }
            if let Some(e) = f.stopped.take() {
                self.stopped_global("cdr fetch", e, "billrun cdr fetch")?;
            }
        }
        let (pending, _, _) = cdrs::file_state_counts(&self.store.conn)?;
        if pending > 0 {
            let mut r = super::cdr_import::process(
                self.store,
                &who,
                self.opts.db,
                self.settings,
                self.clock,
                self.progress,
            )?;
            let failed = r.failed().count();
            self.act(
                None,
                "cdr process",
                RULE,
                format!(
                    "{} CDR files rated, {failed} failed",
                    r.files.len() - failed
                ),
            );
            if let Some(e) = r.stopped.take() {
                self.stopped_global("cdr process", e, "billrun cdr process")?;
            }
        }
        Ok(())
    }

    /// An op stopped outside any run: outside failures are reported, the
    /// rest are errors.
    fn stopped_global(&mut self, step: &str, e: Error, command: &str) -> Result<()> {
        if e.exit_code() == 5 {
            self.fail(None, step, e.to_string(), command);
            Ok(())
        } else {
            Err(e)
        }
    }

    /// `auto.fetch_payments`: payments recorded in Xero (`payments fetch`,
    /// API mode). In csv mode the payments come from files a person
    /// downloads, so only a note says so.
    fn fetch_payments(&mut self) {
        const RULE: &str = "auto.fetch_payments";
        const CMD: &str = "billrun payments fetch";
        if !self.settings.auto.fetch_payments {
            return;
        }
        let client = match &self.opts.xero {
            None => {
                self.report.notes.push(
                    "auto.fetch_payments is on, but xero.mode is csv: import Xero's payments export with `billrun payments import FILE --format xero`".into(),
                );
                return;
            }
            Some(Err(why)) => {
                self.fail(None, "fetch_payments", why.clone(), CMD);
                return;
            }
            Some(Ok(c)) => c,
        };
        if self.opts.dry_run {
            self.act(
                None,
                "fetch_payments",
                RULE,
                "would fetch the payments recorded in Xero",
            );
            return;
        }
        match super::xero_fetch::fetch(
            self.store,
            &actor(self.clock, RULE, ""),
            self.settings,
            client,
            self.clock,
            self.progress,
        ) {
            Ok(r) => {
                if r.recorded > 0 || r.linked > 0 {
                    self.act(
                        None,
                        "fetch_payments",
                        RULE,
                        format!(
                            "{} payments recorded from Xero ({} linked to ones already imported)",
                            r.recorded, r.linked
                        ),
                    );
                }
            }
            Err(e) => self.fail(None, "fetch_payments", e.to_string(), CMD),
        }
    }

    /// `auto.sync`: the outcome of card charges left `processing` (Stripe)
    /// and GoCardless's payment and mandate events (`collect sync`).
    fn sync_collections(&mut self) {
        const RULE: &str = "auto.sync";
        const CMD: &str = "billrun collect sync";
        if !self.settings.auto.sync {
            return;
        }
        if self.opts.dry_run {
            self.act(
                None,
                "sync",
                RULE,
                "would ask Stripe and GoCardless for collection outcomes",
            );
            return;
        }
        let opts = super::collect::SyncOptions {
            stripe_api_key: self.opts.stripe_key.clone(),
            gocardless_token: self.opts.gocardless_token.clone(),
        };
        match super::collect::sync(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(r) => {
                if r.changed() > 0 {
                    self.act(
                        None,
                        "sync",
                        RULE,
                        format!("{} collection outcomes recorded", r.changed()),
                    );
                }
                for e in r.errors {
                    self.fail(None, "sync", e, CMD);
                }
            }
            // A missing key or token is a person's to set, not an outage.
            Err(e) if e.exit_code() == 3 => self.report.notes.push(e.to_string()),
            Err(e) => self.fail(None, "sync", e.to_string(), CMD),
        }
    }

    /// Walk one run as far as the policy allows.
    fn walk(&mut self, run0: &Run) -> Result<()> {
        let mut was_complete = None;
        let mut resumed: Vec<StepKey> = Vec::new();
        let mut last: Option<(StepKey, String)> = None;
        // Each step moves the run on; the bound only guards against a step
        // that reports progress without making any.
        for _ in 0..40 {
            let run = runs::resolve(&self.store.conn, &run0.id.to_string())?;
            let facts = status::facts(&self.store.conn, &run, self.settings, self.clock.now())?;
            let cl = checklist::compute(&facts);
            let next = cl
                .steps
                .iter()
                .find(|s| !s.state.is_settled() && s.key != StepKey::Complete)
                .cloned();
            // Gateway payments sent but never answered (a kill between a
            // request and its record) are re-sent with their idempotency
            // keys (`collect card` and `collect dd` do) first, whatever
            // waits before their step (an email waiting for a person): a
            // batch cut short must not stay half collected.
            let resume = self.unanswered_collection(&run, &facts.invoices, &resumed);
            // Complete only once nothing waits to be re-sent.
            was_complete.get_or_insert(cl.complete && resume.is_none());
            if let Some(key) = resume {
                resumed.push(key);
                if let Some(step) = cl.steps.iter().find(|s| s.key == key).cloned() {
                    let outcome = match key {
                        StepKey::CollectCard => self.collect_card(&run, &step)?,
                        _ => self.collect_gocardless(&run, &step)?,
                    };
                    match outcome {
                        Outcome::Progressed => continue,
                        Outcome::Planned => return Ok(()),
                        other => return self.stop_at(&run, key, other),
                    }
                }
            }
            let outcome = match (&next, cl.complete) {
                (_, true) | (None, _) => Outcome::Complete,
                (Some(step), false) => {
                    let here = (step.key, format!("{:?} {}", step.state, step.detail));
                    if last.as_ref() == Some(&here)
                        && !matches!(run.status, RunStatus::Requested | RunStatus::Running)
                    {
                        // The last action left the step as it was.
                        person(step.detail.clone(), step.command.clone())
                    } else {
                        last = Some(here);
                        self.step(&run, &facts, step)?
                    }
                }
            };
            let key = next.as_ref().map(|s| s.key).unwrap_or(StepKey::Complete);
            match outcome {
                Outcome::Progressed => continue,
                Outcome::Complete => {
                    self.report.complete_now.push(run.id);
                    if was_complete == Some(false) {
                        self.report.completed.push(run.id);
                    }
                    return Ok(());
                }
                other => return self.stop_at(&run, key, other),
            }
        }
        Ok(())
    }

    /// The collection step with payments a gateway was asked for but never
    /// answered (Stripe card charges, GoCardless payments), not resumed yet
    /// in this walk.
    fn unanswered_collection(
        &self,
        run: &Run,
        facts: &checklist::InvoiceFacts,
        resumed: &[StepKey],
    ) -> Option<StepKey> {
        if !self.settings.auto.collect || run.status != RunStatus::Completed {
            return None;
        }
        // The counts the checklist's facts just read (store::collect::facts).
        if self.settings.auto.cards_by_stripe
            && !resumed.contains(&StepKey::CollectCard)
            && facts.card_unanswered > 0
        {
            return Some(StepKey::CollectCard);
        }
        if self.settings.dd_provider == "gocardless"
            && !resumed.contains(&StepKey::CollectDd)
            && facts.dd_unanswered > 0
        {
            return Some(StepKey::CollectDd);
        }
        None
    }

    /// Record where the walk of `run` stopped.
    fn stop_at(&mut self, run: &Run, key: StepKey, outcome: Outcome) -> Result<()> {
        match outcome {
            Outcome::Stop(kind, why, command) => self.report.waiting.push(Wait {
                run: run.id,
                run_name: run.name.clone(),
                step: key,
                kind,
                why,
                command,
            }),
            Outcome::Fail(why, command) => self.fail(Some(run.id), key.as_str(), why, &command),
            Outcome::Progressed | Outcome::Planned | Outcome::Complete => {}
        }
        Ok(())
    }

    /// Map an op's error to the run's outcome: outside failures (exit 5)
    /// are failures, refusals and bad data need a person, the rest are
    /// errors of the autopilot itself.
    fn from_error(e: Error, command: &str) -> Result<Outcome> {
        match e.exit_code() {
            5 => Ok(Outcome::Fail(e.to_string(), command.into())),
            3 | 4 => Ok(person(e.to_string(), command)),
            _ => Err(e),
        }
    }

    /// Do (or plan) the step `s` of `run`.
    fn step(&mut self, run: &Run, f: &Facts, s: &Step) -> Result<Outcome> {
        let auto = self.settings.auto.clone();
        // Production under way (requested, or interrupted) comes first.
        if matches!(run.status, RunStatus::Requested | RunStatus::Running) {
            if !auto.request {
                return Ok(person(
                    format!(
                        "production is not finished; {}",
                        rules::policy_off("auto.request")
                    ),
                    format!("billrun produce {}", run.id),
                ));
            }
            return self.produce(run, "auto.request");
        }
        let id = run.id;
        match s.key {
            StepKey::SetDates | StepKey::CheckSetup | StepKey::CheckFeeErrors => {
                Ok(person(s.detail.clone(), s.command.clone()))
            }
            StepKey::CheckPayments => {
                if !auto.confirm_payments {
                    return Ok(person(
                        rules::policy_off("auto.confirm_payments"),
                        s.command.clone(),
                    ));
                }
                self.confirm(
                    run,
                    StepKey::CheckPayments,
                    "auto.confirm_payments",
                    "",
                    None,
                )
            }
            StepKey::CheckCdrs => self.check_cdrs(run, f, s),
            StepKey::CheckErrors => {
                if !auto.confirm_errors {
                    return Ok(person(
                        rules::policy_off("auto.confirm_errors"),
                        s.command.clone(),
                    ));
                }
                let cost = cdrs::open_errors_cost(&self.store.conn)?;
                let open: u64 = f.open_errors.iter().map(|e| e.1).sum();
                let max = auto.errors_max_cost;
                if !rules::errors_within(cost, max) {
                    return Ok(person(
                        format!(
                            "{open} billing errors are open with carrier cost {} at risk, above auto.errors_max_cost {}: {}",
                            money::fmt(cost),
                            money::fmt(max),
                            s.detail
                        ),
                        format!(
                            "billrun errors {id}; fix the cause and billrun errors rerate, or billrun confirm {id} errors"
                        ),
                    ));
                }
                let why = format!(
                    "{open} open errors, carrier cost {} <= {}",
                    money::fmt(cost),
                    money::fmt(max)
                );
                self.confirm(
                    run,
                    StepKey::CheckErrors,
                    "auto.confirm_errors",
                    &why,
                    Some(open),
                )
            }
            StepKey::Prebill => self.prebill(run, s),
            StepKey::Request => {
                if !auto.request {
                    return Ok(person(rules::policy_off("auto.request"), s.command.clone()));
                }
                if !rules::may_request(self.clock.today(), run.invoice_date) {
                    return Ok(Outcome::Stop(
                        StopKind::Later,
                        format!(
                            "bills are requested on or after the invoice date {}",
                            run.invoice_date.map(|d| d.to_string()).unwrap_or_default()
                        ),
                        s.command.clone(),
                    ));
                }
                self.request(run)
            }
            StepKey::Production => self.produce(run, "auto.request"),
            StepKey::Postbill => self.postbill(run, f, s),
            StepKey::Xero => self.xero(run, s),
            StepKey::Email => self.email(run, s),
            StepKey::Print => self.print(run, s),
            StepKey::CollectDd => self.collect_dd(run, s),
            StepKey::CollectCard => self.collect_card(run, s),
            StepKey::Complete => Ok(Outcome::Complete),
        }
    }

    fn confirm(
        &mut self,
        run: &Run,
        step: StepKey,
        rule: &str,
        why: &str,
        accept_open_errors: Option<u64>,
    ) -> Result<Outcome> {
        let arg = step.confirm_arg().unwrap_or(step.as_str());
        let detail = if why.is_empty() {
            format!("confirm {arg}")
        } else {
            format!("confirm {arg} ({why})")
        };
        if self.opts.dry_run {
            self.act(Some(run.id), step.as_str(), rule, format!("would {detail}"));
            return Ok(Outcome::Planned);
        }
        let mut c = super::run_steps::Confirm::step(&run.id.to_string(), step);
        c.accept_open_errors = accept_open_errors;
        let command = format!("billrun confirm {} {arg}", run.id);
        match super::run_steps::confirm(
            self.store,
            &actor(self.clock, rule, why),
            &c,
            self.settings,
            self.clock,
        ) {
            Ok(_) => {
                self.act(Some(run.id), step.as_str(), rule, detail);
                Ok(Outcome::Progressed)
            }
            Err(e) => Self::from_error(e, &command),
        }
    }

    fn check_cdrs(&mut self, run: &Run, f: &Facts, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.confirm_cdrs";
        if !self.settings.auto.confirm_cdrs {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let c = &f.cdr;
        if c.failed_files > 0 {
            return Ok(person(
                format!(
                    "{} CDR files failed to process: {}",
                    c.failed_files, s.detail
                ),
                "billrun cdr list; fix or ignore each (billrun cdr ignore FILE)",
            ));
        }
        if c.pending_files + c.processing_files > 0 {
            let kind = if self.settings.auto.fetch_cdrs {
                StopKind::Later
            } else {
                StopKind::Person
            };
            return Ok(Outcome::Stop(
                kind,
                format!(
                    "{} CDR files pending, {} processing",
                    c.pending_files, c.processing_files
                ),
                "billrun cdr process".into(),
            ));
        }
        let missing = c.unacknowledged_missing();
        if !missing.is_empty() {
            let kind = rules::missing_files_stop(self.clock.today(), run.invoice_date);
            return Ok(Outcome::Stop(
                kind,
                format!("no CDR file this period from {}", missing.join(", ")),
                s.command.clone(),
            ));
        }
        self.confirm(
            run,
            StepKey::CheckCdrs,
            RULE,
            "every carrier delivered, every file processed",
            None,
        )
    }

    fn prebill(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.prebill";
        if !self.settings.auto.prebill {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        let report = super::prebill::report(&self.store.conn, run, self.settings)?;
        let allowed = &self.settings.auto.prebill_allow_flags;
        let flagged: Vec<String> = report
            .customers
            .iter()
            .filter_map(|c| {
                let stop = rules::stopping_flags(&c.flags, allowed);
                (!stop.is_empty()).then(|| format!("{} ({})", c.account, stop.join(", ")))
            })
            .collect();
        let stored = runs::prebill_snapshot(&self.store.conn, id)?;
        let current = serde_json::to_string(&report).expect("a report serialises");
        let fresh = stored.as_deref() == Some(current.as_str());
        if self.opts.dry_run {
            self.act(
                Some(id),
                "prebill",
                RULE,
                if flagged.is_empty() && report.setup_problems.is_empty() {
                    "would run the pre-billing report and confirm it".to_string()
                } else {
                    format!(
                        "would run the pre-billing report; not confirm it: {} flagged customers, {} setup problems",
                        flagged.len(),
                        report.setup_problems.len()
                    )
                },
            );
            return Ok(Outcome::Planned);
        }
        // The snapshot is taken when it differs from what the report says
        // now (once per change, never at every invocation).
        if !fresh {
            // The report just computed (not a second pass over the CDRs).
            let tx = self.store.write()?;
            super::prebill::save_snapshot(
                &tx,
                &actor(self.clock, RULE, ""),
                run,
                &report,
                self.clock,
            )?;
            tx.commit()?;
            self.act(
                Some(id),
                "prebill",
                RULE,
                format!(
                    "pre-billing report: {} invoices, total {}",
                    report.totals.invoices, report.totals.total
                ),
            );
        }
        if !flagged.is_empty() || !report.setup_problems.is_empty() {
            let mut why = Vec::new();
            if !flagged.is_empty() {
                why.push(format!(
                    "{} customers flagged: {}",
                    flagged.len(),
                    flagged.join("; ")
                ));
            }
            if !report.setup_problems.is_empty() {
                why.push(format!(
                    "{} customer setup problems",
                    report.setup_problems.len()
                ));
            }
            return Ok(person(
                format!("pre-billing report not confirmed: {}", why.join("; ")),
                format!("billrun prebill {id}; billrun confirm {id} prebill"),
            ));
        }
        self.confirm(
            run,
            StepKey::Prebill,
            RULE,
            "no customer flagged outside auto.prebill_allow_flags, no setup problems",
            None,
        )
    }

    fn request(&mut self, run: &Run) -> Result<Outcome> {
        const RULE: &str = "auto.request";
        let id = run.id;
        let why = format!(
            "invoice date {} reached",
            run.invoice_date.map(|d| d.to_string()).unwrap_or_default()
        );
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "request",
                RULE,
                format!("would request bills and produce them ({why})"),
            ));
        }
        let opts = super::run_steps::Request {
            run: id.to_string(),
            expert: false,
            os_user: Actor::os_user(),
        };
        match super::run_steps::request(
            self.store,
            &actor(self.clock, RULE, &why),
            &opts,
            self.settings,
            self.clock,
        ) {
            Ok(_) => {
                self.act(
                    Some(id),
                    "request",
                    RULE,
                    format!("bills requested ({why})"),
                );
                Ok(Outcome::Progressed)
            }
            Err(e) => Self::from_error(e, &format!("billrun request {id}")),
        }
    }

    fn produce(&mut self, run: &Run, rule: &str) -> Result<Outcome> {
        let id = run.id;
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "production",
                rule,
                "would produce the invoices and PDFs",
            ));
        }
        let who = actor(self.clock, rule, "");
        let opts = super::produce::ProduceOptions {
            db: self.opts.db,
            run_id: id,
        };
        let r = super::produce::begin(self.store, &who, &opts, self.clock)
            .and_then(|p| p.finish(self.store, &who, self.settings, self.progress));
        match r {
            Ok(r) => {
                self.act(
                    Some(id),
                    "production",
                    rule,
                    format!("{} invoices, {} PDFs ready", r.invoices, r.pdfs_ready),
                );
                Ok(Outcome::Progressed)
            }
            Err(e) => Self::from_error(e, &format!("billrun produce {id}")),
        }
    }

    fn postbill(&mut self, run: &Run, f: &Facts, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.confirm_postbill";
        if !self.settings.auto.confirm_postbill {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        let report = super::postbill::build(self.store, run, self.settings)?;
        let anomalies: Vec<String> = report
            .anomalies
            .iter()
            .map(|a| format!("{} ({})", a.number, a.account))
            .collect();
        if self.opts.dry_run {
            self.act(
                Some(id),
                "postbill",
                RULE,
                if anomalies.is_empty() {
                    "would run the post-billing report and confirm it".to_string()
                } else {
                    format!(
                        "would run the post-billing report; not confirm it: {} anomalies",
                        anomalies.len()
                    )
                },
            );
            return Ok(Outcome::Planned);
        }
        if !f.postbill_done {
            super::postbill::record_run(self.store, &actor(self.clock, RULE, ""), id, self.clock)?;
            self.act(Some(id), "postbill", RULE, "post-billing report run");
        }
        if !anomalies.is_empty() {
            return Ok(person(
                format!(
                    "post-billing report not confirmed: {} anomalies: {}",
                    anomalies.len(),
                    anomalies.join(", ")
                ),
                format!("billrun postbill {id}; billrun confirm {id} postbill"),
            ));
        }
        self.confirm(run, StepKey::Postbill, RULE, "no anomalies", None)
    }

    /// `auto.xero`: in API mode the run's customers and invoices are sent
    /// (`xero push RUN`); in csv mode an import file `xero-RUN.csv` is
    /// written into `xero.out_dir`.
    fn xero(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.xero";
        if !self.settings.auto.xero {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        if let Some(client) = &self.opts.xero {
            let client = match client {
                Ok(c) => c,
                Err(why) => return Ok(person(why.clone(), s.command.clone())),
            };
            if self.opts.dry_run {
                return Ok(self.planned(
                    Some(id),
                    "xero",
                    RULE,
                    format!("would send to Xero ({})", s.detail),
                ));
            }
            return match super::xero_push::push(
                self.store,
                &actor(self.clock, RULE, ""),
                &id.to_string(),
                self.settings,
                client,
                self.clock,
                self.progress,
            ) {
                Ok(r) => {
                    self.act(
                        Some(id),
                        "xero",
                        RULE,
                        format!(
                            "{} invoices sent to Xero ({} found there already), {} contacts created, {} updated",
                            r.invoices_sent,
                            r.invoices_found + r.already_in_xero,
                            r.contacts_created,
                            r.contacts_updated
                        ),
                    );
                    if r.refused.is_empty() {
                        Ok(Outcome::Progressed)
                    } else {
                        let list: Vec<String> = r
                            .refused
                            .iter()
                            .map(|f| format!("{}: {}", f.number, f.message))
                            .collect();
                        Ok(person(
                            format!("Xero refused {}: {}", r.refused.len(), list.join("; ")),
                            s.command.clone(),
                        ))
                    }
                }
                Err(e) => Self::from_error(e, &s.command),
            };
        }
        let Some(dir) = self.settings.xero_out_dir.clone() else {
            return Ok(person(
                "auto.xero writes the Xero import file into xero.out_dir, which is not set",
                "billrun config set xero.out_dir DIR",
            ));
        };
        let out = Path::new(&dir).join(format!("xero-{}.csv", safe_name(&run.name)));
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "xero",
                RULE,
                format!("would write {}", out.display()),
            ));
        }
        let opts = super::xero::ExportOptions {
            run: id.to_string(),
            out,
            all: false,
            max_per_file: crate::domain::xero::MAX_INVOICES_PER_FILE,
        };
        match super::xero::export(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(r) => {
                let files: Vec<&str> = r.files.iter().map(|f| f.file.as_str()).collect();
                self.act(
                    Some(id),
                    "xero",
                    RULE,
                    format!(
                        "{} invoices written to {} (import them into Xero)",
                        r.exported,
                        files.join(", ")
                    ),
                );
                Ok(Outcome::Progressed)
            }
            Err(e) => Self::from_error(e, &s.command),
        }
    }

    fn email(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.email";
        if !self.settings.auto.email {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "email",
                RULE,
                format!("would email the invoices ({})", s.detail),
            ));
        }
        let opts = super::email::EmailOptions {
            run: id.to_string(),
            dry_run: None,
            resend: Vec::new(),
            limit: None,
            password: self.opts.smtp_password.clone(),
        };
        let r = match super::email::send(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(r) => r,
            Err(e) => return Self::from_error(e, &s.command),
        };
        if !r.sent.is_empty() {
            self.act(
                Some(id),
                "email",
                RULE,
                format!("{} invoices emailed", r.sent.len()),
            );
        }
        if let Some(why) = r.not_connected {
            return Ok(Outcome::Fail(why, s.command.clone()));
        }
        let (no_address, other): (Vec<_>, Vec<_>) = r.failed.iter().partition(|f| f.to.is_none());
        if !other.is_empty() {
            let list: Vec<String> = other
                .iter()
                .map(|f| format!("{}: {}", f.number, f.reason))
                .collect();
            return Ok(Outcome::Fail(
                format!(
                    "{} invoices could not be emailed: {}",
                    other.len(),
                    list.join("; ")
                ),
                s.command.clone(),
            ));
        }
        if !no_address.is_empty() || !r.needs_operator.is_empty() {
            let mut why: Vec<String> = no_address
                .iter()
                .map(|f| format!("{} ({}): {}", f.number, f.account, f.reason))
                .collect();
            why.extend(r.needs_operator.iter().map(|w| {
                format!(
                    "{} was interrupted while being sent: check the mailbox, then billrun email {id} --arrived {} if it went, else billrun email {id} --resend {}",
                    w.number, w.number, w.number
                )
            }));
            return Ok(person(why.join("; "), s.command.clone()));
        }
        Ok(Outcome::Progressed)
    }

    fn print(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.print";
        if !self.settings.auto.print {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        let Some(dir) = self.settings.print_out_dir.clone() else {
            return Ok(person(
                "auto.print writes the print bundles into print.out_dir, which is not set",
                "billrun config set print.out_dir DIR",
            ));
        };
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "print",
                RULE,
                format!("would write print bundles into {dir}"),
            ));
        }
        let opts = super::print::PrintOptions {
            run: id.to_string(),
            out: PathBuf::from(&dir),
            bundle_size: 100,
            reprint: false,
        };
        match super::print::write_bundles(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.clock,
            self.progress,
        ) {
            Ok(mut r) => {
                let n: usize = r.bundles.iter().map(|b| b.invoices).sum();
                if !r.bundles.is_empty() {
                    self.act(
                        Some(id),
                        "print",
                        RULE,
                        format!(
                            "{} bundles ({n} invoices) written into {dir}",
                            r.bundles.len()
                        ),
                    );
                }
                match r.stopped.take() {
                    Some(e) => Self::from_error(e, &s.command),
                    None => Ok(Outcome::Progressed),
                }
            }
            Err(e) => Self::from_error(e, &s.command),
        }
    }

    /// `auto.collect`, Direct Debit: the payment file (`collect dd RUN`,
    /// into `collect.out_dir` or beside the database), or with
    /// `dd.provider gocardless` one GoCardless payment per invoice.
    fn collect_dd(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.collect";
        if !self.settings.auto.collect {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        if self.settings.dd_provider == "gocardless" {
            return self.collect_gocardless(run, s);
        }
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "collect_dd",
                RULE,
                format!("would write the Direct Debit file ({})", s.detail),
            ));
        }
        let opts = super::collect::DdOptions {
            run: id.to_string(),
            out: None,
            date: None,
            retry_failed: false,
            db: self.opts.db.to_path_buf(),
            out_dir: self.settings.collect.out_dir.as_ref().map(PathBuf::from),
        };
        match super::collect::dd(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(super::collect::FileRunReport::Written(w)) => {
                self.act(
                    Some(id),
                    "collect_dd",
                    RULE,
                    format!(
                        "payment run {}: {} Direct Debits, total {}, file {} (submit it to the bank)",
                        w.payment_run,
                        w.items,
                        w.total,
                        w.file.display()
                    ),
                );
                Ok(Outcome::Progressed)
            }
            Ok(super::collect::FileRunReport::NothingNew(_)) => Ok(Outcome::Progressed),
            Err(e) => Self::from_error(e, &s.command),
        }
    }

    /// `auto.collect` with `dd.provider gocardless` (`collect dd RUN`).
    fn collect_gocardless(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.collect";
        let id = run.id;
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "collect_dd",
                RULE,
                format!("would create the GoCardless payments ({})", s.detail),
            ));
        }
        let opts = super::collect::GcOptions {
            run: id.to_string(),
            date: None,
            retry_failed: false,
            token: self.opts.gocardless_token.clone(),
        };
        let r = match super::collect::gocardless_dd(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(r) => r,
            Err(e) => return Self::from_error(e, &s.command),
        };
        if !r.payments.is_empty() {
            self.act(
                Some(id),
                "collect_dd",
                RULE,
                format!("{} GoCardless payments created", r.payments.len()),
            );
        }
        if let Some(why) = r.token_refused {
            return Ok(Outcome::Fail(
                format!("GoCardless refused the access token ({why})"),
                s.command.clone(),
            ));
        }
        if r.unanswered > 0 {
            return Ok(Outcome::Fail(
                format!(
                    "{} GoCardless payments got no answer (resent next time with the same keys)",
                    r.unanswered
                ),
                s.command.clone(),
            ));
        }
        if !r.expired.is_empty() {
            return Ok(person(
                format!(
                    "{} GoCardless payments are too old to resend safely",
                    r.expired.len()
                ),
                s.command.clone(),
            ));
        }
        Ok(Outcome::Progressed)
    }

    /// `auto.collect`, cards: charged through Stripe (`collect card RUN`).
    fn collect_card(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.collect";
        if !self.settings.auto.collect {
            return Ok(person(rules::policy_off(RULE), s.command.clone()));
        }
        let id = run.id;
        if !self.settings.auto.cards_by_stripe {
            return self.card_file(run, s);
        }
        if self.opts.stripe_key.is_none() {
            return Ok(person(
                "cards are charged through Stripe: STRIPE_API_KEY is not set in the autopilot's environment",
                s.command.clone(),
            ));
        }
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "collect_card",
                RULE,
                format!("would charge the cards through Stripe ({})", s.detail),
            ));
        }
        let opts = super::collect::ChargeOptions {
            run: id.to_string(),
            retry_failed: false,
            api_key: self.opts.stripe_key.clone(),
        };
        let r = match super::collect::charge(
            self.store,
            &actor(self.clock, RULE, ""),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(r) => r,
            Err(e) => return Self::from_error(e, &s.command),
        };
        if !r.charges.is_empty() {
            self.act(
                Some(id),
                "collect_card",
                RULE,
                format!(
                    "{} card charges sent: {} approved, {} failed",
                    r.charges.len(),
                    r.approved(),
                    r.failed()
                ),
            );
        }
        if let Some(why) = &r.key_refused {
            return Ok(Outcome::Fail(
                format!("Stripe refused the API key ({why}): check STRIPE_API_KEY"),
                s.command.clone(),
            ));
        }
        if r.unanswered > 0 {
            return Ok(Outcome::Fail(
                format!(
                    "{} card charges got no answer from Stripe (the next autopilot retries them with the same idempotency keys)",
                    r.unanswered
                ),
                s.command.clone(),
            ));
        }
        if !r.expired.is_empty() {
            return Ok(person(
                format!(
                    "{} card charges have an unknown outcome too old to re-send",
                    r.expired.len()
                ),
                format!("billrun collect card {id}"),
            ));
        }
        Ok(Outcome::Progressed)
    }

    /// `auto.collect` with `auto.card_method file`: the gateway batch file
    /// beside the database (`collect card RUN --out`).
    fn card_file(&mut self, run: &Run, s: &Step) -> Result<Outcome> {
        const RULE: &str = "auto.collect";
        let id = run.id;
        if self.opts.dry_run {
            return Ok(self.planned(
                Some(id),
                "collect_card",
                RULE,
                format!("would write the card batch file ({})", s.detail),
            ));
        }
        let opts = super::collect::CardFileOptions {
            run: id.to_string(),
            out: None,
            retry_failed: false,
            db: self.opts.db.to_path_buf(),
        };
        match super::collect::card_file(
            self.store,
            &actor(self.clock, RULE, "auto.card_method file"),
            &opts,
            self.settings,
            self.clock,
            self.progress,
        ) {
            Ok(super::collect::FileRunReport::Written(w)) => {
                self.act(
                    Some(id),
                    "collect_card",
                    RULE,
                    format!(
                        "payment run {}: {} card charges, total {}, batch file {} (upload it to the gateway)",
                        w.payment_run,
                        w.items,
                        w.total,
                        w.file.display()
                    ),
                );
                Ok(Outcome::Progressed)
            }
            Ok(super::collect::FileRunReport::NothingNew(_)) => Ok(Outcome::Progressed),
            Err(e) => Self::from_error(e, &s.command),
        }
    }

    /// Tell `notify.email`, in one message, what newly needs a person and
    /// which runs completed.
    fn notify(&mut self, open: &[Run]) -> Result<()> {
        let now = self.clock.stamp();
        let mut news: Vec<Notice> = Vec::new();
        for run in open {
            let at = self
                .report
                .waiting
                .iter()
                .find(|w| w.run == run.id && w.kind == StopKind::Person);
            let step = at.map(|w| w.step.as_str());
            if self.opts.dry_run {
                notices::would_clear(&self.store.conn, run.id, step)?;
            } else {
                notices::clear_moved_on(&self.store.conn, run.id, step, &now)?;
            }
            if let Some(w) = at {
                news.push(Notice {
                    run_id: run.id,
                    kind: "person",
                    step: w.step.as_str().to_string(),
                    why: format!("{} — command: {}", w.why, w.command),
                });
            }
        }
        for id in self.completed_to_tell()? {
            news.push(Notice {
                run_id: id,
                kind: "complete",
                step: "complete".into(),
                why: "Run complete".into(),
            });
        }
        let mut fresh = Vec::new();
        for n in news {
            if !notices::told(&self.store.conn, &n)? {
                fresh.push(n);
            }
        }
        let Some(to) = self.settings.notify_email.clone() else {
            return Ok(());
        };
        if fresh.is_empty() {
            return Ok(());
        }
        let name = |id: i64| {
            open.iter()
                .find(|r| r.id == id)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let people: Vec<i64> = fresh
            .iter()
            .filter(|n| n.kind == "person")
            .map(|n| n.run_id)
            .collect();
        let done: Vec<i64> = fresh
            .iter()
            .filter(|n| n.kind == "complete")
            .map(|n| n.run_id)
            .collect();
        let subject = format!(
            "billrun autopilot: {} run(s) need a person, {} completed",
            people.len(),
            done.len()
        );
        let mut body = String::new();
        for n in &fresh {
            if n.kind == "person" {
                body.push_str(&format!(
                    "Run {} (id {}) needs a person at step {}:\n  {}\n\n",
                    name(n.run_id),
                    n.run_id,
                    n.step,
                    n.why
                ));
            } else {
                body.push_str(&format!(
                    "Run {} (id {}) is complete.\n\n",
                    name(n.run_id),
                    n.run_id
                ));
            }
        }
        if !self.report.actions.is_empty() {
            body.push_str("Done this time:\n");
            for a in &self.report.actions {
                body.push_str(&format!(
                    "  - {}{}: {} (policy {})\n",
                    a.run.map(|r| format!("run {r}, ")).unwrap_or_default(),
                    a.step,
                    a.detail,
                    a.rule
                ));
            }
            body.push('\n');
        }
        body.push_str("Every run's checklist: billrun status --all\n");
        let mut notified = Notified {
            to: to.clone(),
            subject: subject.clone(),
            state: "would send".into(),
            runs_needing_a_person: people,
            runs_completed: done,
        };
        if self.opts.dry_run {
            self.report.notified = Some(notified);
            return Ok(());
        }
        let sender = match super::email::sender(self.settings).and_then(|s| {
            super::email::smtp_settings(self.settings, self.opts.smtp_password.as_deref(), &s.from)
                .map(|smtp| (s, smtp))
        }) {
            Ok(x) => x,
            Err(e) => {
                self.fail(
                    None,
                    "notify",
                    format!("cannot send the summary to {to}: {e}"),
                    "billrun config list",
                );
                return Ok(());
            }
        };
        let (s, smtp) = sender;
        let message_id = format!(
            "autopilot.{}.{}@{}",
            self.clock.now().format("%Y%m%dT%H%M%S"),
            std::process::id(),
            s.from_address.rsplit('@').next().unwrap_or("billrun")
        );
        let msg = match crate::gateway::email::build_text_message(
            &smtp,
            &to,
            &subject,
            &body,
            &message_id,
        ) {
            Ok(m) => m,
            Err(e) => {
                self.fail(
                    None,
                    "notify",
                    format!("cannot build the summary to {to}: {e}"),
                    "billrun config set notify.email ADDRESS",
                );
                return Ok(());
            }
        };
        // At most once: the notices are committed (synchronously) before
        // the message goes; a kill after this counts them as told.
        self.store.conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = self.store.write()?;
        let ids = notices::start(&tx, &fresh, &message_id, &now)?;
        tx.commit()?;
        let outcome = crate::gateway::email::Mailer::connect(&smtp)
            .map(|m| m.send(&msg))
            .unwrap_or_else(|e| crate::gateway::email::SendOutcome::Failed {
                reason: e.to_string(),
                permanent: false,
            });
        use crate::gateway::email::SendOutcome;
        let (state, failure) = match outcome {
            SendOutcome::Sent { .. } => ("sent", None),
            // Unknown: it may have gone; counted as told (never twice).
            SendOutcome::Unknown { reason } => (
                "sent",
                Some(format!("the summary to {to} may not have gone: {reason}")),
            ),
            SendOutcome::Failed { reason, .. } => (
                "failed",
                Some(format!(
                    "the summary to {to} was not sent: {reason} (the next autopilot tries again)"
                )),
            ),
        };
        let tx = self.store.write()?;
        notices::finish(&tx, &ids, state)?;
        tx.commit()?;
        if let Some(why) = failure {
            self.fail(None, "notify", why, "billrun config list");
        }
        notified.state = state.into();
        self.report.notified = Some(notified);
        Ok(())
    }

    /// Runs to announce as complete: complete now, driven by the
    /// autopilot (it acted on them; runs completed by hand are not
    /// announced), and not told yet (`told` checks that).
    fn completed_to_tell(&self) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for id in &self.report.complete_now {
            if notices::autopilot_acted(&self.store.conn, *id, OPERATOR)? {
                ids.push(*id);
            }
        }
        Ok(ids)
    }
}

/// A run name as a file name part: anything but letters, digits, `-` and
/// `_` becomes `_`.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_of_runs_are_safe() {
        assert_eq!(safe_name("2026-11"), "2026-11");
        assert_eq!(safe_name("../x y"), "___x_y");
    }

    #[test]
    fn exit_code_prefers_outside_failures_then_people() {
        let mut r = AutopilotReport::default();
        assert_eq!(r.exit_code(), 0);
        r.waiting.push(Wait {
            run: 1,
            run_name: "2026-11".into(),
            step: StepKey::Request,
            kind: StopKind::Later,
            why: String::new(),
            command: String::new(),
        });
        assert_eq!(r.exit_code(), 0, "waiting for a date needs nobody");
        r.waiting[0].kind = StopKind::Person;
        assert_eq!(r.exit_code(), 3);
        r.failures.push(Failure {
            run: None,
            step: "email".into(),
            why: String::new(),
            command: String::new(),
        });
        assert_eq!(r.exit_code(), 5);
    }
}
