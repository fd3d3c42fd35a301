//! The autopilot's notices (schema.sql migration 17): what was told to
//! `notify.email`, so each news is told once.

use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// A notice about to be sent (or told before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub run_id: i64,
    /// `person` or `complete`.
    pub kind: &'static str,
    /// The step (checklist key) the run waits at; `complete` for completion.
    pub step: String,
    pub why: String,
}

/// Whether `n` was told already: a `sending` or `sent` notice of the same
/// run and kind (and, for `person`, the same step) not cleared since.
pub fn told(conn: &Connection, n: &Notice) -> Result<bool> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT id FROM autopilot_notices
             WHERE run_id = ?1 AND kind = ?2 AND step = ?3
               AND state IN ('sending', 'sent') AND cleared_at IS NULL
             LIMIT 1",
            params![n.run_id, n.kind, n.step],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Record `notices` as being sent under `message_id` (before the message
/// goes anywhere); returns their ids.
pub fn start(
    conn: &Connection,
    notices: &[Notice],
    message_id: &str,
    now: &str,
) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for n in notices {
        conn.execute(
            "INSERT INTO autopilot_notices (run_id, kind, step, why, state, message_id, created_at)
             VALUES (?1, ?2, ?3, ?4, 'sending', ?5, ?6)",
            params![n.run_id, n.kind, n.step, n.why, message_id, now],
        )?;
        ids.push(conn.last_insert_rowid());
    }
    Ok(ids)
}

/// The outcome of sending: `sent` or `failed`.
pub fn finish(conn: &Connection, ids: &[i64], state: &str) -> Result<()> {
    for id in ids {
        conn.execute(
            "UPDATE autopilot_notices SET state = ?2 WHERE id = ?1",
            params![id, state],
        )?;
    }
    Ok(())
}

/// Person notices of `run_id` not cleared, other than at `still_at` (the
/// step the run waits at now, if any): the run moved on, so a later stop
/// there is news again. Returns how many were cleared.
pub fn clear_moved_on(
    conn: &Connection,
    run_id: i64,
    still_at: Option<&str>,
    now: &str,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE autopilot_notices SET cleared_at = ?3
         WHERE run_id = ?1 AND kind = 'person' AND cleared_at IS NULL
           AND (?2 IS NULL OR step <> ?2)",
        params![run_id, still_at, now],
    )?)
}

/// Person notices of `run_id` that `clear_moved_on` would clear.
pub fn would_clear(conn: &Connection, run_id: i64, still_at: Option<&str>) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM autopilot_notices
         WHERE run_id = ?1 AND kind = 'person' AND cleared_at IS NULL
           AND (?2 IS NULL OR step <> ?2)",
        params![run_id, still_at],
        |r| r.get(0),
    )?)
}

/// Whether `operator` (the autopilot) changed anything of run `run_id`.
pub fn autopilot_acted(conn: &Connection, run_id: i64, operator: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM audit WHERE run_id = ?1 AND operator = ?2 LIMIT 1",
            params![run_id, operator],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
