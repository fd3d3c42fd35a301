//! The storage layer: the only code that speaks SQL.
//!
//! `Store::open` creates the file (mode 0600; a new database gets
//! [`PAGE_SIZE`] pages), sets WAL, `synchronous=NORMAL`,
//! foreign keys and a busy timeout, then applies the numbered migrations of
//! `schema.sql` above `PRAGMA user_version`.

pub mod allowances;
pub mod audit;
pub mod autopilot;
pub mod billing;
pub mod cdrs;
pub mod charges;
pub mod collect;
pub mod credits;
pub mod email;
pub mod errors;
pub mod fees;
pub mod invoices;
mod key_runs;
pub mod payments;
pub mod print;
pub mod production;
pub mod reference;
pub mod runs;
pub mod settings;
pub mod sources;
pub mod status;
pub mod xero;
pub mod xero_api;

use crate::error::Result;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

const SCHEMA: &str = include_str!("../../schema.sql");

/// How long a second invocation waits for the database before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The page size of a new database (SQLite's default is 4096). Larger
/// pages mean fewer pages, frames and system calls per imported CDR.
pub const PAGE_SIZE: i64 = 16384;

pub struct Store {
    pub conn: Connection,
}

/// The migrations of schema.sql, as (number, sql).
pub fn migrations() -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = Vec::new();
    for line in SCHEMA.lines() {
        if let Some(n) = line.strip_prefix("-- migration: ") {
            let n: u32 = n.trim().parse().expect("schema.sql: bad migration number");
            out.push((n, String::new()));
        } else if let Some((_, sql)) = out.last_mut() {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    for (i, (n, _)) in out.iter().enumerate() {
        assert_eq!(
            *n as usize,
            i + 1,
            "schema.sql: migrations must be numbered 1, 2, 3…"
        );
    }
    out
}

impl Store {
    /// Open (creating if needed, mode 0600) and migrate.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            create_private(path).map_err(|e| {
                crate::error::external(format!("cannot create database {}: {e}", path.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        Self::setup(conn, true)
    }

    /// An in-memory store, for tests.
    pub fn memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?, false)
    }

    fn setup(conn: Connection, wal: bool) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A page size only takes on a database without pages yet (and
        // before WAL is on); an existing database keeps its own.
        let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        if pages == 0 {
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
        if wal {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Apply the migrations above `user_version`. Foreign keys are off
    /// while they run (SQLite's documented procedure for rebuilding a table
    /// that others reference: migration 9 rebuilds `cdrs` keeping its ids)
    /// and checked before each commit.
    fn migrate(&mut self) -> Result<()> {
        let current: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if migrations().len() as u32 <= current {
            return Ok(());
        }
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        let done = self.apply_migrations(current);
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        done
    }

    fn apply_migrations(&mut self, current: u32) -> Result<()> {
        for (n, sql) in migrations() {
            if n <= current {
                continue;
            }
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
            // Re-check inside the lock: a racing `init` may have migrated already.
            let now: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if n <= now {
                continue;
            }
            check_before_migration(&tx, n)?;
            tx.execute_batch(&sql)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()?;
            if let Some(table) = broken {
                return Err(crate::error::external(format!(
                    "migration {n} would break a reference from table {table}; nothing was changed"
                )));
            }
            tx.pragma_update(None, "user_version", n)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// A write transaction that takes the write lock at once, so two racing
    /// invocations serialise (the second waits up to the busy timeout).
    pub fn write(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }
}

/// SQLite's `PRAGMA data_version` of `conn`: two reads give the same value
/// unless another connection committed a change to the database in
/// between (this connection's own commits do not change it).
pub fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

/// Create an empty file readable by its owner only.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// The directory beside the database that holds the files billrun writes
/// and keeps (invoice PDFs, print bundles): `<db file name>.files/`.
pub fn files_dir(db: &Path) -> std::path::PathBuf {
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "billrun.db".into());
    db.with_file_name(format!("{name}.files"))
}

/// Set `invoice_id` on the rows `ids` of `table` that no invoice has billed
/// yet (and that meet `and`, an extra SQL condition or ""); returns how many
/// were marked. Used by production, inside its transaction.
pub(crate) fn mark_invoiced(
    conn: &rusqlite::Connection,
    table: &'static str,
    and: &'static str,
    ids: &[i64],
    invoice_id: i64,
) -> Result<usize> {
    let sql =
        format!("UPDATE {table} SET invoice_id = ?1 WHERE id = ?2 AND invoice_id IS NULL {and}");
    let mut st = conn.prepare_cached(&sql)?;
    let mut n = 0;
    for id in ids {
        n += st.execute(rusqlite::params![invoice_id, id])?;
    }
    Ok(n)
}

/// What a migration needs of the data, checked before it runs, so that it
/// fails with a message an operator can act on rather than a constraint
/// error. Migration 9 turns each CDR's start into seconds: a start SQLite
/// cannot read as a date (a year after 9999, from an old mapped format)
/// would make it fail on every command.
fn check_before_migration(conn: &Connection, n: u32) -> Result<()> {
    if n != 9 {
        return Ok(());
    }
    let bad: Vec<(i64, String)> = conn
        .prepare("SELECT id, start FROM cdrs WHERE strftime('%s', start) IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if bad.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = bad
        .iter()
        .take(10)
        .map(|(id, start)| format!("{id} ({start})"))
        .collect();
    Err(crate::error::external(format!(
        "cannot upgrade the database to schema 9: {} CDRs have a start time that is not a \
         date (id and start: {}{}); nothing was changed. Correct them with sqlite3, e.g. \
         UPDATE cdrs SET start = 'YYYY-MM-DDTHH:MM:SS' WHERE id = …, then run billrun again",
        bad.len(),
        shown.join(", "),
        if bad.len() > 10 { ", …" } else { "" }
    )))
}

/// Now, as stored in `*_at` columns (RFC 3339, UTC, seconds).
pub fn now_stamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {

    /// `data_version` moves with another connection's commit, not with the
    /// connection's own (production relies on it to reuse the request's
    /// gathered inputs).
    #[test]
    fn data_version_moves_only_with_other_connections_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        let mut a = Store::open(&path).unwrap();
        let b = Store::open(&path).unwrap();
        let v0 = data_version(&a.conn).unwrap();
        let tx = a.write().unwrap();
        tx.execute("INSERT INTO settings (key, value) VALUES ('x.a', '1')", [])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(data_version(&a.conn).unwrap(), v0);
        b.conn
            .execute("INSERT INTO settings (key, value) VALUES ('x.b', '1')", [])
            .unwrap();
        assert_ne!(data_version(&a.conn).unwrap(), v0);
    }

    use super::*;

    #[test]
    fn migrations_apply_once_and_are_numbered() {
        let s = Store::memory().unwrap();
        assert_eq!(s.schema_version().unwrap() as usize, migrations().len());
        let mut s2 = s;
        s2.migrate().unwrap();
        assert_eq!(s2.schema_version().unwrap() as usize, migrations().len());
    }

    #[test]
    fn migration_9_refuses_a_start_that_is_not_a_date_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        let conn = Connection::open(&path).unwrap();
        for (n, sql) in migrations().into_iter().take(8) {
            conn.execute_batch(&sql).unwrap();
            conn.pragma_update(None, "user_version", n).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO carriers VALUES ('c', 'billrun', NULL, 'x');
             INSERT INTO cdr_files (id, carrier, name, sha256, state, imported_at)
                VALUES (1, 'c', 'f.csv', 'aa', 'processed', 'x');
             INSERT INTO cdrs (id, file_id, line, service, start, destination, call_type, units, state)
                VALUES (4, 1, 2, '441', '12026-11-30T10:00:00', '4420', 'voice', 10, 'unrated');",
        )
        .unwrap();
        let err = Store::setup(conn, false)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("schema 9"), "{err}");
        assert!(err.contains("4 (12026-11-30T10:00:00)"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 8, "still at version 8");
        let start: String = conn
            .query_row("SELECT start FROM cdrs WHERE id = 4", [], |r| r.get(0))
            .unwrap();
        assert_eq!(start, "12026-11-30T10:00:00");
    }

    #[test]
    fn migration_9_narrows_cdrs_keeping_ids_and_references() {
        // A database at version 8 with a rated, a billed and an error CDR.
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for (n, sql) in migrations().into_iter().take(8) {
            conn.execute_batch(&sql).unwrap();
            conn.pragma_update(None, "user_version", n).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO customers (account, name, delivery, payment_method, created_at)
                VALUES ('C1', 'One', 'print', 'manual', 'x');
             INSERT INTO carriers VALUES ('c', 'billrun', NULL, 'x');
             INSERT INTO cdr_files (id, carrier, name, sha256, state, imported_at)
                VALUES (1, 'c', 'f.csv', 'aa', 'processed', 'x');
             INSERT INTO rates (id, tariff, prefix, description, call_type, band, flagfall, rate,
                increment, minimum_charge) VALUES (7, 'T', '44', 'UK', 'voice', 'all', '0', '0.6', '1/1', '0');
             INSERT INTO cdrs (id, file_id, line, service, start, destination, call_type, units,
                state, rate_id, band, billable, charge_minor, description, dedupe)
                VALUES (5, 1, 2, '441', '2026-11-30T23:59:59', '4420', 'voice', 10, 'rated', 7,
                    'all', 10, 10, 'UK', 123),
                       (9, 1, 3, '441', '2026-12-01T00:00:00', '4420', 'voice', 10, 'error',
                    NULL, NULL, NULL, NULL, NULL, NULL);
             INSERT INTO billing_errors (kind, cdr_id, file_id, line, created_at)
                VALUES ('duplicate', 9, 1, 3, 'x');",
        )
        .unwrap();
        let s = Store::setup(conn, false).unwrap();
        assert_eq!(s.schema_version().unwrap() as usize, migrations().len());
        let rows: Vec<(i64, i64, i64)> = s
            .conn
            .prepare("SELECT id, start, coalesce(dedupe, 0) FROM cdrs ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // Migration 11: call type, state and band as their codes.
        let codes: Vec<(i64, i64, Option<i64>)> = s
            .conn
            .prepare("SELECT call_type, state, band FROM cdrs ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(codes, vec![(0, 1, Some(0)), (0, 0, None)]);
        let t = |s: &str| {
            crate::domain::cdrs::start_secs(
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap(),
            )
        };
        assert_eq!(
            rows,
            vec![
                (5, t("2026-11-30T23:59:59"), 123),
                (9, t("2026-12-01T00:00:00"), 0)
            ]
        );
        let cdr: i64 = s
            .conn
            .query_row(
                "SELECT c.id FROM billing_errors e JOIN cdrs c ON c.id = e.cdr_id",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(cdr, 9);
        let fk: bool = s
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are back on after migrating");
        // Migration 29: the stored keys moved to cdr_keys, which refuses a
        // second CDR under the same key.
        let keys: Vec<(i64, i64)> = s
            .conn
            .prepare("SELECT key, cdr_id FROM cdr_keys")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(keys, vec![(123, 5)]);
        assert!(
            s.conn
                .execute("INSERT INTO cdr_keys (key, cdr_id) VALUES (123, 9)", [])
                .is_err()
        );
    }

    #[test]
    fn cdr_references_are_checked_at_commit() {
        let mut s = Store::memory().unwrap();
        s.conn
            .execute_batch("INSERT INTO carriers VALUES ('c', 'billrun', NULL, 'x');")
            .unwrap();
        let tx = s.write().unwrap();
        // Deferred: the statement goes through, the commit refuses.
        tx.execute(
            "INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, state)
                VALUES (999, 1, '441', 0, '44', 0, 1, 0)",
            [],
        )
        .unwrap();
        assert!(tx.commit().is_err());
        let n: i64 = s
            .conn
            .query_row("SELECT count(*) FROM cdrs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "nothing of the refused transaction is left");
    }

    #[test]
    fn a_new_database_gets_the_page_size_an_existing_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.db");
        let size = |s: &Store| -> i64 {
            s.conn
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap()
        };
        assert_eq!(size(&Store::open(&p).unwrap()), PAGE_SIZE);
        let old = dir.path().join("old.db");
        {
            let c = Connection::open(&old).unwrap();
            c.execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x);")
                .unwrap();
        }
        assert_eq!(size(&Store::open(&old).unwrap()), 4096);
    }

    #[test]
    fn database_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.db");
        Store::open(&p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
