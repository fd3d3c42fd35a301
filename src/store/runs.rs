//! Billing runs: creation, fields, confirmations, and the only code that
//! changes a run's status (through `domain::lifecycle::apply`).

use super::audit::{self, Actor};
use crate::domain::lifecycle::{self, RunStatus, Transition};
use crate::error::{Result, bad_input, precondition};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: i64,
    pub name: String,
    pub cycle: String,
    pub status: RunStatus,
    pub invoice_date: Option<NaiveDate>,
    pub cutoff_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub invoice_message: Option<String>,
    #[serde(skip)]
    pub expert_by: Option<String>,
    /// When the post-billing report was last run.
    #[serde(skip)]
    pub postbill_at: Option<String>,
}

impl Run {
    /// The due date: set explicitly, else invoice date + due days.
    pub fn effective_due(&self, due_days: u32) -> Option<NaiveDate> {
        self.due_date.or_else(|| {
            self.invoice_date
                .map(|d| d + chrono::Duration::days(i64::from(due_days)))
        })
    }
}

/// A stored time stamp (as `store::now_stamp` writes them).
fn stamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| s.parse().ok())
}

const COLS: &str = "id, name, cycle, status, invoice_date, cutoff_date, due_date, invoice_message, expert_by, created_at, postbill_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    let status: String = r.get(3)?;
    Ok(Run {
        id: r.get(0)?,
        name: r.get(1)?,
        cycle: r.get(2)?,
        status: status.parse().unwrap_or(RunStatus::Pending),
        invoice_date: parse_date(r.get(4)?),
        cutoff_date: parse_date(r.get(5)?),
        due_date: parse_date(r.get(6)?),
        invoice_message: r.get(7)?,
        expert_by: r.get(8)?,
        postbill_at: r.get(10)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Run>> {
    Ok(conn
        .query_row(&format!("SELECT {COLS} FROM runs WHERE id = ?1"), [id], row)
        .optional()?)
}

/// Find a run by id or name; a clear error when there is none.
pub fn resolve(conn: &Connection, key: &str) -> Result<Run> {
    let by_id = key
        .parse::<i64>()
        .ok()
        .map(|id| get(conn, id))
        .transpose()?
        .flatten();
    if let Some(r) = by_id {
        return Ok(r);
    }
    // A cancelled run's name may be taken again: the live run wins, else
    // the latest cancelled one.
    conn.query_row(
        &format!(
            "SELECT {COLS} FROM runs WHERE name = ?1
             ORDER BY status = 'cancelled', id DESC LIMIT 1"
        ),
        [key],
        row,
    )
    .optional()?
    .ok_or_else(|| bad_input(format!("no billing run '{key}' (see `billrun runs`)")))
}

/// The latest run that is neither completed nor cancelled, else the latest
/// completed one, else the latest run, if any.
pub fn latest_open(conn: &Connection) -> Result<Option<Run>> {
    let q = |filter: &str| -> Result<Option<Run>> {
        Ok(conn
            .query_row(
                &format!("SELECT {COLS} FROM runs {filter} ORDER BY id DESC LIMIT 1"),
                [],
                row,
            )
            .optional()?)
    };
    Ok(match q("WHERE status NOT IN ('completed', 'cancelled')")? {
        Some(r) => Some(r),
        None => match q("WHERE status != 'cancelled'")? {
            Some(r) => Some(r),
            None => q("")?,
        },
    })
}

pub fn list(conn: &Connection) -> Result<Vec<Run>> {
    let mut st = conn.prepare(&format!("SELECT {COLS} FROM runs ORDER BY id"))?;
    let v = st.query_map([], row)?.collect::<Result<_, _>>()?;
    Ok(v)
}

/// Fields of a new run or a `set-dates` change. `Some(None)` clears a field.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    pub invoice_date: Option<Option<NaiveDate>>,
    pub cutoff_date: Option<Option<NaiveDate>>,
    pub due_date: Option<Option<NaiveDate>>,
    pub invoice_message: Option<Option<String>>,
}

impl Fields {
    pub fn is_empty(&self) -> bool {
        self.invoice_date.is_none()
            && self.cutoff_date.is_none()
            && self.due_date.is_none()
            && self.invoice_message.is_none()
    }
}

/// Create a run (status pending) at `now`; audited.
pub fn create(
    conn: &Connection,
    actor: &Actor,
    name: Option<&str>,
    cycle: &str,
    f: &Fields,
    now: DateTime<Utc>,
) -> Result<Run> {
    let known_cycle = conn
        .query_row(
            "SELECT 1 FROM cycles WHERE name = ?1 AND removed_at IS NULL",
            [cycle],
            |_| Ok(()),
        )
        .optional()?;
    if known_cycle.is_none() {
        return Err(bad_input(format!(
            "unknown billing cycle '{cycle}' (see `billrun cycles list`)"
        )));
    }
    let inv = f.invoice_date.flatten();
    let cutoff = f.cutoff_date.flatten();
    let due = f.due_date.flatten();
    lifecycle::check_dates(inv, cutoff, due).map_err(bad_input)?;
    let stamp = stamp(now);
    let name = lifecycle::run_name(name, cycle, cutoff, &stamp).map_err(bad_input)?;
    if let Some(inv) = inv
        && conn
            .query_row(
                "SELECT 1 FROM runs WHERE cycle = ?1 AND invoice_date = ?2 AND status != 'cancelled'",
                params![cycle, inv.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some()
    {
        return Err(bad_input(format!(
            "cycle {cycle} already has a run with invoice date {inv} (see billrun runs); cancel it first (billrun cancel RUN) if it was a mistake"
        )));
    }
    if conn
        .query_row(
            "SELECT 1 FROM runs WHERE name = ?1 AND status != 'cancelled'",
            [&name],
            |_| Ok(()),
        )
        .optional()?
        .is_some()
    {
        return Err(bad_input(format!(
            "a run named '{name}' already exists: choose another --name"
        )));
    }
    conn.execute(
        "INSERT INTO runs (name, cycle, status, invoice_date, cutoff_date, due_date, invoice_message, created_at)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7)",
        params![
            name,
            cycle,
            inv.map(|d| d.to_string()),
            cutoff.map(|d| d.to_string()),
            due.map(|d| d.to_string()),
            f.invoice_message.clone().flatten(),
            stamp
        ],
    )?;
    let id = conn.last_insert_rowid();
    audit::log(
        conn,
        actor,
        Some(id),
        "new",
        &format!("run '{name}' (cycle {cycle})"),
    )?;
    Ok(get(conn, id)?.expect("just inserted"))
}

/// Change a run's fields. Refused once bills are requested; a change after
/// sign-off (ready/approved) withdraws the sign-off.
pub fn set_fields(conn: &Connection, actor: &Actor, run: &Run, f: &Fields) -> Result<Run> {
    if run.status.is_cancelled() {
        return Err(precondition(format!(
            "run {} is cancelled: create a new run instead (billrun new)",
            run.id
        )));
    }
    if run.status.is_locked() {
        return Err(precondition(format!(
            "run {} is {}: its fields locked when bills were requested",
            run.id, run.status
        )));
    }
    let inv = f.invoice_date.unwrap_or(run.invoice_date);
    let cutoff = f.cutoff_date.unwrap_or(run.cutoff_date);
    let due = f.due_date.unwrap_or(run.due_date);
    let msg = f
        .invoice_message
        .clone()
        .unwrap_or(run.invoice_message.clone());
    lifecycle::check_dates(inv, cutoff, due).map_err(bad_input)?;
    conn.execute(
        "UPDATE runs SET invoice_date=?2, cutoff_date=?3, due_date=?4, invoice_message=?5 WHERE id=?1",
        params![run.id, inv.map(|d| d.to_string()), cutoff.map(|d| d.to_string()), due.map(|d| d.to_string()), msg],
    )?;
    let show = |o: Option<NaiveDate>| o.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
    audit::log(
        conn,
        actor,
        Some(run.id),
        "set-dates",
        &format!(
            "invoice {}, cutoff {}, due {}, message {:?}",
            show(inv),
            show(cutoff),
            show(due),
            msg
        ),
    )?;
    if matches!(run.status, RunStatus::Ready | RunStatus::Approved) {
        transition(
            conn,
            actor,
            run,
            Transition::Reopen,
            "fields changed after sign-off",
        )?;
        conn.execute(
            "DELETE FROM confirmations WHERE run_id = ?1 AND step = 'prebill'",
            [run.id],
        )?;
    }
    Ok(get(conn, run.id)?.expect("run exists"))
}

/// Change the status through the lifecycle; audited. The caller holds the
/// write transaction, and the status is re-read inside it so two racing
/// invocations cannot both move the same run.
pub fn transition(
    conn: &Connection,
    actor: &Actor,
    run: &Run,
    t: Transition,
    note: &str,
) -> Result<RunStatus> {
    let current: String =
        conn.query_row("SELECT status FROM runs WHERE id = ?1", [run.id], |r| {
            r.get(0)
        })?;
    let current: RunStatus = current.parse().map_err(bad_input)?;
    let to =
        lifecycle::apply(current, t).map_err(|e| precondition(format!("run {}: {e}", run.id)))?;
    let stamp = actor.stamp();
    conn.execute(
        "UPDATE runs SET status = ?2 WHERE id = ?1",
        params![run.id, to.as_str()],
    )?;
    match to {
        RunStatus::Requested => {
            conn.execute(
                "UPDATE runs SET requested_at = ?2 WHERE id = ?1",
                params![run.id, stamp],
            )?;
        }
        RunStatus::Completed => {
            conn.execute(
                "UPDATE runs SET completed_at = ?2 WHERE id = ?1",
                params![run.id, stamp],
            )?;
        }
        _ => {}
    }
    let detail = if note.is_empty() {
        format!("{current} → {to}")
    } else {
        format!("{current} → {to}: {note}")
    };
    audit::log(conn, actor, Some(run.id), t.as_str(), &detail)?;
    Ok(to)
}

pub fn set_expert(conn: &Connection, run_id: i64, operator: &str) -> Result<()> {
    conn.execute(
        "UPDATE runs SET expert_by = ?2 WHERE id = ?1",
        params![run_id, operator],
    )?;
    Ok(())
}

pub fn confirmations(conn: &Connection, run_id: i64) -> Result<std::collections::BTreeSet<String>> {
    let mut st = conn.prepare("SELECT step FROM confirmations WHERE run_id = ?1")?;
    let v = st
        .query_map([run_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Record the operator's confirmation of `step` at `now` (audited); false
/// when it was already confirmed.
pub fn confirm(
    conn: &Connection,
    actor: &Actor,
    run_id: i64,
    step: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO confirmations (run_id, step, operator, confirmed_at) VALUES (?1, ?2, ?3, ?4)",
        params![run_id, step, actor.operator, stamp(now)],
    )?;
    if n > 0 {
        audit::log(conn, actor, Some(run_id), "confirm", step)?;
    }
    Ok(n > 0)
}

/// Record that the post-billing report of `run_id` was run at `now`
/// (audited): `confirm RUN postbill` needs it.
pub fn mark_postbill(
    conn: &Connection,
    actor: &Actor,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "UPDATE runs SET postbill_at = ?2 WHERE id = ?1",
        params![run_id, stamp(now)],
    )?;
    audit::log(
        conn,
        actor,
        Some(run_id),
        "postbill",
        "post-billing report run",
    )
}

/// The carriers without a CDR file the operator acknowledged for a run:
/// carrier → reason.
pub fn missing_acks(
    conn: &Connection,
    run_id: i64,
) -> Result<std::collections::BTreeMap<String, String>> {
    let mut st = conn.prepare("SELECT carrier, reason FROM cdr_missing_acks WHERE run_id = ?1")?;
    let v = st
        .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Acknowledge that `carrier` sent no CDR file for run `run_id`, with the
/// operator's `reason` (audited). A second acknowledgement replaces the
/// reason.
pub fn acknowledge_missing(
    conn: &Connection,
    actor: &Actor,
    run_id: i64,
    carrier: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO cdr_missing_acks (run_id, carrier, reason, operator, acknowledged_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (run_id, carrier) DO UPDATE SET reason = excluded.reason,
             operator = excluded.operator, acknowledged_at = excluded.acknowledged_at",
        params![run_id, carrier, reason, actor.operator, stamp(now)],
    )?;
    audit::log(
        conn,
        actor,
        Some(run_id),
        "cdrs.missing",
        &format!("no CDR file from {carrier} acknowledged: {reason}"),
    )
}

/// Store the pre-billing snapshot (JSON) on the run.
pub fn save_prebill(
    conn: &Connection,
    run_id: i64,
    snapshot: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "UPDATE runs SET prebill_snapshot = ?2, prebill_at = ?3 WHERE id = ?1",
        params![run_id, snapshot, stamp(now)],
    )?;
    Ok(())
}

pub fn prebill_snapshot(conn: &Connection, run_id: i64) -> Result<Option<String>> {
    Ok(conn.query_row(
        "SELECT prebill_snapshot FROM runs WHERE id = ?1",
        [run_id],
        |r| r.get(0),
    )?)
}

/// Runs of `cycle` for `invoice_date` (idempotent `cycles tick`).
pub fn exists_for(conn: &Connection, cycle: &str, invoice_date: NaiveDate) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM runs WHERE cycle = ?1 AND invoice_date = ?2",
            params![cycle, invoice_date.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The run before this one in the same cycle (for period comparisons);
/// cancelled runs do not count.
pub fn previous(conn: &Connection, run: &Run) -> Result<Option<Run>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLS} FROM runs WHERE cycle = ?1 AND id < ?2 AND status != 'cancelled'
                 ORDER BY id DESC LIMIT 1"
            ),
            params![run.cycle, run.id],
            row,
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn d(s: &str) -> Option<Option<NaiveDate>> {
        Some(Some(s.parse().unwrap()))
    }

    #[test]
    fn create_set_and_lock() {
        let s = Store::memory().unwrap();
        let a = Actor::test();
        let f = Fields {
            invoice_date: d("2026-12-01"),
            cutoff_date: d("2026-11-30"),
            ..Default::default()
        };
        let r = create(&s.conn, &a, None, "monthly", &f, Utc::now()).unwrap();
        assert_eq!(r.name, "2026-11");
        assert_eq!(r.effective_due(14), "2026-12-15".parse().ok());
        assert!(
            create(&s.conn, &a, None, "monthly", &f, Utc::now()).is_err(),
            "same name twice"
        );
        transition(&s.conn, &a, &r, Transition::Ready, "").unwrap();
        let r = set_fields(
            &s.conn,
            &a,
            &get(&s.conn, r.id).unwrap().unwrap(),
            &Fields {
                due_date: d("2026-12-20"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            r.status,
            RunStatus::Pending,
            "a change after sign-off withdraws it"
        );
        transition(&s.conn, &a, &r, Transition::Request, "").unwrap();
        let r = get(&s.conn, r.id).unwrap().unwrap();
        let e = set_fields(
            &s.conn,
            &a,
            &r,
            &Fields {
                due_date: d("2026-12-21"),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        let log = audit::list(&s.conn, Some(r.id)).unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["new", "ready", "set-dates", "reopen", "request"]);
    }

    #[test]
    fn cutoff_after_invoice_date_is_refused() {
        let s = Store::memory().unwrap();
        let f = Fields {
            invoice_date: d("2026-11-01"),
            cutoff_date: d("2026-11-30"),
            ..Default::default()
        };
        assert_eq!(
            create(&s.conn, &Actor::test(), None, "monthly", &f, Utc::now())
                .unwrap_err()
                .exit_code(),
            4
        );
    }
}
