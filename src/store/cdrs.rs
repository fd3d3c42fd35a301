//! Carriers, CDR files, CDRs and billing errors (docs/file-formats.md#cdr-files, docs/rating.md): every query
//! of the CDR feature, and the file store.
//!
//! **File store.** An imported or fetched file is kept, byte for byte, in
//! `<db>.files/cdr/<sha256>` (created mode 0700 beside the database), so a
//! pending file can be processed later and any line can be looked up again.
//! The `cdr_files` row names the file as received; its SHA-256 is unique.
//!
//! **Import hot path** ([`store_lines`]): lines arrive parsed and rated
//! (`ops::cdr_import` streams the file through `domain::cdrs::LineBatch`
//! on another thread) and are persisted inside the caller's single
//! transaction, through cached prepared statements, 32 to a multi-row
//! INSERT. Duplicates are settled once the file's lines are in
//! ([`settle_keys`]): the file's compact dedupe keys, held in memory, are
//! sorted and merged with the stored ones (`cdr_keys`), so keys go in in
//! key order whatever the order of the file; only when a key is taken are
//! the stored fields compared (see `domain::cdrs`).
//!
//! **Stored form** (schema.sql migration 9): `start` is INTEGER seconds of
//! the local wall-clock time (`domain::cdrs::start_secs`); the rate
//! description is read through `rate_id`; the unbilled-CDR index is keyed
//! by `start`, so billing and production read the unbilled CDRs before a
//! cutoff as one index range.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{Days, Months, NaiveDate, NaiveDateTime};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use rustc_hash::FxHashSet;

use super::audit::{self, Actor};
use super::key_runs::{KeyRuns, Keyed};
use super::runs;
use crate::domain::billing_errors::ErrorRow;
use crate::domain::cdr_format::{CdrFileError, CdrFormat, ColumnMap};
use crate::domain::cdrs::{
    CdrText, Identity, LineBatch, Processed, RatedCdr, RatedLine, Rater, Rating, StartText,
    day_secs, dedupe_key, from_start_secs, to_i64,
};
use crate::domain::checklist::{CarrierPeriod, CdrFacts};
use crate::domain::money;
use crate::domain::rating::{
    CallType, ErrorKind, Increment, PeakWindow, RateRow, RateTable, ServiceInfo,
};
use crate::error::{Error, Result, bad_input, external, precondition};

// ---------------------------------------------------------------- carriers

#[derive(Debug, Clone, Serialize)]
pub struct Carrier {
    pub name: String,
    pub format: String,
    pub inbox: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CarrierRow {
    pub name: String,
    pub format: String,
    pub inbox: Option<String>,
    /// The remote source URL (never holds a password) and its file name
    /// pattern, for a carrier with a remote source.
    pub source: Option<String>,
    pub pattern: Option<String>,
    /// IMAP: fully fetched messages are flagged `\Seen`.
    pub mark_seen: bool,
    pub files: u64,
    pub pending: u64,
    pub last_import: Option<String>,
    /// CDR files and lines in the latest open run's period, and the
    /// previous period (see [`periods`]); 0 without such a run.
    pub files_this: u64,
    pub lines_this: u64,
    pub files_prev: u64,
    pub lines_prev: u64,
}

/// Parse a carrier's format text: `billrun`, `asterisk` or `mapped:PATH`
/// (the TOML column map is read and checked).
pub fn parse_format(text: &str) -> Result<CdrFormat> {
    match text {
        "billrun" => Ok(CdrFormat::Billrun),
        "asterisk" => Ok(CdrFormat::Asterisk),
        "asterisk:accountcode" => Ok(CdrFormat::AsteriskAccountcode),
        _ => {
            let Some(path) = text.strip_prefix("mapped:") else {
                return Err(bad_input(format!(
                    "'{text}' is not a CDR format: billrun, asterisk or mapped:PATH (a TOML column map), or asterisk:accountcode (Asterisk, billed by accountcode)"
                )));
            };
            let body = std::fs::read_to_string(path)
                .map_err(|e| bad_input(format!("{path}: cannot read the column map: {e}")))?;
            ColumnMap::from_toml_str(&body)
                .map(CdrFormat::Mapped)
                .map_err(|e| bad_input(format!("{path}: {e}")))
        }
    }
}

pub fn add_carrier(
    conn: &Connection,
    actor: &Actor,
    name: &str,
    format: &str,
    inbox: Option<&str>,
) -> Result<()> {
    if name.trim().is_empty() {
        return Err(bad_input("a carrier needs a name"));
    }
    if carrier(conn, name)?.is_some() {
        return Err(bad_input(format!(
            "carrier '{name}' already exists (see billrun carriers list)"
        )));
    }
    conn.execute(
        "INSERT INTO carriers (name, format, inbox, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, format, inbox, actor.stamp()],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "carrier.add",
        &format!("{name}: format {format}, inbox {}", inbox.unwrap_or("none")),
    )
}

pub fn carrier(conn: &Connection, name: &str) -> Result<Option<Carrier>> {
    Ok(conn
        .query_row(
            "SELECT name, format, inbox, created_at FROM carriers WHERE name = ?1",
            [name],
            |r| {
                Ok(Carrier {
                    name: r.get(0)?,
                    format: r.get(1)?,
                    inbox: r.get(2)?,
                    created_at: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// A carrier that must exist.
pub fn carrier_required(conn: &Connection, name: &str) -> Result<Carrier> {
    carrier(conn, name)?.ok_or_else(|| {
        bad_input(format!(
            "no carrier '{name}': add it first (billrun carriers add {name} --format billrun)"
        ))
    })
}

pub fn list_carriers(conn: &Connection) -> Result<Vec<CarrierRow>> {
    let mut st = conn.prepare(
        "SELECT c.name, c.format, c.inbox, count(f.id), coalesce(sum(f.state = 'pending'), 0),
                max(f.imported_at), s.url, s.pattern, coalesce(s.mark_seen, 0)
         FROM carriers c LEFT JOIN cdr_files f ON f.carrier = c.name
         LEFT JOIN carrier_sources s ON s.carrier = c.name
         GROUP BY c.name ORDER BY c.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(CarrierRow {
            name: r.get(0)?,
            format: r.get(1)?,
            inbox: r.get(2)?,
            source: r.get(6)?,
            pattern: r.get(7)?,
            mark_seen: r.get::<_, i64>(8)? != 0,
            files: r.get(3)?,
            pending: r.get(4)?,
            last_import: r.get(5)?,
            files_this: 0,
            lines_this: 0,
            files_prev: 0,
            lines_prev: 0,
        })
    })?;
    let mut out: Vec<CarrierRow> = rows.collect::<Result<_, _>>()?;
    let Some(run) = runs::latest_open(conn)? else {
        return Ok(out);
    };
    let periods = carrier_periods(conn, &run)?;
    for c in out.iter_mut() {
        if let Some(p) = periods.iter().find(|p| p.carrier == c.name) {
            (c.files_this, c.lines_this) = (p.files_this, p.lines_this);
            (c.files_prev, c.lines_prev) = (p.files_prev, p.lines_prev);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- files

/// Where imported CDR files are kept: `<db>.files/cdr/`.
pub fn files_dir(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.files", db.display())).join("cdr")
}

/// The stored copy of a file.
pub fn stored_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(sha256)
}

/// Copy `from` into `dst` (a new file at `to`, named in errors) in one
/// pass and return the SHA-256 of the bytes written, so the bytes stored
/// are exactly the bytes hashed, even if the source changes meanwhile. Not
/// synced here: see `ops::cdr_import`'s `Stashed::keep`. `copied` is told
/// the bytes of each 1 MiB chunk as it is written (progress).
pub fn copy_hashing(
    from: &Path,
    dst: &mut std::fs::File,
    to: &Path,
    copied: &mut dyn FnMut(u64),
) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    let cannot_read =
        |e: std::io::Error| bad_input(format!("{}: cannot read: {e}", from.display()));
    let cannot_write = |e: std::io::Error| external(format!("{}: cannot write: {e}", to.display()));
    let mut src = std::fs::File::open(from).map_err(cannot_read)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(cannot_read(e)),
        };
        h.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(cannot_write)?;
        copied(n as u64);
    }
    Ok(hex::encode(h.finalize()))
}

/// Make the file store directory (owner only).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| external(format!("cannot create {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Some(parent) = dir.parent() {
            let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700));
        }
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    pub id: i64,
    pub carrier: String,
    pub name: String,
    pub sha256: String,
    pub lines: u64,
    pub state: String,
    pub imported_at: String,
    pub rated: u64,
    pub errors: u64,
    pub waiting: u64,
    pub billed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub not_billable: u64,
}

/// The file already stored with this SHA-256: (id, name, imported_at).
pub fn file_by_sha(conn: &Connection, sha: &str) -> Result<Option<(i64, String, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, name, imported_at FROM cdr_files WHERE sha256 = ?1",
            [sha],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// The refusal for a file seen before (exit 4).
pub fn already_imported(label: &str, id: i64, name: &str, at: &str) -> Error {
    bad_input(format!(
        "{label}: this file was already imported as CDR file {id} ({name}, {at}); nothing was changed"
    ))
}

/// Record a new file as `pending`. The SHA-256 must be new.
pub fn register_file(
    conn: &Connection,
    actor: &Actor,
    carrier: &str,
    name: &str,
    sha: &str,
    now: &str,
) -> Result<i64> {
    if let Some((id, n, at)) = file_by_sha(conn, sha)? {
        return Err(already_imported(name, id, &n, &at));
    }
    conn.execute(
        "INSERT INTO cdr_files (carrier, name, sha256, state, imported_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
        params![carrier, name, sha, now],
    )?;
    let id = conn.last_insert_rowid();
    audit::log(
        conn,
        actor,
        None,
        "cdr.file",
        &format!("file {id} {name} from {carrier} stored (sha256 {sha})"),
    )?;
    Ok(id)
}

/// The waiting boundary, in the stored form of a CDR start: CDRs starting
/// at or after it wait for a later run (the first second of the day after
/// the cutoff of the latest open run).
fn waiting_from_secs(conn: &Connection) -> Result<Option<i64>> {
    Ok(runs::latest_open(conn)?
        .and_then(|r| r.cutoff_date)
        .and_then(|c| c.checked_add_days(Days::new(1)))
        .map(day_secs))
}

/// Every CDR file, in id order, handed to `each` as it is read (`cdr
/// list`): the per-file counts are one pass over the CDRs (a map with an
/// entry per file), the files are not held.
pub fn each_file(conn: &Connection, mut each: impl FnMut(FileRow)) -> Result<()> {
    let from = waiting_from_secs(conn)?;
    let mut counts: HashMap<i64, [u64; 4]> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT file_id, sum(state = 1), sum(state = 0),
                    sum(state = 1 AND invoice_id IS NULL AND ?1 IS NOT NULL AND start >= ?1),
                    sum(invoice_id IS NOT NULL)
             FROM cdrs GROUP BY file_id",
        )?;
        let rows = st.query_map([&from], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?],
            ))
        })?;
        for r in rows {
            let (id, c) = r?;
            counts.insert(id, c);
        }
    }
    let malformed: HashMap<i64, u64> = {
        let mut st = conn.prepare(
            "SELECT file_id, count(*) FROM billing_errors WHERE kind = 'malformed' GROUP BY file_id",
        )?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut st = conn.prepare(
        "SELECT id, carrier, name, sha256, lines, state, imported_at, failure, not_billable
         FROM cdr_files ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(FileRow {
            id: r.get(0)?,
            carrier: r.get(1)?,
            name: r.get(2)?,
            sha256: r.get(3)?,
            lines: r.get(4)?,
            state: r.get(5)?,
            imported_at: r.get(6)?,
            failure: r.get(7)?,
            not_billable: r.get(8)?,
            rated: 0,
            errors: 0,
            waiting: 0,
            billed: 0,
        })
    })?;
    for r in rows {
        let mut f = r?;
        let c = counts.get(&f.id).copied().unwrap_or_default();
        f.rated = c[0];
        f.errors = c[1] + malformed.get(&f.id).copied().unwrap_or(0);
        f.waiting = c[2];
        f.billed = c[3];
        each(f);
    }
    Ok(())
}

