//! Carriers, CDR files, CDRs and billing errors (SPEC §4, §5): every query
//! of the CDR feature, and the file store.
//!
//! **File store.** An imported or fetched file is kept, byte for byte, in
//! `<db>.files/cdr/<sha256>` (created mode 0700 beside the database), so a
//! pending file can be processed later and any line can be looked up again.
//! The `cdr_files` row names the file as received; its SHA-256 is unique.
//!
//! **Import hot path** ([`process_file`]): the file is streamed line by line
//! (memory does not grow with it), inside the caller's single transaction,
//! through cached prepared statements. Services and rates are in memory
//! ([`Rater`]). Duplicate detection costs nothing extra on the common path:
//! the CDR is inserted with its compact dedupe key under a unique index
//! (`ON CONFLICT DO NOTHING`); only when the key is taken are the stored
//! fields compared (see `domain::cdrs`). CDRs go in 32 to a multi-row
//! INSERT and are then settled line by line (`store_prepared`).
//!
//! **Stored form** (schema.sql migration 9): `start` is INTEGER seconds of
//! the local wall-clock time ([`start_secs`]); the rate description is read
//! through `rate_id`; the unbilled-CDR index is keyed by `start`, so billing
//! and production read the unbilled CDRs before a cutoff as one index range.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{Days, Months, NaiveDate, NaiveDateTime};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, Actor};
use super::{runs, settings};
use crate::domain::billing_errors::ErrorRow;
use crate::domain::cdr_format::{CdrFileError, CdrFormat, CdrReader, ColumnMap, LineView, Outcome};
use crate::domain::cdrs::{
    Identity, Rater, StartText, day_secs, dedupe_key, from_start_secs, start_secs,
};
use crate::domain::checklist::CdrFacts;
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
        _ => {
            let Some(path) = text.strip_prefix("mapped:") else {
                return Err(bad_input(format!(
                    "'{text}' is not a CDR format: billrun, asterisk or mapped:PATH (a TOML column map)"
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
        params![name, format, inbox, super::now_stamp()],
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
                max(f.imported_at)
         FROM carriers c LEFT JOIN cdr_files f ON f.carrier = c.name
         GROUP BY c.name ORDER BY c.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(CarrierRow {
            name: r.get(0)?,
            format: r.get(1)?,
            inbox: r.get(2)?,
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
    let Some(cutoff) = run.cutoff_date else {
        return Ok(out);
    };
    let prev = runs::previous(conn, &run)?.and_then(|p| p.cutoff_date);
    let (this, before) = periods(cutoff, prev);
    let mut st = conn.prepare(
        "SELECT f.carrier, count(DISTINCT f.id), count(*) FROM cdrs c JOIN cdr_files f ON f.id = c.file_id
         WHERE c.start >= ?1 AND c.start < ?2 GROUP BY f.carrier",
    )?;
    for (i, (a, b)) in [this, before].into_iter().enumerate() {
        let counts: HashMap<String, (u64, u64)> = st
            .query_map(params![day_after(a), day_after(b)], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
            })?
            .collect::<Result<_, _>>()?;
        for c in out.iter_mut() {
            let (f, l) = counts.get(&c.name).copied().unwrap_or_default();
            if i == 0 {
                (c.files_this, c.lines_this) = (f, l);
            } else {
                (c.files_prev, c.lines_prev) = (f, l);
            }
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
/// synced here: see `cli::cdr`'s `Stashed::keep`.
pub fn copy_hashing(from: &Path, dst: &mut std::fs::File, to: &Path) -> Result<String> {
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
) -> Result<i64> {
    if let Some((id, n, at)) = file_by_sha(conn, sha)? {
        return Err(already_imported(name, id, &n, &at));
    }
    conn.execute(
        "INSERT INTO cdr_files (carrier, name, sha256, state, imported_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
        params![carrier, name, sha, super::now_stamp()],
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

pub fn list_files(conn: &Connection) -> Result<Vec<FileRow>> {
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
    let mut out = Vec::new();
    for r in rows {
        let mut f = r?;
        let c = counts.get(&f.id).copied().unwrap_or_default();
        f.rated = c[0];
        f.errors = c[1] + malformed.get(&f.id).copied().unwrap_or(0);
        f.waiting = c[2];
        f.billed = c[3];
        out.push(f);
    }
    Ok(out)
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
pub fn fail_file(conn: &Connection, actor: &Actor, id: i64, why: &str) -> Result<()> {
    conn.execute(
        "UPDATE cdr_files SET state = 'failed', failure = ?2, processed_at = ?3 WHERE id = ?1",
        params![id, why, super::now_stamp()],
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

/// Services (by number), rates and the peak window, for rating.
pub fn load_rater(conn: &Connection) -> Result<Rater> {
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
    let time = |k: &str, d: &str| -> Result<chrono::NaiveTime> {
        let v = settings::get_or(conn, k, d)?;
        chrono::NaiveTime::parse_from_str(&v, "%H:%M")
            .map_err(|e| bad_input(format!("setting {k} = '{v}': {e}")))
    };
    Ok(Rater {
        services,
        rates: RateTable::new(rows),
        peak: PeakWindow {
            start: time("bands.peak_start", "07:00")?,
            end: time("bands.peak_end", "19:00")?,
        },
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

/// What processing one file did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Processed {
    pub file_id: i64,
    pub lines: u64,
    pub rated: u64,
    pub not_billable: u64,
    /// Errors by kind, in SPEC order.
    pub errors: BTreeMap<String, u64>,
    pub charge_minor: i64,
}

impl Processed {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

const INSERT_ERROR: &str = "INSERT INTO billing_errors (kind, cdr_id, file_id, line, service,
    destination, start, carrier_cost, detail, raw, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

fn units_i64(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
}

/// Where a text of a prepared line is in its batch's `text`.
#[derive(Debug, Clone, Copy)]
struct Span {
    at: usize,
    len: usize,
}

/// Lines handed from the parsing thread to the database thread, with all
/// their texts in one string: a batch allocates nothing per line, and is
/// sent back to be emptied and reused.
#[derive(Default)]
struct Batch<'r> {
    text: String,
    lines: Vec<Prepared<'r>>,
}

impl<'r> Batch<'r> {
    /// This batch, empty, its memory kept for reuse.
    fn emptied(mut self) -> Self {
        self.text.clear();
        self.lines.clear();
        self
    }

    fn push(&mut self, s: &str) -> Span {
        let at = self.text.len();
        self.text.push_str(s);
        Span { at, len: s.len() }
    }

    /// `s` normalised to its digits (see `rating::normalise_number`).
    fn push_digits(&mut self, s: &str) -> Span {
        let at = self.text.len();
        crate::domain::rating::push_digits(s, &mut self.text);
        Span {
            at,
            len: self.text.len() - at,
        }
    }

    fn str(&self, s: Span) -> &str {
        &self.text[s.at..s.at + s.len]
    }

    fn texts(&self, c: &PreparedCdr<'_>) -> CdrText<'_> {
        CdrText {
            raw: self.str(c.raw),
            service: self.str(c.service),
            destination: self.str(c.destination),
            cost: self.str(c.cost),
            record_id: c.record_id.map(|r| self.str(r)),
        }
    }

    /// Parse and rate one line into the batch.
    fn prepare(&mut self, l: LineView<'_>, rater: &'r Rater) {
        let line = units_i64(l.line);
        let rec = match l.outcome {
            Outcome::NotBillable(_) => return self.lines.push(Prepared::NotBillable),
            Outcome::Malformed { column, reason } => {
                let detail = match column {
                    Some(c) => format!("{c}: {reason}"),
                    None => reason,
                };
                let raw = self.push(l.raw);
                return self.lines.push(Prepared::Malformed { line, detail, raw });
            }
            Outcome::Cdr(rec) => rec,
        };
        let Some(start) = StartText::new(rec.start) else {
            let raw = self.push(l.raw);
            return self.lines.push(Prepared::Malformed {
                line,
                detail: "start: the year is not between 0000 and 9999".into(),
                raw,
            });
        };
        let units = rec.units();
        let raw = self.push(l.raw);
        let service = self.push_digits(rec.service);
        let destination = self.push_digits(rec.destination);
        let cost = self.push(&money::canonical_text(
            rec.carrier_cost_text,
            rec.carrier_cost,
        ));
        let record_id = rec.record_id.map(|r| self.push(r));
        let (service_s, destination_s) = (self.str(service), self.str(destination));
        let rated = rater
            .rate(service_s, rec.start, destination_s, rec.call_type, units)
            .map_err(|e| {
                (
                    e.kind(),
                    rater.explain(e, service_s, rec.start, destination_s, rec.call_type),
                )
            });
        let key = dedupe_key(
            &Identity {
                service: service_s,
                start: start.as_str(),
                destination: destination_s,
                call_type: rec.call_type,
                units,
            },
            rec.start,
            0,
        );
        self.lines.push(Prepared::Cdr(PreparedCdr {
            line,
            raw,
            service,
            start,
            secs: start_secs(rec.start),
            when: rec.start,
            charge_minor: rated.as_ref().map_or(0, |r| money::to_minor(r.amount)),
            key,
            destination,
            call_type: rec.call_type,
            units,
            cost,
            record_id,
            rated,
        }));
    }
}

/// One line, parsed and rated off the database thread; its texts are in
/// its [`Batch`].
#[allow(clippy::large_enum_variant)]
enum Prepared<'r> {
    NotBillable,
    Malformed {
        line: i64,
        detail: String,
        raw: Span,
    },
    Cdr(PreparedCdr<'r>),
}

struct PreparedCdr<'r> {
    line: i64,
    raw: Span,
    /// Normalised digits.
    service: Span,
    start: StartText,
    /// `start` as stored ([`start_secs`]).
    secs: i64,
    when: NaiveDateTime,
    /// The rated charge in minor units (0 when rating failed).
    charge_minor: i64,
    /// The first dedupe key ([`dedupe_key`] probe 0), computed off the
    /// database thread.
    key: i64,
    /// Normalised digits.
    destination: Span,
    call_type: CallType,
    units: u64,
    cost: Span,
    record_id: Option<Span>,
    rated: std::result::Result<crate::domain::cdrs::RatedWith<'r>, (ErrorKind, String)>,
}

/// The texts of a [`PreparedCdr`], out of its batch.
struct CdrText<'a> {
    raw: &'a str,
    service: &'a str,
    destination: &'a str,
    cost: &'a str,
    record_id: Option<&'a str>,
}

impl PreparedCdr<'_> {
    fn identity<'a>(&'a self, t: &CdrText<'a>) -> Identity<'a> {
        Identity {
            service: t.service,
            start: self.start.as_str(),
            destination: t.destination,
            call_type: self.call_type,
            units: self.units,
        }
    }
}

/// Lines handed from the parsing thread to the database thread at a time.
const BATCH: usize = 2048;

/// Batches queued between the two threads.
const QUEUED: usize = 4;
/// Batches that exist at most: the queue, one being filled, one being stored.
const IN_FLIGHT: usize = QUEUED + 2;

/// What the parsing thread sends: a batch, or why the file cannot be read.
type Sent<'r> = std::result::Result<Batch<'r>, CdrFileError>;

/// Parse, dedupe, rate and store every line of file `file_id`, inside the
/// caller's transaction. A whole-file problem comes back as the inner
/// `Err` (the caller rolls back); bad lines become `malformed` errors and
/// the file goes on. The file ends `processed`.
///
/// Two threads: one reads, parses and rates lines (pure work on the
/// in-memory [`Rater`]) and hands them over in bounded batches; this thread
/// only writes to SQLite. Memory stays bounded by the batch queue.
pub fn process_file<R: Read + Send>(
    conn: &Connection,
    actor: &Actor,
    file_id: i64,
    format: CdrFormat,
    input: R,
    rater: &Rater,
) -> Result<std::result::Result<Processed, CdrFileError>> {
    let reader = match CdrReader::new(format, input) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Sent<'_>>(QUEUED);
    // Stored batches come back to the reading thread to be emptied and
    // reused: at most IN_FLIGHT batches ever exist (the queue, the one
    // being filled, the one being stored), so memory is bounded and no
    // batch is allocated (and its pages faulted in) more than once.
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Batch<'_>>(IN_FLIGHT);
    let result = std::thread::scope(|s| {
        s.spawn(move || {
            let mut reader = reader;
            let mut allocated = 0;
            let mut fresh = || {
                if let Ok(b) = back_rx.try_recv() {
                    return Some(b.emptied());
                }
                if allocated < IN_FLIGHT {
                    allocated += 1;
                    return Some(Batch {
                        text: String::with_capacity(BATCH * 128),
                        lines: Vec::with_capacity(BATCH),
                    });
                }
                // None: the writer has stopped (a database error).
                back_rx.recv().ok().map(Batch::emptied)
            };
            let Some(mut batch) = fresh() else { return };
            while let Some(item) = reader.next_line() {
                match item {
                    Ok(l) => batch.prepare(l, rater),
                    Err(e) => {
                        if !batch.lines.is_empty() {
                            let _ = tx.send(Ok(std::mem::take(&mut batch)));
                        }
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                if batch.lines.len() == BATCH {
                    let Some(next) = fresh() else { return };
                    if tx.send(Ok(std::mem::replace(&mut batch, next))).is_err() {
                        return; // the writer stopped (a database error)
                    }
                }
            }
            if !batch.lines.is_empty() {
                let _ = tx.send(Ok(batch));
            }
        });
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        if let Some(wal) = conn
            .path()
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}-wal"))
        {
            s.spawn(move || flush_wal_meanwhile(Path::new(&wal), &stopped));
        }
        let out = store_prepared(conn, file_id, rx, back_tx);
        drop(stop);
        out
        // Leaving the scope joins the reader and the flusher; on a writer
        // error `rx` is dropped first, so the reader's next send fails and
        // it stops.
    });
    let out = match result? {
        Ok(out) => out,
        Err(e) => return Ok(Err(e)),
    };
    let now = super::now_stamp();
    conn.execute(
        "UPDATE cdr_files SET state = 'processed', lines = ?2, not_billable = ?3, processed_at = ?4,
            failure = NULL WHERE id = ?1",
        params![file_id, out.lines, out.not_billable, now],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "cdr.process",
        &format!(
            "file {file_id}: {} lines, {} rated ({}), {} errors, {} not billable",
            out.lines,
            out.rated,
            money::fmt_minor(out.charge_minor),
            out.error_count(),
            out.not_billable
        ),
    )?;
    Ok(Ok(out))
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
fn flush_wal_meanwhile(wal: &Path, stop: &std::sync::mpsc::Receiver<()>) {
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

/// CDRs written by one multi-row INSERT (see [`store_prepared`]).
const CHUNK: usize = 32;
/// Columns bound per CDR row.
const COLS: usize = 14;

/// The CDR insert for `rows` rows of file `file_id` (a literal: one bind
/// less per row); a row whose dedupe key is taken is skipped (`ON CONFLICT
/// DO NOTHING`), found and settled afterwards. `OR FAIL` and the deferred
/// references of `cdrs` (schema.sql migration 10) spare SQLite a statement
/// journal for the multi-row INSERT; any error still fails the statement,
/// and the caller rolls the whole import back.
fn insert_cdrs_sql(rows: usize, file_id: i64) -> String {
    let row = format!("({file_id},?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    let mut s = String::from(
        "INSERT OR FAIL INTO cdrs (file_id, line, service, start, destination, call_type, units,
            carrier_cost, record_id, state, rate_id, band, billable, charge_minor, dedupe) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push_str(&row);
    }
    s.push_str(" ON CONFLICT(dedupe) DO NOTHING");
    s
}

/// Bind CDR `c` as the row whose first parameter is `at + 1`: as rated or
/// failed rating, with dedupe `key`; or, with `copy`, as the stored copy
/// of a duplicate (state error, no rating, no key).
fn bind_cdr(
    st: &mut rusqlite::Statement<'_>,
    at: usize,
    c: &PreparedCdr<'_>,
    t: &CdrText<'_>,
    key: Option<i64>,
    copy: bool,
) -> rusqlite::Result<()> {
    let (state, rate_id, band, billable, charge) = match &c.rated {
        Ok(r) if !copy => (
            code::RATED,
            Some(r.rate.id),
            Some(code::band(r.band)),
            Some(units_i64(r.billable_units)),
            Some(c.charge_minor),
        ),
        _ => (code::ERROR, None, None, None, None),
    };
    st.raw_bind_parameter(at + 1, c.line)?;
    st.raw_bind_parameter(at + 2, t.service)?;
    st.raw_bind_parameter(at + 3, c.secs)?;
    st.raw_bind_parameter(at + 4, t.destination)?;
    st.raw_bind_parameter(at + 5, code::call_type(c.call_type))?;
    st.raw_bind_parameter(at + 6, units_i64(c.units))?;
    st.raw_bind_parameter(at + 7, t.cost)?;
    st.raw_bind_parameter(at + 8, t.record_id)?;
    st.raw_bind_parameter(at + 9, state)?;
    st.raw_bind_parameter(at + 10, rate_id)?;
    st.raw_bind_parameter(at + 11, band)?;
    st.raw_bind_parameter(at + 12, billable)?;
    st.raw_bind_parameter(at + 13, charge)?;
    st.raw_bind_parameter(at + 14, key)?;
    Ok(())
}

/// Where a CDR ended up.
enum Placed {
    /// Stored under one of its dedupe keys; its id when already known.
    New(Option<i64>),
    /// The same CDR is stored already: (file id, line) of that one.
    Duplicate(i64, i64),
}

/// A CDR whose first dedupe key is taken: the same CDR (a duplicate), or a
/// hash collision, in which case the next keys of its probe sequence are
/// tried until one is free (stored) or holds the same CDR.
fn settle_taken(
    conn: &Connection,
    ins: &mut rusqlite::Statement<'_>,
    find: &mut rusqlite::Statement<'_>,
    c: &PreparedCdr<'_>,
    t: &CdrText<'_>,
) -> Result<Placed> {
    let units = units_i64(c.units);
    let mut key = c.key;
    let mut probe = 0u32;
    loop {
        // The key is taken: the same CDR, or a hash collision?
        let same = find.query_row([key], |r| {
            let same = r.get_ref(1)?.as_str()? == t.service
                && r.get::<_, i64>(2)? == c.secs
                && r.get_ref(3)?.as_str()? == t.destination
                && r.get::<_, i64>(4)? == code::call_type(c.call_type)
                && r.get::<_, i64>(5)? == units;
            Ok(same.then(|| (r.get::<_, i64>(6), r.get::<_, i64>(7))))
        })?;
        if let Some((f, ln)) = same {
            return Ok(Placed::Duplicate(f?, ln?));
        }
        probe += 1;
        key = dedupe_key(&c.identity(t), c.when, probe);
        bind_cdr(ins, 0, c, t, Some(key), false)?;
        if ins.raw_execute()? == 1 {
            return Ok(Placed::New(Some(conn.last_insert_rowid())));
        }
    }
}

/// The database side of [`process_file`].
///
/// A batch is written in chunks of [`CHUNK`] lines: when all are CDRs
/// they go in with one multi-row INSERT (most of SQLite's per-statement
/// cost is paid once per chunk), else one INSERT each. Then every line is
/// settled in file order, exactly as if inserted alone: a CDR whose first
/// dedupe key turned out to be taken (the chunk stored fewer rows than it
/// had) is looked up by that key; if the owner is not this line, the
/// duplicate / collision check of [`settle_taken`] runs. Billing errors are
/// written in line order.
fn store_prepared<'r>(
    conn: &Connection,
    file_id: i64,
    rx: std::sync::mpsc::Receiver<Sent<'r>>,
    back: std::sync::mpsc::SyncSender<Batch<'r>>,
) -> Result<std::result::Result<Processed, CdrFileError>> {
    let now = super::now_stamp();
    // Per file (its id is in the SQL): prepared, not kept in the cache.
    let mut ins = conn.prepare(&insert_cdrs_sql(1, file_id))?;
    let mut ins_chunk = conn.prepare(&insert_cdrs_sql(CHUNK, file_id))?;
    let mut err_ins = conn.prepare_cached(INSERT_ERROR)?;
    let mut find = conn.prepare_cached(
        "SELECT id, service, start, destination, call_type, units, file_id, line FROM cdrs WHERE dedupe = ?1",
    )?;
    let mut owner = conn.prepare_cached("SELECT id, file_id, line FROM cdrs WHERE dedupe = ?1")?;
    let mut out = Processed {
        file_id,
        ..Default::default()
    };
    let mut kinds = [0u64; 5];
    for batch in rx {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        for items in batch.lines.chunks(CHUNK) {
            let chunked =
                items.len() == CHUNK && items.iter().all(|p| matches!(p, Prepared::Cdr(_)));
            let mut all_stored = false;
            if chunked {
                for (i, p) in items.iter().enumerate() {
                    if let Prepared::Cdr(c) = p {
                        let t = batch.texts(c);
                        bind_cdr(&mut ins_chunk, i * COLS, c, &t, Some(c.key), false)?;
                    }
                }
                all_stored = ins_chunk.raw_execute()? == CHUNK;
            }
            for p in items {
                out.lines += 1;
                let c = match p {
                    Prepared::NotBillable => {
                        out.not_billable += 1;
                        continue;
                    }
                    Prepared::Malformed { line, detail, raw } => {
                        err_ins.execute(params![
                            "malformed",
                            None::<i64>,
                            file_id,
                            line,
                            None::<String>,
                            None::<String>,
                            None::<String>,
                            "0",
                            detail,
                            batch.str(*raw),
                            now
                        ])?;
                        kinds[0] += 1;
                        continue;
                    }
                    Prepared::Cdr(c) => c,
                };
                if all_stored && c.rated.is_ok() {
                    // Stored and rated: the common case, nothing to settle.
                    out.rated += 1;
                    out.charge_minor += c.charge_minor;
                    continue;
                }
                let t = batch.texts(c);
                let placed = if all_stored {
                    Placed::New(None)
                } else if chunked {
                    let (id, f, ln): (i64, i64, i64) =
                        owner.query_row([c.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    if (f, ln) == (file_id, c.line) {
                        Placed::New(Some(id))
                    } else {
                        settle_taken(conn, &mut ins, &mut find, c, &t)?
                    }
                } else {
                    bind_cdr(&mut ins, 0, c, &t, Some(c.key), false)?;
                    if ins.raw_execute()? == 1 {
                        Placed::New(Some(conn.last_insert_rowid()))
                    } else {
                        settle_taken(conn, &mut ins, &mut find, c, &t)?
                    }
                };
                let (kind, detail, cdr_id) = match placed {
                    Placed::Duplicate(f, ln) => {
                        bind_cdr(&mut ins, 0, c, &t, None, true)?;
                        ins.raw_execute()?;
                        let where_ = if f == file_id {
                            format!("line {ln} of this file")
                        } else {
                            format!("CDR file {f} line {ln}")
                        };
                        (
                            ErrorKind::Duplicate,
                            format!("same CDR as {where_}"),
                            conn.last_insert_rowid(),
                        )
                    }
                    Placed::New(id) => match &c.rated {
                        Ok(_) => {
                            out.rated += 1;
                            out.charge_minor += c.charge_minor;
                            continue;
                        }
                        Err((k, why)) => {
                            let id = match id {
                                Some(id) => id,
                                None => owner.query_row([c.key], |r| r.get(0))?,
                            };
                            (*k, why.clone(), id)
                        }
                    },
                };
                kinds[kind_index(kind)] += 1;
                err_ins.execute(params![
                    kind.as_str(),
                    cdr_id,
                    file_id,
                    c.line,
                    t.service,
                    t.destination,
                    c.start.as_str(),
                    t.cost,
                    detail,
                    t.raw,
                    now
                ])?;
            }
        }
        // Back to the reader to be emptied there (or dropped here if it
        // has stopped or has enough).
        let _ = back.try_send(batch);
    }
    for (i, k) in ErrorKind::ALL.iter().take(5).enumerate() {
        if kinds[i] > 0 {
            out.errors.insert(k.as_str().to_string(), kinds[i]);
        }
    }
    Ok(Ok(out))
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
pub fn close_errors(conn: &Connection, actor: &Actor, ids: &[i64], state: &str) -> Result<u64> {
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
    let now = super::now_stamp();
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

/// What `errors rerate` did.
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

/// Re-rate the CDR of every open `unknown_service`, `service_inactive` and
/// `no_rate` error against today's reference data. One that now rates is
/// updated to `rated` and its error resolved; one that now fails another
/// check gets its error resolved and a new error of the new kind opened.
/// `malformed` and `duplicate` errors are facts about the file and are not
/// re-rated.
///
/// Hook: wholesale fee errors (`fee_unknown_service`, `fee_unknown_code`)
/// are re-matched by the fees module (`store::fees::rematch_open` on main),
/// which `cli::errors::rerate` calls in the same transaction — see the
/// MERGE note there.
pub fn rerate(conn: &Connection, actor: &Actor, rater: &Rater) -> Result<Rerated> {
    let mut out = Rerated::default();
    let now = super::now_stamp();
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
    for (eid, kind, cid, svc, start, dest, ct, units) in rows {
        out.checked += 1;
        let when = from_start_secs(start)
            .ok_or_else(|| bad_input(format!("stored CDR {cid} start {start} is out of range")))?;
        let ct = code::call_type_of(ct)
            .ok_or_else(|| bad_input(format!("stored CDR {cid} has call type code {ct}")))?;
        match rater.rate(&svc, when, &dest, ct, u64::try_from(units).unwrap_or(0)) {
            Ok(r) => {
                let charge = money::to_minor(r.amount);
                conn.execute(
                    "UPDATE cdrs SET state = 1, rate_id = ?2, band = ?3, billable = ?4,
                        charge_minor = ?5 WHERE id = ?1",
                    params![
                        cid,
                        r.rate.id,
                        code::band(r.band),
                        units_i64(r.billable_units),
                        charge
                    ],
                )?;
                conn.execute(
                    "UPDATE billing_errors SET state = 'resolved', closed_at = ?2, closed_by = ?3,
                        detail = detail || ?4 WHERE id = ?1",
                    params![
                        eid,
                        now,
                        actor.operator,
                        format!(" — rerated: {}", money::fmt(r.amount))
                    ],
                )?;
                out.resolved += 1;
                out.charge_minor += charge;
            }
            Err(e) if e.kind().as_str() != kind => {
                let detail = rater.explain(e, &svc, when, &dest, ct);
                conn.execute(
                    "UPDATE billing_errors SET state = 'resolved', closed_at = ?2, closed_by = ?3,
                        detail = detail || ?4 WHERE id = ?1",
                    params![
                        eid,
                        now,
                        actor.operator,
                        format!(" — rerated: now {}", e.kind())
                    ],
                )?;
                conn.execute(
                    "INSERT INTO billing_errors (kind, cdr_id, file_id, line, service, destination,
                        start, carrier_cost, detail, raw, created_at)
                     SELECT ?2, cdr_id, file_id, line, service, destination, start, carrier_cost, ?3, raw, ?4
                     FROM billing_errors WHERE id = ?1",
                    params![eid, e.kind().as_str(), detail, now],
                )?;
                out.changed
                    .push((eid, conn.last_insert_rowid(), e.kind().to_string()));
            }
            Err(_) => out.still_open += 1,
        }
    }
    audit::log(
        conn,
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
    Ok(out)
}

// ---------------------------------------------------------------- facts

/// The CDR period of a run: CDRs starting in `(from, to]` (dates). `to` is
/// the run's cutoff; `from` the previous run's cutoff in the same cycle,
/// else one month before the cutoff. The previous period is the span of
/// the same length just before.
pub fn periods(
    cutoff: NaiveDate,
    prev_cutoff: Option<NaiveDate>,
) -> ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)) {
    let from = prev_cutoff
        .filter(|p| *p < cutoff)
        .or_else(|| cutoff.checked_sub_months(Months::new(1)))
        .unwrap_or(cutoff);
    let len = cutoff - from;
    let prev_from = from - len;
    ((from, cutoff), (prev_from, from))
}

/// The first second of the day after `d`, as a stored CDR start.
fn day_after(d: NaiveDate) -> i64 {
    day_secs(d.checked_add_days(Days::new(1)).unwrap_or(d))
}

/// Checklist facts for the CDR step.
pub fn cdr_facts(conn: &Connection, run: &runs::Run) -> Result<CdrFacts> {
    let mut f = CdrFacts::default();
    {
        let mut st = conn.prepare("SELECT state, count(*) FROM cdr_files GROUP BY state")?;
        let mut q = st.query([])?;
        while let Some(r) = q.next()? {
            let n: u64 = r.get(1)?;
            let state: String = r.get(0)?;
            match state.as_str() {
                "pending" => f.pending_files = n,
                "processing" => f.processing_files = n,
                "failed" => f.failed_files = n,
                _ => {}
            }
        }
    }
    f.carriers = conn.query_row("SELECT count(*) FROM carriers", [], |r| r.get(0))?;
    let Some(cutoff) = run.cutoff_date else {
        return Ok(f);
    };
    let prev_cutoff = runs::previous(conn, run)?.and_then(|p| p.cutoff_date);
    let ((from, to), (pfrom, pto)) = periods(cutoff, prev_cutoff);
    let count = |a: NaiveDate, b: NaiveDate| -> Result<(u64, u64)> {
        Ok(conn.query_row(
            "SELECT count(DISTINCT file_id), count(*) FROM cdrs WHERE start >= ?1 AND start < ?2",
            params![day_after(a), day_after(b)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    };
    (f.files_this, f.lines_this) = count(from, to)?;
    (f.files_prev, f.lines_prev) = count(pfrom, pto)?;
    let mut st = conn.prepare(
        // One pass over the CDRs for the carriers heard from in the period
        // (there is no index by file: a per-file EXISTS would scan per file).
        "SELECT name FROM carriers c
         WHERE NOT EXISTS (SELECT 1 FROM cdr_files f WHERE f.carrier = c.name AND f.state = 'pending')
           AND c.name NOT IN (SELECT f.carrier FROM cdrs x JOIN cdr_files f ON f.id = x.file_id
                              WHERE x.start >= ?1 AND x.start < ?2)
         ORDER BY name",
    )?;
    f.carriers_without_file = st
        .query_map(params![day_after(from), day_after(to)], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(f)
}

/// Open billing-error counts by kind (CDR kinds, SPEC order).
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

/// Is file `id` still pending? Checked inside the write transaction that
/// processes it, so two racing `cdr process` runs never process it twice.
pub fn still_pending(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT state = 'pending' FROM cdr_files WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_follow_the_previous_cutoff_or_a_month() {
        let ((a, b), (c, e)) = periods(d("2026-11-30"), Some(d("2026-10-31")));
        assert_eq!(
            (a, b, c, e),
            (
                d("2026-10-31"),
                d("2026-11-30"),
                d("2026-10-01"),
                d("2026-10-31")
            )
        );
        let ((a, _), (c, _)) = periods(d("2026-11-30"), None);
        assert_eq!((a, c), (d("2026-10-30"), d("2026-09-29")));
    }

    fn setup() -> (Store, Rater) {
        let mut s = Store::memory().unwrap();
        let tx = s.write().unwrap();
        tx.execute_batch(
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
        tx.commit().unwrap();
        let r = load_rater(&s.conn).unwrap();
        (s, r)
    }

    const HEAD: &str =
        "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n";

    fn import(s: &mut Store, r: &Rater, sha: &str, body: &str) -> Processed {
        let a = Actor::test();
        let tx = s.write().unwrap();
        let id = register_file(&tx, &a, "c", "f.csv", sha).unwrap();
        let p = process_file(&tx, &a, id, CdrFormat::Billrun, body.as_bytes(), r)
            .unwrap()
            .unwrap();
        tx.commit().unwrap();
        p
    }

    #[test]
    fn story_duplicates_within_and_across_files_and_rerate() {
        let (mut s, r) = setup();
        let body = format!(
            "{HEAD}441,2026-11-02T10:00:00,10,4420,voice,,0.01,\n\
             441,2026-11-02T10:00:00,10,4420,voice,,0.01,\n\
             441,2026-11-02T10:00:00,11,4420,voice,,0.01,\n\
             999,2026-11-02T10:00:00,10,4420,voice,,0.02,\n\
             441,2026-11-02T10:00:00,10,3320,voice,,0.03,\n\
             441,bad,10,4420,voice,,0.01,\n"
        );
        let p = import(&mut s, &r, "a", &body);
        assert_eq!(p.lines, 6);
        assert_eq!(p.rated, 2);
        // 10 s and 11 s at 0.60/min: 0.10 + 0.11.
        assert_eq!(p.charge_minor, 21);
        assert_eq!(
            p.errors,
            BTreeMap::from([
                ("duplicate".to_string(), 1),
                ("malformed".into(), 1),
                ("no_rate".into(), 1),
                ("unknown_service".into(), 1)
            ])
        );
        // The same CDR in another file is a duplicate too.
        let p2 = import(
            &mut s,
            &r,
            "b",
            &format!("{HEAD}441,2026-11-02T10:00:00,10,4420,voice,,0.01,\n"),
        );
        assert_eq!(p2.errors.get("duplicate"), Some(&1));
        let errs = list_errors(&s.conn, Some(ErrorKind::Duplicate), None, false).unwrap();
        assert_eq!(errs.len(), 2);
        assert!(
            errs[1].detail.contains("CDR file 1 line 2"),
            "{:?}",
            errs[1]
        );
        // Adding the missing service and re-rating resolves the error.
        s.conn
            .execute(
                "INSERT INTO services (service, account, plan, start_date, end_date, description) VALUES ('999', 'C1', 'P', '2026-01-01', NULL, '')",
                [],
            )
            .unwrap();
        let r2 = load_rater(&s.conn).unwrap();
        let tx = s.write().unwrap();
        let out = rerate(&tx, &Actor::test(), &r2).unwrap();
        tx.commit().unwrap();
        assert_eq!((out.checked, out.resolved, out.still_open), (2, 1, 1));
        let open = open_error_counts(&s.conn).unwrap();
        assert_eq!(
            open,
            vec![
                ("malformed".to_string(), 1),
                ("duplicate".into(), 2),
                ("no_rate".into(), 1)
            ]
        );
        // A file of the same bytes is refused before anything is stored.
        let e = register_file(&s.conn, &Actor::test(), "c", "again.csv", "a").unwrap_err();
        assert_eq!(e.exit_code(), 4);
    }

    /// Errors point at their own CDR row (same file and line).
    fn errors_match_their_cdrs(s: &Store) {
        let bad: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM billing_errors e JOIN cdrs c ON c.id = e.cdr_id
                 WHERE c.file_id <> e.file_id OR c.line <> e.line",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bad, 0);
    }

    #[test]
    fn chunked_inserts_settle_duplicates_and_errors_line_by_line() {
        let (mut s, r) = setup();
        // 100 lines: whole chunks of CDRs. Every 10th line repeats the line
        // before it (a duplicate inside a chunk), every 7th is of an unknown
        // service; one chunk holds a malformed line (inserted one by one).
        let mut body = String::from(HEAD);
        let mut expect_dups = 0;
        let mut expect_unknown = 0;
        let mut prev = String::new();
        for i in 0..100u32 {
            let line = if i % 10 == 9 {
                expect_dups += 1;
                prev.clone()
            } else if i % 7 == 6 {
                expect_unknown += 1;
                format!(
                    "999,2026-11-02T10:{:02}:{:02},{},4420,voice,,0.01,\n",
                    i / 60,
                    i % 60,
                    i + 1
                )
            } else if i == 40 {
                "441,not a time,10,4420,voice,,0.01,\n".to_string()
            } else {
                format!(
                    "441,2026-11-02T10:{:02}:{:02},{},4420,voice,,0.01,\n",
                    i / 60,
                    i % 60,
                    i + 1
                )
            };
            body.push_str(&line);
            prev = line;
        }
        let p = import(&mut s, &r, "a", &body);
        assert_eq!(p.lines, 100);
        assert_eq!(p.errors.get("duplicate"), Some(&expect_dups));
        assert_eq!(p.errors.get("unknown_service"), Some(&expect_unknown));
        assert_eq!(p.errors.get("malformed"), Some(&1));
        assert_eq!(p.rated + p.error_count(), 100);
        errors_match_their_cdrs(&s);
        let dup = list_errors(&s.conn, Some(ErrorKind::Duplicate), None, false).unwrap();
        // Line 11 (the 10th data line) repeats line 10.
        assert!(
            dup[0].detail.contains("line 10 of this file"),
            "{:?}",
            dup[0]
        );
        // The same 100 lines again in another file: every CDR is a duplicate
        // of file 1 (the repeated ones too), the malformed line is malformed.
        let p2 = import(&mut s, &r, "b", &body);
        assert_eq!(p2.rated, 0);
        assert_eq!(p2.errors.get("duplicate"), Some(&99));
        errors_match_their_cdrs(&s);
        let ids: Vec<i64> = s
            .conn
            .prepare("SELECT id FROM billing_errors ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let lines: Vec<(i64, i64)> = s
            .conn
            .prepare("SELECT file_id, line FROM billing_errors ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ids.len(), lines.len());
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted, "errors are written in file and line order");
    }

    #[test]
    fn a_hash_collision_is_not_a_duplicate() {
        let (mut s, r) = setup();
        // Occupy the key the next CDR will get with a different CDR.
        let t = NaiveDateTime::parse_from_str("2026-11-02T10:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        let ident = Identity {
            service: "441",
            start: "2026-11-02T10:00:00",
            destination: "4420",
            call_type: CallType::Voice,
            units: 10,
        };
        let key = dedupe_key(&ident, t, 0);
        let p = import(&mut s, &r, "a", HEAD);
        assert_eq!(p.lines, 0);
        s.conn
            .execute(
                "INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, state, dedupe)
                 VALUES (1, 1, '441', ?2, '4499', 0, 10, 1, ?1)",
                params![key, start_secs(t)],
            )
            .unwrap();
        let p = import(
            &mut s,
            &r,
            "b",
            &format!("{HEAD}441,2026-11-02T10:00:00,10,4420,voice,,0.01,\n"),
        );
        assert_eq!(p.rated, 1, "{p:?}");
        assert!(p.errors.is_empty());
        let k: i64 = s
            .conn
            .query_row(
                "SELECT dedupe FROM cdrs WHERE destination = '4420'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(k, dedupe_key(&ident, t, 1));
    }
}
