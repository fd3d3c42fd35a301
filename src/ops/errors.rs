//! Billing errors (docs/rating.md): `errors resolve|ignore ID…` and
//! `errors rerate`.

use serde::Serialize;

use super::cdr_import::peak;
use super::{Clock, Progress};
use crate::domain::billing_errors::{self as be, ErrorRow, KindSummary};
use crate::domain::cdrs::Rating;
use crate::domain::money;
use crate::domain::rating::ErrorKind;
use crate::domain::settings::Settings;
use crate::error::Result;
use crate::store::audit::{self, Actor};
use crate::store::errors::Filter;
use crate::store::{Store, cdrs, errors, fees, runs, settings};

/// `errors [RUN] [--kind K]`: which errors the report covers.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Only errors dated on or before this run's cutoff (id or name).
    pub run: Option<String>,
    pub kind: Option<ErrorKind>,
}

/// An unknown service of the open `unknown_service` errors, with the known
/// services that look like it.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub service: String,
    pub cdrs: u64,
    pub suggest: Vec<String>,
}

/// The `errors` report without its rows: the summary per kind and the
/// suggestions. The rows are read with [`each`], one at a time.
#[derive(Debug, Clone)]
pub struct Report {
    pub filter: Filter,
    pub summary: Vec<KindSummary>,
    pub suggestions: Vec<Suggestion>,
}

/// The summary and suggestions of the errors `opts` selects, in bounded
/// memory (one pass over an index; nothing holds the errors).
pub fn report(store: &Store, opts: &ReportOptions) -> Result<Report> {
    let cutoff = match &opts.run {
        Some(r) => runs::resolve(&store.conn, r)?.cutoff_date,
        None => None,
    };
    let filter = Filter {
        kind: opts.kind,
        cutoff,
    };
    let summary = errors::summary(&store.conn, &filter)?;
    let unknown = errors::unknown_services(&store.conn, &filter)?;
    let suggestions = if unknown.is_empty() {
        Vec::new()
    } else {
        let known = cdrs::service_numbers(&store.conn)?;
        let cc = be::country_code(&settings::load(&store.conn)?.currency);
        unknown
            .into_iter()
            .map(|(service, cdrs)| Suggestion {
                suggest: be::suggestions(&service, &known, cc),
                service,
                cdrs,
            })
            .collect()
    };
    Ok(Report {
        filter,
        summary,
        suggestions,
    })
}

/// The report's errors one by one, oldest first (open ones unless
/// `all_states`), handed to `f` as they are read.
pub fn each(
    store: &Store,
    report: &Report,
    all_states: bool,
    f: impl FnMut(ErrorRow),
) -> Result<()> {
    errors::each(&store.conn, &report.filter, all_states, f)
}

/// How `errors resolve|ignore` closes errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Handled; the CDR stays unbilled unless re-rated.
    Resolved,
    /// Accepted as not billable.
    Ignored,
}

impl Close {
    pub fn as_str(self) -> &'static str {
        match self {
            Close::Resolved => "resolved",
            Close::Ignored => "ignored",
        }
    }
}

/// What `errors resolve|ignore` did.
#[derive(Debug, Clone, Serialize)]
pub struct Closed {
    pub state: &'static str,
    pub ids: Vec<i64>,
    #[serde(skip)]
    pub count: u64,
}

/// Close open errors. Every id must exist and be open, else nothing
/// changes (exit 4).
pub fn close(
    store: &mut Store,
    actor: &Actor,
    ids: &[i64],
    how: Close,
    clock: &dyn Clock,
) -> Result<Closed> {
    let tx = store.write()?;
    let count = cdrs::close_errors(&tx, actor, ids, how.as_str(), &clock.stamp())?;
    tx.commit()?;
    Ok(Closed {
        state: how.as_str(),
        ids: ids.to_vec(),
        count,
    })
}

/// What re-rating the CDR errors did (the JSON of `errors rerate`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rerated {
    pub checked: u64,
    /// Errors resolved because their CDR now rates.
    pub resolved: u64,
    /// Errors whose CDR now fails a later check (old id, new id, new kind).
    pub changed: Vec<(i64, i64, String)>,
    pub still_open: u64,
    pub charge_minor: i64,
}

/// What `errors rerate` did: the CDR errors, and the wholesale fee errors
/// re-matched in the same transaction.
#[derive(Debug)]
pub struct Rerate {
    pub cdrs: Rerated,
    pub fees: fees::Rematched,
}

/// Errors re-rated between two progress updates (an update per error would
/// cost more than re-rating a cheap one).
const PROGRESS_EVERY: u64 = 1024;