/// A file by id or by name (a name shared by several files is refused).
pub fn resolve_file(conn: &Connection, key: &str) -> Result<(i64, String, String)> {
    if let Ok(id) = key.parse::<i64>()
        && let Some(r) = conn
            .query_row(
                "SELECT id, name, state FROM cdr_files WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
    {
        return Ok(r);
    }
    let mut st =
        conn.prepare("SELECT id, name, state FROM cdr_files WHERE name = ?1 ORDER BY id")?;
    let found: Vec<(i64, String, String)> = st
        .query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    match found.len() {
        0 => Err(bad_input(format!(
            "no CDR file '{key}' (see billrun cdr list)"
        ))),
        1 => Ok(found.into_iter().next().expect("one")),
        _ => Err(bad_input(format!(
            "several CDR files are named '{key}' (ids {}): name one by id",
            found
                .iter()
                .map(|f| f.0.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Ignore a pending or failed file: it is not processed and no longer
/// blocks `confirm RUN cdrs`.
pub fn ignore_file(conn: &Connection, actor: &Actor, key: &str) -> Result<(i64, String)> {
    let (id, name, state) = resolve_file(conn, key)?;
    if !matches!(state.as_str(), "pending" | "failed") {
        return Err(precondition(format!(
            "CDR file {id} ({name}) is {state}: only pending or failed files can be ignored"
        )));
    }
    conn.execute("UPDATE cdr_files SET state = 'ignored' WHERE id = ?1", [id])?;
    audit::log(
        conn,
        actor,
        None,
        "cdr.ignore",
        &format!("file {id} {name} ({state}) ignored"),
    )?;
    Ok((id, name))
}

/// Pending files, oldest first: (id, name, carrier, sha256).
pub fn pending_files(conn: &Connection) -> Result<Vec<(i64, String, String, String)>> {
    let mut st = conn.prepare(
        "SELECT id, name, carrier, sha256 FROM cdr_files WHERE state = 'pending' ORDER BY id",
    )?;
    let v = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Mark a file failed (a whole-file problem: binary, not UTF-8, no header).
pub fn fail_file(conn: &Connection, actor: &Actor, id: i64, why: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE cdr_files SET state = 'failed', failure = ?2, processed_at = ?3 WHERE id = ?1",
        params![id, why, now],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "cdr.failed",
        &format!("file {id}: {why}"),
    )
}

// ---------------------------------------------------------------- rating

/// Services (by number) and rates, with the peak window given (from the
/// settings), for rating.
pub fn load_rater(conn: &Connection, peak: PeakWindow) -> Result<Rater> {
    let mut services = rustc_hash::FxHashMap::default();
    {
        let mut st = conn.prepare(
            "SELECT s.service, p.tariff, s.start_date, s.end_date
             FROM services s JOIN plans p ON p.plan = s.plan",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let start: String = r.get(2)?;
            let end: Option<String> = r.get(3)?;
            let date = |s: &str| {
                s.parse::<NaiveDate>()
                    .map_err(|e| bad_input(format!("stored service date '{s}': {e}")))
            };
            services.insert(
                r.get::<_, String>(0)?,
                ServiceInfo {
                    tariff: r.get(1)?,
                    start_date: date(&start)?,
                    end_date: end.as_deref().map(date).transpose()?,
                },
            );
        }
    }
    let mut rows = Vec::new();
    {
        let mut st = conn.prepare(
            "SELECT id, tariff, prefix, description, call_type, band, flagfall, rate, increment,
                    minimum_charge, maximum_charge FROM rates ORDER BY id",
        )?;
        let mut q = st.query([])?;
        while let Some(r) = q.next()? {
            let txt = |i: usize| -> Result<String> { Ok(r.get::<_, String>(i)?) };
            let dec = |i: usize| -> Result<rust_decimal::Decimal> {
                let s = txt(i)?;
                money::parse(&s).map_err(|e| bad_input(format!("stored rate: {e}")))
            };
            let max: Option<String> = r.get(10)?;
            rows.push(RateRow {
                id: r.get(0)?,
                tariff: txt(1)?,
                prefix: txt(2)?,
                description: txt(3)?,
                call_type: txt(4)?.parse().map_err(bad_input)?,
                band: txt(5)?.parse().map_err(bad_input)?,
                flagfall: dec(6)?,
                rate: dec(7)?,
                increment: txt(8)?.parse::<Increment>().map_err(bad_input)?,
                minimum_charge: dec(9)?,
                maximum_charge: max
                    .filter(|m| !m.trim().is_empty())
                    .map(|m| money::parse(&m).map_err(bad_input))
                    .transpose()?,
            });
        }
    }
    Ok(Rater {
        services,
        rates: RateTable::new(rows),
        peak,
    })
}

/// Give a large import room: a page cache big enough for the CDR indexes
/// working set, so index inserts do not spill to the file mid-transaction.
/// Bounded (not proportional to the file), so memory stays flat.
pub fn tune_for_import(conn: &Connection) -> Result<()> {
    let kib: i64 = std::env::var("BILLRUN_IMPORT_CACHE_KIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(65_536);
    conn.pragma_update(None, "cache_size", -kib)?;
    Ok(())
}

const INSERT_ERROR: &str = "INSERT INTO billing_errors (kind, cdr_id, file_id, line, service,
    destination, start, carrier_cost, detail, raw, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// Record that file `file_id` is processed: its line counts and the
/// audit entry (inside the transaction that stored its lines).
pub fn finish_file(conn: &Connection, actor: &Actor, out: &Processed, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE cdr_files SET state = 'processed', lines = ?2, not_billable = ?3, processed_at = ?4,
            failure = NULL WHERE id = ?1",
        params![out.file_id, out.lines, out.not_billable, now],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "cdr.process",
        &format!(
            "file {}: {} lines, {} rated ({}), {} errors, {} not billable",
            out.file_id,
            out.lines,
            out.rated,
            money::fmt_minor(out.charge_minor),
            out.error_count(),
            out.not_billable
        ),
    )
}

/// The write-ahead log of the database file behind `conn` (`None` in memory).
pub fn wal_path(conn: &Connection) -> Option<PathBuf> {
    conn.path()
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(format!("{p}-wal")))
}

/// Commits of this connection are synced to disk before they return
/// (`synchronous=FULL`; the store's default, NORMAL, leaves the WAL's sync
/// to the next checkpoint). For commits a file removal depends on.
pub fn sync_commits(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// How `cdrs` stores call types, states and bands: small integer codes
/// (schema.sql migration 11, which lists them too).
pub mod code {
    use crate::domain::rating::{Band, CallType};

    /// `state` of a CDR that is a billing error (or a duplicate's copy).
    pub const ERROR: i64 = 0;
    /// `state` of a rated CDR.
    pub const RATED: i64 = 1;

    pub fn call_type(c: CallType) -> i64 {
        c.index() as i64
    }

    pub fn call_type_of(code: i64) -> Option<CallType> {
        CallType::ALL.into_iter().find(|c| call_type(*c) == code)
    }

    pub fn band(b: Band) -> i64 {
        match b {
            Band::All => 0,
            Band::Peak => 1,
            Band::Offpeak => 2,
        }
    }

    /// A stored call type (read from result column `col`) as its name
    /// (`voice`, `sms`, `data`), for readers that report it.
    pub fn call_type_name(code: i64, col: usize) -> rusqlite::Result<String> {
        call_type_of(code)
            .map(|c| c.as_str().to_string())
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(col, code))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn codes_round_trip_and_match_migration_11() {
            assert_eq!(CallType::ALL.map(call_type), [0, 1, 2]);
            for c in CallType::ALL {
                assert_eq!(call_type_of(call_type(c)), Some(c));
            }
            assert_eq!(call_type_of(3), None);
            assert_eq!([Band::All, Band::Peak, Band::Offpeak].map(band), [0, 1, 2]);
            assert_eq!(call_type_name(1, 2).unwrap(), "sms");
            assert!(call_type_name(7, 2).is_err());
        }
    }
}

/// While a large import writes its pages to the WAL, have the kernel write
/// them to disk as they come (an `fdatasync` of the WAL every 50 ms, on
/// this thread), until `stop` hangs up. The checkpoint that follows the
/// commit of a large import (its WAL is far past SQLite's 1,000-page
/// auto-checkpoint) syncs the WAL before copying it into the database;
/// that sync then finds little left to write: the disk works while the
/// import computes instead of after it. This adds no durability and
/// changes nothing SQLite relies on (written frames only reach the disk
/// sooner); a failure here is ignored, as the checkpoint's own sync
/// reports errors.
pub fn flush_wal_meanwhile(wal: &Path, stop: &std::sync::mpsc::Receiver<()>) {
    let mut file = None;
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        stop.recv_timeout(std::time::Duration::from_millis(50))
    {
        if file.is_none() {
            file = std::fs::File::open(wal).ok(); // not there before the first spill
        }
        if let Some(f) = &file {
            let _ = f.sync_data();
        }
    }
}

/// CDRs written by one multi-row INSERT (see [`store_lines`]).
const CHUNK: usize = 32;
/// Columns bound per CDR row.
const COLS: usize = 13;
/// Dedupe keys written by one multi-row INSERT (see [`settle_keys`]).
const KEY_CHUNK: usize = 64;
/// Dedupe keys held in memory (12 bytes each, see [`Keyed`]) before they
/// are sorted into a run on disk: 48 MB at most, whatever the file's size
/// (a thousand in unit tests, so that their files are sorted in runs).
const KEYS_HELD: usize = if cfg!(test) { 1000 } else { 4 << 20 };

/// The CDR insert for `rows` rows of file `file_id` (a literal: one bind
/// less per row). `OR FAIL` and the deferred references of `cdrs` (schema.sql
/// migration 10) spare SQLite a statement journal for the multi-row INSERT;
/// any error still fails the statement, and the caller rolls the whole
/// import back.
fn insert_cdrs_sql(rows: usize, file_id: i64) -> String {
    let row = format!("({file_id},?,?,?,?,?,?,?,?,?,?,?,?,?)");
    let mut s = String::from(
        "INSERT OR FAIL INTO cdrs (file_id, line, service, start, destination, call_type, units,
            carrier_cost, record_id, state, rate_id, band, billable, charge_minor) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push_str(&row);
    }
    s
}

/// Bind CDR `c` as the row whose first parameter is `at + 1`, as rated or
/// failed rating (its dedupe key goes to `cdr_keys`, see [`settle_keys`]).
fn bind_cdr(
    st: &mut rusqlite::Statement<'_>,
    at: usize,
    c: &RatedCdr,
    t: &CdrText<'_>,
) -> rusqlite::Result<()> {
    let (state, rate_id, band, billable, charge) = match &c.rated {
        Ok(r) => (
            code::RATED,
            Some(r.rate_id),
            Some(code::band(r.band)),
            Some(to_i64(r.billable_units)),
            Some(r.charge_minor),
        ),
        Err(_) => (code::ERROR, None, None, None, None),
    };
    st.raw_bind_parameter(at + 1, c.line)?;
    st.raw_bind_parameter(at + 2, t.service)?;
    st.raw_bind_parameter(at + 3, c.secs)?;
    st.raw_bind_parameter(at + 4, t.destination)?;
    st.raw_bind_parameter(at + 5, code::call_type(c.call_type))?;
    st.raw_bind_parameter(at + 6, to_i64(c.units))?;
    st.raw_bind_parameter(at + 7, t.cost)?;
    st.raw_bind_parameter(at + 8, t.record_id)?;
    st.raw_bind_parameter(at + 9, state)?;
    st.raw_bind_parameter(at + 10, rate_id)?;
    st.raw_bind_parameter(at + 11, band)?;
    st.raw_bind_parameter(at + 12, billable)?;
    st.raw_bind_parameter(at + 13, charge)?;
    Ok(())
}

/// Raw lines of the file being stored, read again by line number (for the
/// billing errors of CDRs that turn out to be duplicates once the whole
/// file is in: see [`settle_keys`]).
pub type RawLines<'a> = dyn FnMut(&[i64]) -> Result<HashMap<i64, String>> + 'a;

/// Persist the parsed and rated lines of file `file_id` (see
/// `ops::cdr_import`, which parses and rates them on another thread),
/// inside the caller's transaction, batch by batch as they come; each
/// batch is handed to `done` once stored (for reuse). A whole-file problem
/// met while reading (an `Err` item) stops it and comes back as the inner
/// `Err` (the caller rolls back).
///
/// A batch is written in chunks of `CHUNK` lines: when all are CDRs they go
/// in with one multi-row INSERT (most of SQLite's per-statement cost is
/// paid once per chunk), else one INSERT each. Every CDR is stored as rated
/// (or as failed rating, with its billing error, in line order); its first
/// dedupe key is kept (12 bytes a row, sorted in runs on disk past
/// `KEYS_HELD`: see `store::key_runs`). Duplicates are settled
/// once the whole file is in ([`settle_keys`]): the keys are sorted and
/// merged with the stored ones, so the key table grows in key order
/// whatever the order of the file's lines (a key index maintained row by
/// row was inserted at random places: most of an unsorted file's import).
pub fn store_lines<I>(
    conn: &Connection,
    file_id: i64,
    batches: I,
    mut done: impl FnMut(LineBatch),
    raw_lines: &mut RawLines<'_>,
    now: &str,
) -> Result<std::result::Result<Processed, CdrFileError>>
where
    I: IntoIterator<Item = std::result::Result<LineBatch, CdrFileError>>,
{
    // Per file (its id is in the SQL): prepared, not kept in the cache.
    let mut ins = conn.prepare(&insert_cdrs_sql(1, file_id))?;
    let mut ins_chunk = conn.prepare(&insert_cdrs_sql(CHUNK, file_id))?;
    let mut err_ins = conn.prepare_cached(INSERT_ERROR)?;
    let mut err_chunk = conn.prepare(&insert_errors_sql(ERROR_CHUNK, file_id))?;
    let mut out = Processed {
        file_id,
        ..Default::default()
    };
    let mut kinds = [0u64; ErrorKind::ALL.len()];
    // A new row's id is one more than the largest id so far (SQLite's rule
    // for an INTEGER PRIMARY KEY until it reaches i64::MAX, which no import
    // comes near; checked below): the file's rows get consecutive ids from
    // `first_id`, in line order.
    let first_id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM cdrs", [], |r| {
        r.get(0)
    })?;
    if first_id >= 1 << 62 {
        return Err(precondition(
            "CDR row ids are near the end of their range; nothing was imported",
        ));
    }
    let mut keys = KeyRuns::new(KEYS_HELD);
    // Rows of the file stored so far (each under a key).
    let mut rows: u32 = 0;
    for batch in batches {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        // The batch's billing errors, in line order, written after its CDRs.
        let mut errors: Vec<NewError<'_>> = Vec::new();
        for items in batch.lines.chunks(CHUNK) {
            let chunked =
                items.len() == CHUNK && items.iter().all(|p| matches!(p, RatedLine::Cdr(_)));
            if chunked {
                for (i, p) in items.iter().enumerate() {
                    if let RatedLine::Cdr(c) = p {
                        let t = batch.texts(c);
                        bind_cdr(&mut ins_chunk, i * COLS, c, &t)?;
                    }
                }
                ins_chunk.raw_execute()?;
                check_next_id(conn, file_id, first_id + i64::from(rows) + CHUNK as i64 - 1)?;
            }
            for p in items {
                out.lines += 1;
                let c = match p {
                    RatedLine::NotBillable => {
                        out.not_billable += 1;
                        continue;
                    }
                    RatedLine::Malformed { line, detail, raw } => {
                        errors.push(NewError {
                            kind: ErrorKind::Malformed,
                            cdr_id: None,
                            line: *line,
                            cdr: None,
                            detail,
                            raw: batch.str(*raw),
                        });
                        kinds[0] += 1;
                        continue;
                    }
                    RatedLine::Cdr(c) => c,
                };
                let t = batch.texts(c);
                if !chunked {
                    bind_cdr(&mut ins, 0, c, &t)?;
                    ins.raw_execute()?;
                    check_next_id(conn, file_id, first_id + i64::from(rows))?;
                }
                let off = rows;
                rows = rows
                    .checked_add(1)
                    .ok_or_else(|| bad_input("a CDR file of more than 4 billion calls"))?;
                keys.push(Keyed::new(c.key, off)).map_err(sort_file_error)?;
                match &c.rated {
                    Ok(r) => {
                        out.rated += 1;
                        out.charge_minor += r.charge_minor;
                    }
                    Err((kind, why)) => {
                        kinds[kind_index(*kind)] += 1;
                        errors.push(NewError {
                            kind: *kind,
                            cdr_id: Some(first_id + i64::from(off)),
                            line: c.line,
                            cdr: Some((t, c.start)),
                            detail: why,
                            raw: t.raw,
                        });
                    }
                }
            }
        }
        insert_errors(&mut err_ins, &mut err_chunk, file_id, &errors, now)?;
        drop(errors);
        done(batch);
    }
    drop((ins, ins_chunk, err_ins, err_chunk));
    settle_keys(
        conn, file_id, first_id, keys, &mut out, &mut kinds, raw_lines, now,
    )?;
    for (i, k) in ErrorKind::ALL.iter().enumerate() {
        if kinds[i] > 0 {
            out.errors.insert(k.as_str().to_string(), kinds[i]);
        }
    }
    Ok(Ok(out))
}

/// Billing errors written by one multi-row INSERT (see [`store_lines`]).
const ERROR_CHUNK: usize = 16;

/// A billing error of the batch being stored (its texts borrowed from it).
struct NewError<'a> {
    kind: ErrorKind,
    cdr_id: Option<i64>,
    line: i64,
    /// The CDR's texts and start; `None` for a malformed line.
    cdr: Option<(CdrText<'a>, StartText)>,
    detail: &'a str,
    raw: &'a str,
}

impl NewError<'_> {
    /// Service, destination, start and carrier cost (a malformed line has
    /// only a zero cost).
    fn cdr_fields(&self) -> (Option<&str>, Option<&str>, Option<&str>, &str) {
        match &self.cdr {
            Some((t, start)) => (
                Some(t.service),
                Some(t.destination),
                Some(start.as_str()),
                t.cost,
            ),
            None => (None, None, None, "0"),
        }
    }
}

/// The billing-error insert for `rows` errors of CDR file `file_id`.
fn insert_errors_sql(rows: usize, file_id: i64) -> String {
    let row = format!("(?,?,{file_id},?,?,?,?,?,?,?,?)");
    let mut s = String::from(
        "INSERT INTO billing_errors (kind, cdr_id, file_id, line, service, destination, start,
            carrier_cost, detail, raw, created_at) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push_str(&row);
    }
    s
}

/// Write `errors` in order: `ERROR_CHUNK` to a statement, the rest one by one.
fn insert_errors(
    one: &mut rusqlite::Statement<'_>,
    chunk: &mut rusqlite::Statement<'_>,
    file_id: i64,
    errors: &[NewError<'_>],
    now: &str,
) -> Result<()> {
    let mut parts = errors.chunks_exact(ERROR_CHUNK);
    for part in parts.by_ref() {
        for (i, e) in part.iter().enumerate() {
            let at = i * 10;
            let (service, destination, start, cost) = e.cdr_fields();
            chunk.raw_bind_parameter(at + 1, e.kind.as_str())?;
            chunk.raw_bind_parameter(at + 2, e.cdr_id)?;
            chunk.raw_bind_parameter(at + 3, e.line)?;
            chunk.raw_bind_parameter(at + 4, service)?;
            chunk.raw_bind_parameter(at + 5, destination)?;
            chunk.raw_bind_parameter(at + 6, start)?;
            chunk.raw_bind_parameter(at + 7, cost)?;
            chunk.raw_bind_parameter(at + 8, e.detail)?;
            chunk.raw_bind_parameter(at + 9, e.raw)?;
            chunk.raw_bind_parameter(at + 10, now)?;
        }
        chunk.raw_execute()?;
    }
    for e in parts.remainder() {
        let (service, destination, start, cost) = e.cdr_fields();
        one.execute(params![
            e.kind.as_str(),
            e.cdr_id,
            file_id,
            e.line,
            service,
            destination,
            start,
            cost,
            e.detail,
            e.raw,
            now
        ])?;
    }
    Ok(())
}

fn sort_file_error(e: std::io::Error) -> Error {
    external(format!(
        "sorting the file's CDR keys in a temporary file ({}) failed: {e}; nothing was imported",
        std::env::temp_dir().display()
    ))
}

/// The CDR row just inserted got id `expected` (see [`store_lines`]).
fn check_next_id(conn: &Connection, file_id: i64, expected: i64) -> Result<()> {
    let got = conn.last_insert_rowid();
    if got != expected {
        return Err(precondition(format!(
            "CDR rows of file {file_id} did not get consecutive ids (got {got}, expected {expected}); nothing was imported"
        )));
    }
    Ok(())
}

/// Settle the dedupe keys of the file just stored (rows `first_id ..`, one
/// [`Keyed`] each, in line order), in the caller's transaction:
///
/// 1. The keys are sorted and merged with the keys already stored in their
///    range (`cdr_keys`). The first row of the file under a key that is not
///    stored yet owns it; every other row under a key is settled apart.
/// 2. The owned keys go into `cdr_keys` in key order (an append when the
///    file is newer than what is stored: the common case).
/// 3. The rows settled apart, in line order, exactly as when each line was
///    checked as it came: when the key's owner is the same CDR (service,
///    start, destination, call type and units), the row is a `duplicate`
///    (stored as its copy: an error, without rating or key); otherwise (a
///    hash collision) the next key of its probe sequence is tried, until a
///    free one (the row keeps its rating under it) or the same CDR.
///
/// A duplicate that was rated leaves the file's rated count and charge; one
/// that failed rating has its billing error turned into the `duplicate`.
#[allow(clippy::too_many_arguments)]
fn settle_keys(
    conn: &Connection,
    file_id: i64,
    first_id: i64,
    mut keys: KeyRuns,
    out: &mut Processed,
    kinds: &mut [u64],
    raw_lines: &mut RawLines<'_>,
    now: &str,
) -> Result<()> {
    let Some((min, max)) = keys.range() else {
        return Ok(());
    };
    // 1. Who owns each key: (row id, owner id) of the others.
    let mut apart: Vec<(i64, i64)> = Vec::new();
    let mut apart_offs: FxHashSet<u32> = FxHashSet::default();
    {
        let mut st = conn.prepare_cached(
            "SELECT key, cdr_id FROM cdr_keys WHERE key BETWEEN ?1 AND ?2 ORDER BY key",
        )?;
        let mut stored = st.query([min, max])?;
        let mut next_stored = || -> Result<Option<(i64, i64)>> {
            Ok(match stored.next()? {
                Some(r) => Some((r.get(0)?, r.get(1)?)),
                None => None,
            })
        };
        let mut have = next_stored()?;
        // The previous key and its owner.
        let mut last: Option<(i64, i64)> = None;
        let mut sorted = keys.sorted().map_err(sort_file_error)?;
        while let Some(k) = sorted.next().map_err(sort_file_error)? {
            let (key, id) = (k.key(), first_id + i64::from(k.off));
            let owner = match last {
                Some((l, owner)) if l == key => Some(owner),
                _ => {
                    while let Some((s, _)) = have
                        && s < key
                    {
                        have = next_stored()?;
                    }
                    let stored_owner = have.filter(|(s, _)| *s == key).map(|(_, o)| o);
                    // Not stored: the first row under the key owns it.
                    last = Some((key, stored_owner.unwrap_or(id)));
                    stored_owner
                }
            };
            if let Some(owner) = owner {
                apart.push((id, owner));
                apart_offs.insert(k.off);
            }
        }
    }
    // 2. The owned keys, in key order.
    {
        let mut one = conn.prepare_cached("INSERT INTO cdr_keys (key, cdr_id) VALUES (?1, ?2)")?;
        let mut chunk = conn.prepare_cached(&format!(
            "INSERT INTO cdr_keys (key, cdr_id) VALUES {}",
            vec!["(?,?)"; KEY_CHUNK].join(",")
        ))?;
        let mut buf: Vec<Keyed> = Vec::with_capacity(KEY_CHUNK);
        let mut sorted = keys.sorted().map_err(sort_file_error)?;
        loop {
            let next = sorted.next().map_err(sort_file_error)?;
            if let Some(k) = next {
                if apart_offs.contains(&k.off) {
                    continue;
                }
                buf.push(k);
                if buf.len() < KEY_CHUNK {
                    continue;
                }
                for (i, k) in buf.iter().enumerate() {
                    chunk.raw_bind_parameter(2 * i + 1, k.key())?;
                    chunk.raw_bind_parameter(2 * i + 2, first_id + i64::from(k.off))?;
                }
                chunk.raw_execute()?;
                buf.clear();
            } else {
                for k in &buf {
                    one.execute(params![k.key(), first_id + i64::from(k.off)])?;
                }
                break;
            }
        }
    }
    drop(keys);
    if apart.is_empty() {
        return Ok(());
    }
    // 3. The others, in line order.
    apart.sort_unstable();
    let mut duplicates: Vec<(i64, StoredCdr, String)> = Vec::new();
    for (id, owner) in apart {
        let me = stored_cdr(conn, id)?;
        let mut owner = stored_cdr(conn, owner)?;
        let mut probe = 0u32;
        let duplicate_of = loop {
            if me.same_call(&owner) {
                break Some(owner);
            }
            // A hash collision: the next key of the probe sequence.
            probe += 1;
            let key = dedupe_key(&me.identity(), me.when, probe);
            let taken: Option<i64> = conn
                .prepare_cached("SELECT cdr_id FROM cdr_keys WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            match taken {
                Some(o) => owner = stored_cdr(conn, o)?,
                None => {
                    conn.prepare_cached("INSERT INTO cdr_keys (key, cdr_id) VALUES (?1, ?2)")?
                        .execute([key, id])?;
                    break None;
                }
            }
        };
        let Some(o) = duplicate_of else { continue };
        let detail = if o.file_id == file_id {
            format!("same CDR as line {} of this file", o.line)
        } else {
            format!("same CDR as CDR file {} line {}", o.file_id, o.line)
        };
        conn.prepare_cached(
            "UPDATE cdrs SET state = 0, rate_id = NULL, band = NULL, billable = NULL,
                charge_minor = NULL WHERE id = ?1",
        )?
        .execute([id])?;
        kinds[kind_index(ErrorKind::Duplicate)] += 1;
        match me.charge_minor {
            // It was rated: it leaves the file's rated figures.
            Some(charge) => {
                out.rated -= 1;
                out.charge_minor -= charge;
            }
            // It failed rating: that error becomes the duplicate.
            None => {
                let was: String = conn
                    .prepare_cached("SELECT kind FROM billing_errors WHERE cdr_id = ?1")?
                    .query_row([id], |r| r.get(0))?;
                if let Some(i) = ErrorKind::ALL.iter().position(|k| k.as_str() == was) {
                    kinds[i] = kinds[i].saturating_sub(1);
                }
            }
        }
        duplicates.push((id, me, detail));
    }
    // Their billing errors, in line order after the file's other errors
    // (so the errors of each kind are in line order): a rated one's with
    // its raw line, read again from the file; a failed one's error is
    // written again as the duplicate.
    let rated: Vec<i64> = duplicates
        .iter()
        .filter(|(_, c, _)| c.charge_minor.is_some())
        .map(|(_, c, _)| c.line)
        .collect();
    let raw = if rated.is_empty() {
        HashMap::new()
    } else {
        raw_lines(&rated)?
    };
    let mut err_ins = conn.prepare_cached(INSERT_ERROR)?;
    for (id, c, detail) in duplicates {
        if c.charge_minor.is_none() {
            conn.prepare_cached(
                "INSERT INTO billing_errors (kind, cdr_id, file_id, line, service, destination,
                    start, carrier_cost, detail, raw, created_at)
                 SELECT ?2, cdr_id, file_id, line, service, destination, start, carrier_cost,
                    ?3, raw, created_at FROM billing_errors WHERE cdr_id = ?1",
            )?
            .execute(params![id, ErrorKind::Duplicate.as_str(), detail])?;
            conn.prepare_cached(
                "DELETE FROM billing_errors WHERE cdr_id = ?1 AND id <> last_insert_rowid()",
            )?
            .execute([id])?;
            continue;
        }
        let Some(raw) = raw.get(&c.line) else {
            return Err(external(format!(
                "line {} of CDR file {file_id} could not be read again from the file store; nothing was imported",
                c.line
            )));
        };
        err_ins.execute(params![
            ErrorKind::Duplicate.as_str(),
            id,
            file_id,
            c.line,
            c.service,
            c.destination,
            c.start.as_str(),
            c.cost,
            detail,
            raw,
            now
        ])?;
    }
    Ok(())
}

/// A stored CDR, as [`settle_keys`] compares it.
struct StoredCdr {
    file_id: i64,
    line: i64,
    service: String,
    secs: i64,
    when: NaiveDateTime,
    start: StartText,
    destination: String,
    call_type: CallType,
    units: u64,
    cost: String,
    /// `Some` when rated.
    charge_minor: Option<i64>,
}

impl StoredCdr {
    /// The same call (docs/rating.md: the fields that make two CDRs identical).
    fn same_call(&self, o: &StoredCdr) -> bool {
        self.service == o.service
            && self.secs == o.secs
            && self.destination == o.destination
            && self.call_type == o.call_type
            && self.units == o.units
    }

    fn identity(&self) -> Identity<'_> {
        Identity {
            service: &self.service,
            start: self.start.as_str(),
            destination: &self.destination,
            call_type: self.call_type,
            units: self.units,
        }
    }
}

