//! Workflows: one module per thing an operator (or cron) does to a run.
//!
//! An op is the application layer between the command line and the lower
//! layers. Each op
//! - takes the [`Store`](crate::store::Store), a typed options struct, the
//!   [`Settings`](crate::domain::settings::Settings) when it needs them, a
//!   [`Clock`] and, for long work, a [`Progress`];
//! - owns its unit of work: transactions, durability (`synchronous=FULL`
//!   where a commit must survive a power cut before a file or a gateway
//!   call depends on it), staging and placing files, gateway calls;
//! - applies the domain's rules (`crate::domain`) and reads and writes only
//!   through `crate::store`;
//! - returns a report value that derives `Serialize`, from which the CLI
//!   prints either a table or JSON. It never prints.
//!
//! Errors are [`crate::error::Error`] (each variant is an exit code); an op
//! that finishes with something for the operator to act on returns that in
//! its report, and the CLI maps it to an exit code.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, Utc};

/// The time, injected so that ops can be tested on fixed dates.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Today's date where the operator is (local time).
    fn today(&self) -> NaiveDate {
        self.local_now().date()
    }
    /// The local wall-clock time.
    fn local_now(&self) -> NaiveDateTime;
    /// A clock that stands still (tests, the demo's month) says at which
    /// instant, so that what is recorded through an actor is stamped with
    /// it (`store::audit::Actor::at`) rather than the machine's time.
    fn frozen(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// The current instant as stored in the database (RFC 3339, seconds, UTC).
    fn stamp(&self) -> String {
        self.now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn local_now(&self) -> NaiveDateTime {
        Local::now().naive_local()
    }
}

/// A clock stopped at one instant, local time taken as UTC (the debug
/// builds' `BILLRUN_TEST_NOW` for `autopilot`, see `cli::autopilot`).
#[derive(Debug, Clone, Copy)]
pub struct StoppedClock(pub DateTime<Utc>);

impl Clock for StoppedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
    fn frozen(&self) -> Option<DateTime<Utc>> {
        Some(self.0)
    }
    fn local_now(&self) -> NaiveDateTime {
        self.0.naive_utc()
    }
}

/// The machine's clock for `collect dd`, whose dates depend on today (the
/// submission deadlines). Debug builds only: `BILLRUN_TEST_DD_TODAY=
/// YYYY-MM-DD` sets today's date (not the file's creation time), so that
/// tests of the deadline rules do not depend on the day they run. Release
/// builds ignore it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DdClock;

impl Clock for DdClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn today(&self) -> NaiveDate {
        #[cfg(debug_assertions)]
        if let Some(d) = std::env::var("BILLRUN_TEST_DD_TODAY")
            .ok()
            .and_then(|v| v.parse::<NaiveDate>().ok())
        {
            return d;
        }
        self.local_now().date()
    }
    fn local_now(&self) -> NaiveDateTime {
        Local::now().naive_local()
    }
}

/// A clock stopped at one instant (tests; the local time is taken as UTC).
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

#[cfg(test)]
impl FixedClock {
    /// Noon UTC on `date`.
    pub fn on(date: NaiveDate) -> FixedClock {
        FixedClock(date.and_hms_opt(12, 0, 0).expect("noon exists").and_utc())
    }
}

#[cfg(test)]
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
    fn frozen(&self) -> Option<DateTime<Utc>> {
        Some(self.0)
    }
    fn local_now(&self) -> NaiveDateTime {
        self.0.naive_utc()
    }
}

/// Progress of long work, reported by ops and drawn by the CLI (indicatif
/// on a terminal, nothing otherwise). Calls must be cheap: ops call `inc`
/// per item.
pub trait Progress {
    /// A new phase of `total` units (`None` when unknown), e.g. "rendering PDFs".
    fn start(&self, _what: &str, _total: Option<u64>) {}
    /// A new phase counted in bytes (`total` of them, e.g. a file being
    /// read): drawn in byte units with its rate and ETA.
    fn start_bytes(&self, what: &str, total: u64) {
        self.start(what, Some(total))
    }
    /// `n` more units done.
    fn inc(&self, _n: u64) {}
    /// A line for the operator that must not break the bar (e.g. a retry).
    fn note(&self, _msg: &str) {}
    /// The phase is over.
    fn finish(&self) {}
}

/// No progress shown (tests, `--quiet`, cron).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

pub mod autopilot;
pub mod cdr_import;
pub mod cdr_sources;
pub mod charges;
pub mod collect;
pub mod config;
pub mod credit;
pub mod cycles;
pub mod email;
pub mod errors;
pub mod fees;
pub mod payments;
pub mod postbill;
pub mod prebill;
pub mod print;
pub mod produce;
#[cfg(test)]
pub(crate) mod progress_log;
pub mod reference;
pub mod run_steps;
pub mod status;
pub mod xero;
pub mod xero_fetch;
pub mod xero_push;