/// Re-rate the CDR of every open `unknown_service`, `service_inactive` and
/// `no_rate` error against today's reference data, and re-match the open
/// wholesale fee errors, in one transaction. A CDR that now rates is
/// stored rated and its error resolved; one that now fails another check
/// gets its error resolved and a new error of the new kind opened.
/// `malformed` and `duplicate` errors are facts about the file and are not
/// re-rated.
pub fn rerate(
    store: &mut Store,
    actor: &Actor,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Rerate> {
    let tx = store.write()?;
    // Reading the errors and their CDRs is most of the time when few rate.
    progress.start("reading the open errors", None);
    let rater = cdrs::load_rater(&tx, peak(settings))?;
    let now = clock.stamp();
    let mut out = Rerated::default();
    let candidates = cdrs::rerate_candidates(&tx)?;
    progress.start("re-rating CDR errors", Some(candidates.len() as u64));
    for c in candidates {
        out.checked += 1;
        if out.checked % PROGRESS_EVERY == 0 {
            progress.inc(PROGRESS_EVERY);
        }
        let (svc, dest) = (c.service.as_str(), c.destination.as_str());
        match rater.rate(svc, c.when, dest, c.call_type, c.units) {
            Ok(r) => {
                let rating = Rating::of(&r);
                let note = format!(" — rerated: {}", money::fmt(r.amount));
                cdrs::rerate_rated(&tx, actor, c.error_id, c.cdr_id, &rating, &note, &now)?;
                out.resolved += 1;
                out.charge_minor += rating.charge_minor;
            }
            Err(e) if e.kind().as_str() != c.kind => {
                let detail = rater.explain(e, svc, c.when, dest, c.call_type);
                let note = format!(" — rerated: now {}", e.kind());
                let new =
                    cdrs::rerate_reopen(&tx, actor, c.error_id, &note, e.kind(), &detail, &now)?;
                out.changed.push((c.error_id, new, e.kind().to_string()));
            }
            Err(_) => out.still_open += 1,
        }
    }
    if out.checked % PROGRESS_EVERY > 0 {
        progress.inc(out.checked % PROGRESS_EVERY);
    }
    progress.finish();
    audit::log(
        &tx,
        actor,
        None,
        "errors.rerate",
        &format!(
            "{} checked, {} resolved ({}), {} changed kind, {} still open",
            out.checked,
            out.resolved,
            money::fmt_minor(out.charge_minor),
            out.changed.len(),
            out.still_open
        ),
    )?;
    // Open wholesale fee errors are re-matched in the same transaction.
    let fees = fees::rematch_open(&tx, actor)?;
    tx.commit()?;
    Ok(Rerate { cdrs: out, fees })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::cdr_import::{ImportOptions, import};
    use crate::ops::progress_log::Log;
    use crate::ops::{FixedClock, NoProgress};
    use chrono::NaiveDate;
    use std::fmt::Write as _;

    fn clock() -> FixedClock {
        FixedClock::on(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
    }

    /// A store with one customer and one rated service, and a CDR file of
    /// `unknown` lines from an unknown service and 2 of no rate imported.
    fn with_errors(dir: &std::path::Path, unknown: usize) -> (Store, Settings) {
        let mut s = Store::memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO customers (account, name, delivery, payment_method, created_at)
                    VALUES ('C1', 'One', 'print', 'manual', 'x');
                 INSERT INTO plans VALUES ('P', 'Plan', '10', 'T');
                 INSERT INTO rates (tariff, prefix, description, call_type, band, flagfall, rate, increment, minimum_charge)
                    VALUES ('T', '44', 'UK', 'voice', 'all', '0', '0.60', '1/1', '0');
                 INSERT INTO services (service, account, plan, start_date, end_date, description)
                    VALUES ('441', 'C1', 'P', '2026-01-01', NULL, '');
                 INSERT INTO carriers VALUES ('c', 'billrun', NULL, 'x');",
            )
            .unwrap();
        let mut body = String::from(
            "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n",
        );
        for i in 0..unknown {
            let (m, sec) = (i / 60 % 60, i % 60);
            writeln!(
                body,
                "999,2026-11-02T10:{m:02}:{sec:02},{},4420,voice,,0.01,",
                10 + i / 3600
            )
            .unwrap();
        }
        body.push_str("441,2026-11-03T10:00:00,10,3320,voice,,0.01,\n");
        body.push_str("441,2026-11-03T11:00:00,10,3320,voice,,0.01,\n");
        let file = dir.join("cdrs.csv");
        std::fs::write(&file, body).unwrap();
        let settings = crate::store::settings::load(&s.conn).unwrap();
        let actor = Actor::test();
        let o = ImportOptions {
            actor: &actor,
            db: &dir.join("billrun.db"),
            file: &file,
            carrier: "c",
            no_process: false,
        };
        import(&mut s, &o, &settings, &clock(), &NoProgress).unwrap();
        (s, settings)
    }

    #[test]
    fn rerate_reports_every_error_checked_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        // More than two batches, and a remainder: 2,500 + 2 errors.
        let (mut s, settings) = with_errors(dir.path(), 2500);
        s.conn
            .execute(
                "INSERT INTO services (service, account, plan, start_date, end_date, description)
                 VALUES ('999', 'C1', 'P', '2026-01-01', NULL, '')",
                [],
            )
            .unwrap();
        let log = Log::default();
        let r = rerate(&mut s, &Actor::test(), &settings, &clock(), &log).unwrap();
        assert_eq!(
            (r.cdrs.checked, r.cdrs.resolved, r.cdrs.still_open),
            (2502, 2500, 2)
        );
        let p = log.phase("re-rating CDR errors");
        assert_eq!((p.total, p.done), (Some(2502), 2502));
        // Two full batches and the remainder: no update per error.
        assert_eq!(p.incs, 3);
        assert_eq!(
            log.names(),
            vec!["reading the open errors", "re-rating CDR errors"]
        );
        assert_eq!(log.phase("reading the open errors").total, None);
        log.check_complete();
    }

    #[test]
    fn rerate_with_nothing_open_reports_an_empty_phase() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, settings) = with_errors(dir.path(), 0);
        s.conn
            .execute("UPDATE billing_errors SET state = 'ignored'", [])
            .unwrap();
        let log = Log::default();
        let r = rerate(&mut s, &Actor::test(), &settings, &clock(), &log).unwrap();
        assert_eq!(r.cdrs.checked, 0);
        let p = log.phase("re-rating CDR errors");
        assert_eq!((p.total, p.done), (Some(0), 0));
        log.check_complete();
    }
}