fn stored_cdr(conn: &Connection, id: i64) -> Result<StoredCdr> {
    let (file_id, line, service, secs, destination, call_type, units, cost, state, charge): (
        i64,
        i64,
        String,
        i64,
        String,
        i64,
        i64,
        String,
        i64,
        Option<i64>,
    ) = conn
        .prepare_cached(
            "SELECT file_id, line, service, start, destination, call_type, units, carrier_cost,
                state, charge_minor FROM cdrs WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })?;
    let bad = || external(format!("stored CDR {id} cannot be read back"));
    let when = from_start_secs(secs).ok_or_else(bad)?;
    Ok(StoredCdr {
        file_id,
        line,
        service,
        secs,
        when,
        start: StartText::new(when).ok_or_else(bad)?,
        destination,
        call_type: code::call_type_of(call_type).ok_or_else(bad)?,
        units: u64::try_from(units).map_err(|_| bad())?,
        cost,
        charge_minor: (state == code::RATED).then_some(charge).flatten(),
    })
}

fn kind_index(k: ErrorKind) -> usize {
    ErrorKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

// ---------------------------------------------------------------- errors

/// Billing errors (all kinds, CDR and fee), oldest first. `kind` filters;
/// `cutoff` keeps errors dated on or before it (and undated ones, such as
/// malformed lines); `all_states` = false keeps open errors only.
pub fn list_errors(
    conn: &Connection,
    kind: Option<ErrorKind>,
    cutoff: Option<NaiveDate>,
    all_states: bool,
) -> Result<Vec<ErrorRow>> {
    let until = cutoff
        .and_then(|c| c.checked_add_days(Days::new(1)))
        .map(|d| d.to_string());
    let mut st = conn.prepare(
        "SELECT e.id, e.kind, e.state, e.service, e.destination, e.start,
                CASE WHEN e.kind LIKE 'fee\\_%' ESCAPE '\\' THEN ff.name ELSE f.name END,
                e.file_id, e.line, e.carrier_cost, e.detail
         FROM billing_errors e
         LEFT JOIN cdr_files f ON f.id = e.file_id
         LEFT JOIN fee_files ff ON ff.id = e.file_id
         WHERE (?1 IS NULL OR e.kind = ?1)
           AND (?2 IS NULL OR e.start IS NULL OR e.start < ?2)
           AND (?3 OR e.state = 'open')
         ORDER BY e.id",
    )?;
    let mut q = st.query(params![kind.map(|k| k.as_str()), until, all_states])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let kind: String = r.get(1)?;
        let cost: String = r.get(9)?;
        out.push(ErrorRow {
            id: r.get(0)?,
            kind: kind.parse().map_err(bad_input)?,
            state: r.get(2)?,
            service: r.get(3)?,
            destination: r.get(4)?,
            start: r.get(5)?,
            file: r.get(6)?,
            file_id: r.get(7)?,
            line: r.get(8)?,
            carrier_cost: money::parse(&cost).unwrap_or_default(),
            detail: r.get(10)?,
        });
    }
    Ok(out)
}

