//! The audit log: every state change, with time, operator and command line.

use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

/// Who is acting, and through which command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub operator: String,
    pub command: String,
    /// The instant stamped on what this actor records: `None` the
    /// machine's clock at each write; `Some` the instant of a clock that
    /// stands still (`ops::Clock::frozen`: the autopilot under the debug
    /// builds' `BILLRUN_TEST_NOW`, the demo's month), so that its audit
    /// entries and records carry the time it runs at.
    pub at: Option<DateTime<Utc>>,
}

impl Actor {
    /// The OS user running this process, and its command line.
    pub fn from_env() -> Actor {
        let operator = ["BILLRUN_OPERATOR", "USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .or_else(|| whoami::username().ok())
            .unwrap_or_else(|| "unknown".into());
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        Actor {
            operator,
            command,
            at: None,
        }
    }

    /// The OS user of this process, from the system's user database (not
    /// from `BILLRUN_OPERATOR` or `USER`, which anyone can set): what
    /// permissions such as `expert.users` are checked against.
    pub fn os_user() -> String {
        whoami::username().unwrap_or_else(|_| "unknown".into())
    }

    /// The time stamp of what this actor records now (RFC 3339, UTC,
    /// seconds, as `store::now_stamp`).
    pub fn stamp(&self) -> String {
        match self.at {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            None => super::now_stamp(),
        }
    }

    #[cfg(test)]
    pub fn test() -> Actor {
        Actor {
            operator: "tester".into(),
            command: "billrun test".into(),
            at: None,
        }
    }
}

/// Append one entry. Call inside the transaction that makes the change.
pub fn log(
    conn: &Connection,
    actor: &Actor,
    run_id: Option<i64>,
    action: &str,
    detail: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (at, operator, command, run_id, action, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![actor.stamp(), actor.operator, actor.command, run_id, action, detail],
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub operator: String,
    pub command: String,
    pub run: Option<i64>,
    pub action: String,
    pub detail: String,
}

/// The log, oldest first; with `run`, only that run's entries.
pub fn list(conn: &Connection, run: Option<i64>) -> Result<Vec<Entry>> {
    let mut st = conn.prepare(
        "SELECT id, at, operator, command, run_id, action, detail FROM audit
         WHERE ?1 IS NULL OR run_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([run], |r| {
        Ok(Entry {
            id: r.get(0)?,
            at: r.get(1)?,
            operator: r.get(2)?,
            command: r.get(3)?,
            run: r.get(4)?,
            action: r.get(5)?,
            detail: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