/// Every service number (for unknown_service suggestions).
pub fn service_numbers(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn.prepare("SELECT service FROM services ORDER BY service")?;
    let v = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(v)
}

/// Close open errors as `resolved` or `ignored`. Every id must exist and be
/// open, else nothing changes.
pub fn close_errors(
    conn: &Connection,
    actor: &Actor,
    ids: &[i64],
    state: &str,
    now: &str,
) -> Result<u64> {
    let mut bad = Vec::new();
    for id in ids {
        let st: Option<String> = conn
            .query_row(
                "SELECT state FROM billing_errors WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        match st.as_deref() {
            Some("open") => {}
            Some(s) => bad.push(format!("error {id} is already {s}")),
            None => bad.push(format!("no billing error {id}")),
        }
    }
    if !bad.is_empty() {
        return Err(bad_input(format!(
            "{}; nothing was changed (see billrun errors --detail)",
            bad.join("; ")
        )));
    }
    for id in ids {
        conn.execute(
            "UPDATE billing_errors SET state = ?2, closed_at = ?3, closed_by = ?4 WHERE id = ?1",
            params![id, state, now, actor.operator],
        )?;
    }
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    audit::log(
        conn,
        actor,
        None,
        &format!(
            "errors.{}",
            if state == "resolved" {
                "resolve"
            } else {
                "ignore"
            }
        ),
        &format!("{state}: {}", list.join(", ")),
    )?;
    Ok(ids.len() as u64)
}

/// The CDR of an open billing error that `errors rerate` rates again.
#[derive(Debug, Clone)]
pub struct RerateCandidate {
    pub error_id: i64,
    pub kind: String,
    pub cdr_id: i64,
    pub service: String,
    pub when: NaiveDateTime,
    pub destination: String,
    pub call_type: CallType,
    pub units: u64,
}

/// The CDR of every open `unknown_service`, `service_inactive` and
/// `no_rate` error, by error id (`malformed` and `duplicate` errors are
/// facts about the file and are not re-rated).
pub fn rerate_candidates(conn: &Connection) -> Result<Vec<RerateCandidate>> {
    let mut st = conn.prepare(
        "SELECT e.id, e.kind, c.id, c.service, c.start, c.destination, c.call_type, c.units
         FROM billing_errors e JOIN cdrs c ON c.id = e.cdr_id
         WHERE e.state = 'open' AND e.kind IN ('unknown_service', 'service_inactive', 'no_rate')
         ORDER BY e.id",
    )?;
    type Row = (i64, String, i64, String, i64, String, i64, i64);
    let rows: Vec<Row> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(eid, kind, cid, service, start, destination, ct, units)| {
            let when = from_start_secs(start).ok_or_else(|| {
                bad_input(format!("stored CDR {cid} start {start} is out of range"))
            })?;
            let call_type = code::call_type_of(ct)
                .ok_or_else(|| bad_input(format!("stored CDR {cid} has call type code {ct}")))?;
            Ok(RerateCandidate {
                error_id: eid,
                kind,
                cdr_id: cid,
                service,
                when,
                destination,
                call_type,
                units: u64::try_from(units).unwrap_or(0),
            })
        })
        .collect()
}

/// Store CDR `cdr_id` as rated and resolve its error `error_id`, noting
/// `note` in the error's detail.
pub fn rerate_rated(
    conn: &Connection,
    actor: &Actor,
    error_id: i64,
    cdr_id: i64,
    r: &Rating,
    note: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE cdrs SET state = 1, rate_id = ?2, band = ?3, billable = ?4,
            charge_minor = ?5 WHERE id = ?1",
        params![
            cdr_id,
            r.rate_id,
            code::band(r.band),
            to_i64(r.billable_units),
            r.charge_minor
        ],
    )?;
    close_rerated(conn, actor, error_id, note, now)
}

fn close_rerated(
    conn: &Connection,
    actor: &Actor,
    error_id: i64,
    note: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE billing_errors SET state = 'resolved', closed_at = ?2, closed_by = ?3,
            detail = detail || ?4 WHERE id = ?1",
        params![error_id, now, actor.operator, note],
    )?;
    Ok(())
}

/// Resolve error `error_id` (noting `note`) and open a copy of it of kind
/// `kind` with `detail`; returns the new error's id.
pub fn rerate_reopen(
    conn: &Connection,
    actor: &Actor,
    error_id: i64,
    note: &str,
    kind: ErrorKind,
    detail: &str,
    now: &str,
) -> Result<i64> {
    close_rerated(conn, actor, error_id, note, now)?;
    conn.execute(
        "INSERT INTO billing_errors (kind, cdr_id, file_id, line, service, destination,
            start, carrier_cost, detail, raw, created_at)
         SELECT ?2, cdr_id, file_id, line, service, destination, start, carrier_cost, ?3, raw, ?4
         FROM billing_errors WHERE id = ?1",
        params![error_id, kind.as_str(), detail, now],
    )?;
    Ok(conn.last_insert_rowid())
}

// ---------------------------------------------------------------- facts

/// A span of dates `(from, to]`.
pub type Period = (NaiveDate, NaiveDate);

/// The CDR period of a run: CDRs starting in `(from, to]` (dates). `to` is
/// the run's cutoff; `from` the previous run's cutoff in the same cycle,
/// else one month before the cutoff.
pub fn run_period(cutoff: NaiveDate, prev_cutoff: Option<NaiveDate>) -> Period {
    let from = prev_cutoff
        .filter(|p| *p < cutoff)
        .or_else(|| cutoff.checked_sub_months(Months::new(1)))
        .unwrap_or(cutoff);
    (from, cutoff)
}

/// A run's period and the period it is compared with: the previous run's
/// own period (its cutoff and the cutoff of the run before it), else the
/// month before this period. `cutoffs` are the cutoffs of this run, the
/// previous run and the one before that, in the same cycle.
pub fn periods(
    cutoff: NaiveDate,
    prev_cutoff: Option<NaiveDate>,
    prev_prev_cutoff: Option<NaiveDate>,
) -> (Period, Period) {
    let this = run_period(cutoff, prev_cutoff);
    let before = match prev_cutoff.filter(|p| *p < cutoff) {
        Some(p) => run_period(p, prev_prev_cutoff),
        None => run_period(this.0, None),
    };
    (this, before)
}

/// The periods of `run` (see [`periods`]); `None` without a cutoff.
pub fn run_periods(conn: &Connection, run: &runs::Run) -> Result<Option<(Period, Period)>> {
    let Some(cutoff) = run.cutoff_date else {
        return Ok(None);
    };
    let prev = runs::previous(conn, run)?;
    let prev_prev = match &prev {
        Some(p) => runs::previous(conn, p)?.and_then(|r| r.cutoff_date),
        None => None,
    };
    Ok(Some(periods(
        cutoff,
        prev.and_then(|p| p.cutoff_date),
        prev_prev,
    )))
}

/// The first second of the day after `d`, as a stored CDR start.
fn day_after(d: NaiveDate) -> i64 {
    day_secs(d.checked_add_days(Days::new(1)).unwrap_or(d))
}

/// The day of a stored CDR start (`cdr_file_days.day`): whole days since
/// 1970-01-01, rounded down.
pub fn day_number(secs: i64) -> i64 {
    secs.div_euclid(86_400)
}

/// Count the CDR rows file `file_id` stored, per day of their start
/// (`day` → rows; see [`day_number`]), inside the transaction that stored
/// them: once per file (or per batch: counts add up).
pub fn add_file_days(
    conn: &Connection,
    file_id: i64,
    days: impl IntoIterator<Item = (i64, u64)>,
) -> Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO cdr_file_days (file_id, day, cdrs) VALUES (?1, ?2, ?3)
         ON CONFLICT (file_id, day) DO UPDATE SET cdrs = cdrs + excluded.cdrs",
    )?;
    for (day, n) in days {
        st.execute(params![file_id, day, n])?;
    }
    Ok(())
}

/// CDR files by state: (pending, processing, failed).
pub fn file_state_counts(conn: &Connection) -> Result<(u64, u64, u64)> {
    let mut out = (0, 0, 0);
    let mut st = conn.prepare("SELECT state, count(*) FROM cdr_files GROUP BY state")?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        let n: u64 = r.get(1)?;
        let state: String = r.get(0)?;
        match state.as_str() {
            "pending" => out.0 = n,
            "processing" => out.1 = n,
            "failed" => out.2 = n,
            _ => {}
        }
    }
    Ok(out)
}

/// Every carrier with its files and lines in `run`'s period and the
/// previous period, and its files still pending or processing.
pub fn carrier_periods(conn: &Connection, run: &runs::Run) -> Result<Vec<CarrierPeriod>> {
    let mut st = conn.prepare(
        "SELECT c.name, (SELECT count(*) FROM cdr_files f
                         WHERE f.carrier = c.name AND f.state IN ('pending', 'processing'))
         FROM carriers c ORDER BY c.name",
    )?;
    let mut out: Vec<CarrierPeriod> = st
        .query_map([], |r| {
            Ok(CarrierPeriod {
                carrier: r.get(0)?,
                unprocessed_files: r.get(1)?,
                ..Default::default()
            })
        })?
        .collect::<Result<_, _>>()?;
    let Some((this, before)) = run_periods(conn, run)? else {
        return Ok(out);
    };
    // From the per-file, per-day counts (migration 27), not the CDRs: a
    // period's bounds are whole days.
    let mut st = conn.prepare(
        "SELECT f.carrier, count(DISTINCT f.id), sum(d.cdrs) FROM cdr_file_days d
         JOIN cdr_files f ON f.id = d.file_id
         WHERE d.day >= ?1 AND d.day < ?2 GROUP BY f.carrier",
    )?;
    for (i, (a, b)) in [this, before].into_iter().enumerate() {
        let days = (day_number(day_after(a)), day_number(day_after(b)));
        let counts: HashMap<String, (u64, u64)> = st
            .query_map(params![days.0, days.1], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
            })?
            .collect::<Result<_, _>>()?;
        for c in out.iter_mut() {
            let (f, l) = counts.get(&c.carrier).copied().unwrap_or_default();
            if i == 0 {
                (c.files_this, c.lines_this) = (f, l);
            } else {
                (c.files_prev, c.lines_prev) = (f, l);
            }
        }
    }
    Ok(out)
}

/// Checklist facts for the CDR step.
pub fn cdr_facts(conn: &Connection, run: &runs::Run) -> Result<CdrFacts> {
    let mut f = CdrFacts::default();
    (f.pending_files, f.processing_files, f.failed_files) = file_state_counts(conn)?;
    f.by_carrier = carrier_periods(conn, run)?;
    f.carriers = f.by_carrier.len() as u64;
    f.acknowledged_missing = runs::missing_acks(conn, run.id)?;
    for c in &f.by_carrier {
        f.files_this += c.files_this;
        f.lines_this += c.lines_this;
        f.files_prev += c.files_prev;
        f.lines_prev += c.lines_prev;
    }
    if run.cutoff_date.is_some() {
        f.carriers_without_file = f
            .by_carrier
            .iter()
            .filter(|c| c.files_this == 0 && c.unprocessed_files == 0)
            .map(|c| c.carrier.clone())
            .collect();
    }
    Ok(f)
}

/// The carrier cost of the open CDR billing errors (what is not billed
/// if they stay open).
pub fn open_errors_cost(conn: &Connection) -> Result<rust_decimal::Decimal> {
    let fee: Vec<&str> = ErrorKind::ALL
        .iter()
        .filter(|k| k.is_fee())
        .map(|k| k.as_str())
        .collect();
    let mut st = conn.prepare(
        "SELECT carrier_cost FROM billing_errors WHERE state = 'open' AND kind NOT IN (SELECT value FROM json_each(?1))",
    )?;
    let list = serde_json::to_string(&fee).unwrap_or_else(|_| "[]".into());
    let mut q = st.query([list])?;
    let mut sum = rust_decimal::Decimal::ZERO;
    while let Some(r) = q.next()? {
        let cost: Option<String> = r.get(0)?;
        let c = cost.and_then(|c| money::parse(&c).ok()).unwrap_or_default();
        sum = sum.checked_add(c).unwrap_or(sum);
    }
    Ok(sum)
}

/// Open billing-error counts by kind (CDR kinds, documented order).
pub fn open_error_counts(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut st = conn
        .prepare("SELECT kind, count(*) FROM billing_errors WHERE state = 'open' GROUP BY kind")?;
    let m: HashMap<String, u64> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(ErrorKind::ALL
        .iter()
        .filter(|k| !k.is_fee())
        .filter_map(|k| m.get(k.as_str()).map(|n| (k.as_str().to_string(), *n)))
        .collect())
}

/// Claim pending file `id` for processing: its state becomes `processing`
/// (committed by the caller before the long work, so `status`, `runs` and
/// `cdr list` show it while it is rated). False when it is no longer
/// pending (another `cdr process` took it).
pub fn claim_file(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE cdr_files SET state = 'processing' WHERE id = ?1 AND state = 'pending'",
        [id],
    )? > 0)
}

/// Give a claimed file back (its processing stopped on a database error).
pub fn release_file(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE cdr_files SET state = 'pending' WHERE id = ?1 AND state = 'processing'",
        [id],
    )?;
    Ok(())
}

/// Files left `processing` by a `cdr process` that died (the caller knows
/// none is running): pending again, audited. Returns how many.
pub fn release_stale(conn: &Connection, actor: &Actor) -> Result<u64> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM cdr_files WHERE state = 'processing' ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        release_file(conn, *id)?;
        audit::log(
            conn,
            actor,
            None,
            "cdr.release",
            &format!("file {id}: its processing was interrupted; pending again"),
        )?;
    }
    Ok(ids.len() as u64)
}

/// Is file `id` processing (claimed)? Checked inside the write transaction
/// that rates it.
pub fn still_processing(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT state = 'processing' FROM cdr_files WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_follow_the_previous_cutoff_or_a_month() {
        // Run 2 compares with run 1's own period: (09-30, 10-31], which
        // includes 1 October (a window of run 2's length would start on
        // 10-01 and leave that day out).
        let ((a, b), (c, e)) = periods(d("2026-11-30"), Some(d("2026-10-31")), None);
        assert_eq!(
            (a, b, c, e),
            (
                d("2026-10-31"),
                d("2026-11-30"),
                d("2026-09-30"),
                d("2026-10-31")
            )
        );
        // With a run before run 1, run 1's period starts at its cutoff.
        let (_, (c, e)) = periods(
            d("2026-11-30"),
            Some(d("2026-10-31")),
            Some(d("2026-09-15")),
        );
        assert_eq!((c, e), (d("2026-09-15"), d("2026-10-31")));
        let ((a, _), (c, _)) = periods(d("2026-11-30"), None, None);
        assert_eq!((a, c), (d("2026-10-30"), d("2026-09-30")));
    }
}
