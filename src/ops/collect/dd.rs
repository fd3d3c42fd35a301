//! File-based payment runs: Direct Debit files (`collect dd`) and the card
//! gateway batch (`collect card --out F`).

use super::produced_run;
use crate::domain::calendar::Calendar;
use crate::domain::collect::{self as rules, DdFormat, Kind, Planned};
use crate::domain::invoice::CollectedLess;
use crate::domain::money;
use crate::domain::payfile::{
    DebitItem, PayFile, PayFileError, RunInfo, Unsuitable,
    aba::{AbaOriginator, write_aba},
    bacs18::{BacsOriginator, write_bacs18},
    card_batch::write_card_batch,
    sepa::{SepaCreditor, write_sepa},
};
use crate::domain::settings::Settings;
use crate::error::{Error, Result, bad_input, external, precondition};
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit::Actor, collect as store, invoices, runs};
use crate::whole_file;
use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `collect dd RUN`.
#[derive(Debug, Clone)]
pub struct DdOptions {
    /// Run id or name; its invoices must be produced.
    pub run: String,
    /// The payment file (default: beside the database,
    /// `collect-<payment run>-<format>.<ext>`). Never overwritten.
    pub out: Option<PathBuf>,
    /// The debit date (default: the invoices' latest due date, or the
    /// next working day when that is not one; moved to the earliest
    /// possible date when its submission deadline has passed). Must be a
    /// working day whose deadline has not passed.
    pub date: Option<NaiveDate>,
    /// Also retry declined, dishonoured and failed collections.
    pub retry_failed: bool,
    /// The database file, beside which the default file goes.
    pub db: PathBuf,
    /// Where the default file goes instead (`collect.out_dir`, for
    /// `collect.auto`); `None`: beside the database.
    pub out_dir: Option<PathBuf>,
}

/// `collect card RUN --out F`.
#[derive(Debug, Clone)]
pub struct CardFileOptions {
    /// Run id or name; its invoices must be produced.
    pub run: String,
    /// The batch file (default: beside the database). Never overwritten.
    pub out: Option<PathBuf>,
    /// Also retry declined and failed charges.
    pub retry_failed: bool,
    /// The database file, beside which the default file goes.
    pub db: PathBuf,
}

/// A payment run's file that an interrupted run had left out of place,
/// now in place with its recorded bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub payment_run: i64,
    pub file: PathBuf,
    pub sha256: String,
    /// `true` when the file was there already (the run was interrupted
    /// after the rename): only its record was finished.
    pub was_there: bool,
}

/// Nothing new to collect: every invoice with an amount due is in a
/// payment run already.
#[derive(Debug, Clone, Serialize)]
pub struct NothingNew {
    /// Always `null`.
    pub payment_run: Option<i64>,
    /// Always 0.
    pub items: usize,
    /// Files of earlier payment runs put in place first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<Restored>,
    /// The billing run.
    #[serde(skip)]
    pub run: i64,
    /// Direct Debit or card.
    #[serde(skip)]
    pub kind: &'static str,
}

impl NothingNew {
    pub(super) fn new(run: i64, kind: Kind) -> NothingNew {
        NothingNew {
            payment_run: None,
            items: 0,
            restored: Vec::new(),
            run,
            kind: kind.as_str(),
        }
    }
}

/// A payment run recorded and its file in place.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub payment_run: i64,
    pub kind: &'static str,
    pub format: String,
    pub file: PathBuf,
    pub sha256: Option<String>,
    /// Direct Debit only: the date written in the file (Bacs processing
    /// day, SEPA `ReqdColltnDt`, ABA processing date).
    pub collection_date: Option<NaiveDate>,
    /// Direct Debit only: the day customers are debited (Bacs entry day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debit_date: Option<NaiveDate>,
    /// Direct Debit only: the debit date the due date asked for, when its
    /// submission deadline had passed and the run was moved to
    /// `debit_date`, the earliest possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<NaiveDate>,
    /// Direct Debit only: the working-day calendar used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<&'static str>,
    pub items: usize,
    pub total: String,
    /// Invoice numbers in the file, in file order.
    pub included: Vec<String>,
    /// Invoices left out: their details do not suit the format.
    pub unsuitable: Vec<Unsuitable>,
    /// Files of earlier payment runs put in place first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<Restored>,
    /// Invoices collected for less than they stated (payments since production).
    pub collected_less: Vec<CollectedLess>,
}

/// What a file-based payment run did.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FileRunReport {
    NothingNew(NothingNew),
    Written(Written),
}

/// Write the Direct Debit payment run of a produced run, in `dd.format`.
pub fn dd(
    store: &mut Store,
    actor: &Actor,
    opts: &DdOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<FileRunReport> {
    let run = produced_run(store, &opts.run)?;
    let format: DdFormat = settings.dd.format.parse().map_err(precondition)?;
    let bacs = BacsOriginator::from_settings(&settings.dd);
    let aba = AbaOriginator::from_settings(&settings.dd);
    let sepa = SepaCreditor::from_settings(&settings.dd);
    let calendar = super::dd_calendar(settings, format)?;
    let spec = FileRun {
        run: &run,
        kind: Kind::Dd,
        format: Some(format),
        format_name: format.as_str(),
        ext: format.extension(),
        out: opts.out.as_deref(),
        date: opts.date,
        calendar: Some(&calendar),
        retry_failed: opts.retry_failed,
        db: &opts.db,
        out_dir: opts.out_dir.as_deref(),
    };
    write_run(
        store,
        actor,
        &spec,
        settings,
        clock,
        progress,
        |items, info| match format {
            DdFormat::Bacs18 => write_bacs18(&bacs, info, items),
            DdFormat::Aba => write_aba(&aba, info, items),
            DdFormat::Sepa => write_sepa(&sepa, info, items),
        },
    )
}

/// Write a card payment run of a produced run as a gateway batch CSV.
pub fn card_file(
    store: &mut Store,
    actor: &Actor,
    opts: &CardFileOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<FileRunReport> {
    let run = produced_run(store, &opts.run)?;
    let spec = FileRun {
        run: &run,
        kind: Kind::Card,
        format: None,
        format_name: "card_batch",
        ext: "csv",
        out: opts.out.as_deref(),
        date: None,
        calendar: None,
        retry_failed: opts.retry_failed,
        db: &opts.db,
        out_dir: None,
    };
    write_run(
        store,
        actor,
        &spec,
        settings,
        clock,
        progress,
        |items, _| write_card_batch(items, &settings.currency),
    )
}

/// What a file-based payment run writes.
struct FileRun<'a> {
    run: &'a runs::Run,
    kind: Kind,
    /// Direct Debit: the format; `None` for the card batch.
    format: Option<DdFormat>,
    /// The payment run's `format`, also in the default file name.
    format_name: &'static str,
    /// The default file name's extension.
    ext: &'static str,
    out: Option<&'a Path>,
    date: Option<NaiveDate>,
    /// Direct Debit: the format's working days; `None` for the card batch.
    calendar: Option<&'a Calendar>,
    retry_failed: bool,
    db: &'a Path,
    /// `collect.out_dir`: the default file goes there instead.
    out_dir: Option<&'a Path>,
}

/// Record the payment run and write its file: the file is staged (written
/// and synced under a temporary name), the run committed durably
/// (`synchronous=FULL` on this connection), and only then is the file
/// renamed into place: a submittable file always has its payment run on
/// disk. A kill in between leaves the staged file as `.<name>.XXXXXX.tmp`
/// beside the file's path and the payment run not placed (`placed_at`
/// empty); the next call first puts its recorded bytes in place
/// ([`finish_placing`]).
///
/// Progress: selecting the invoices (no total), writing the file (its
/// invoices), recording the payment run (its items).
#[allow(clippy::too_many_arguments)]
fn write_run(
    store: &mut Store,
    actor: &Actor,
    spec: &FileRun<'_>,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
    write: impl Fn(&[DebitItem], &RunInfo) -> std::result::Result<PayFile, PayFileError>,
) -> Result<FileRunReport> {
    let run = spec.run;
    // A payment run recorded by an interrupted run gets its file first.
    let restored = finish_placing(store, actor, run.id, spec.kind)?;
    // The commit must be on disk before the file is put in place (the
    // store's default, NORMAL, leaves the WAL's sync to the next checkpoint).
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = store.write()?;
    progress.start("selecting the invoices to collect", None);
    let wanted = store::Wanted {
        run_id: run.id,
        kind: spec.kind,
        format: spec.format,
        max_retries: settings.collect.max_retries,
        retry_failed: spec.retry_failed,
    };
    let cands = store::candidates(&tx, &wanted)?;
    // A mandate the bank reported cancelled, transferred or disputed
    // (ADDACS, or a gateway) is not collected: listed like unsuitable details.
    let mut stopped = Vec::new();
    let cands = if spec.kind == Kind::Dd && !cands.is_empty() {
        let blocked = store::stopped_mandates(&tx)?;
        let (keep, stop): (Vec<_>, Vec<_>) = cands
            .into_iter()
            .partition(|c| !blocked.contains_key(&c.account));
        for c in stop {
            if let Some((status, on)) = blocked.get(&c.account) {
                stopped.push(Unsuitable {
                    reference: c.number.clone(),
                    reason: format!(
                        "{}: the bank reported its mandate {status} on {on}; not collected until \
                         the customer has a new mandate (`billrun customers import`)",
                        c.account
                    ),
                });
            }
        }
        if keep.is_empty() && !stopped.is_empty() {
            return Err(payfile_error(PayFileError::NothingToCollect {
                format: spec.format_name,
                unsuitable: stopped,
            }));
        }
        keep
    } else {
        cands
    };
    progress.finish();
    if cands.is_empty() {
        let mut n = NothingNew::new(run.id, spec.kind);
        n.restored = restored;
        return Ok(FileRunReport::NothingNew(n));
    }
    let id = store::next_id(&tx)?;
    let today = clock.today();
    let due = rules::collection_date(None, cands.iter().map(|c| c.due_date), today);
    let dates = match spec.calendar {
        Some(cal) => Some(super::debit_dates(cal, spec.date, due, today)?),
        None => None,
    };
    let date = dates.as_ref().map_or(due, |d| d.file_date);
    let info = RunInfo {
        collection_date: date,
        created: clock.local_now(),
        run_number: u32::try_from(id).unwrap_or(0),
    };
    progress.start(
        &format!("writing the {} file", spec.format_name),
        Some(cands.len() as u64),
    );
    let Planned { mut file, items } = rules::plan(&cands, spec.kind, spec.format, |debits| {
        write(debits, &info)
    })
    .map_err(payfile_error)?;
    progress.inc(cands.len() as u64);
    progress.start("recording the payment run", Some(items.len() as u64));
    file.unsuitable.extend(stopped);
    let path = spec
        .out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out(spec.out_dir, spec.db, id, spec.format_name, spec.ext));
    // Recorded absolute, so that finishing an interrupted run from another
    // directory puts the file where it was meant to go.
    let recorded = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    // The file is written under a temporary name, the payment run is
    // committed, and only then is the file renamed into place: a kill at any
    // moment never leaves a submittable file that no payment run records.
    let staged = stage_private(&path, &file.contents)?;
    let nr = store::NewRun {
        run_id: run.id,
        kind: spec.kind,
        format: spec.format_name.to_string(),
        collection_date: (spec.kind == Kind::Dd).then_some(date),
        currency: settings.currency.clone(),
        file: Some(recorded.display().to_string()),
        sha256: Some(hex::encode(Sha256::digest(&file.contents))),
        contents: Some(file.contents.clone()),
    };
    // Not recorded: the staged file is dropped, which removes it.
    let pid = store::create(&tx, actor, &nr, &items)?;
    if let Some(d) = &dates {
        store::set_debit_date(&tx, pid, d.debit_date)?;
    }
    let collected_less =
        invoices::collected_less(&tx, items.iter().map(|i| (i.invoice_id, i.amount_minor)))?;
    tx.commit()?;
    progress.inc(items.len() as u64);
    progress.finish();
    test_hook_stop_after_commit();
    // Failing from here on, the payment run stays recorded as not placed:
    // `status` shows the step not done and the next run finishes it.
    whole_file::place_new(staged, &path).map_err(|e| {
        let what = match &e {
            whole_file::PlaceError::NotSynced(_) => {
                "check the file is there before submitting it".to_string()
            }
            whole_file::PlaceError::Exists(kept) => format!(
                "compare the two: submit {} under the name you choose, and only once",
                kept.display()
            ),
            whole_file::PlaceError::NotPlaced(kept, _) => format!(
                "rename {} to {} before submitting it",
                kept.display(),
                path.display()
            ),
        };
        external(format!(
            "payment run {pid} is recorded, but its file {}: {e}; {what}",
            path.display()
        ))
    })?;
    store::mark_placed(&store.conn, actor, pid, None)?;
    Ok(FileRunReport::Written(Written {
        payment_run: pid,
        kind: spec.kind.as_str(),
        format: spec.format_name.to_string(),
        file: path,
        sha256: nr.sha256,
        collection_date: nr.collection_date,
        debit_date: dates.as_ref().map(|d| d.debit_date),
        moved_from: dates.as_ref().and_then(|d| d.moved_from),
        calendar: spec.calendar.map(|c| c.scheme.calendar_name()),
        items: items.len(),
        total: money::fmt_minor(file.total_minor),
        included: file.included,
        unsuitable: file.unsuitable,
        restored,
        collected_less,
    }))
}

/// Debug builds only: `BILLRUN_TEST_STOP_AFTER_COMMIT=1` ends the process
/// right after a payment run is committed, before its file is renamed
/// into place, as a kill there would (the staged file is left, hidden).
/// Tests use it to check that the next run finishes the job.
#[allow(clippy::exit, reason = "simulates a kill; debug builds only")]
fn test_hook_stop_after_commit() {
    #[cfg(debug_assertions)]
    if std::env::var_os("BILLRUN_TEST_STOP_AFTER_COMMIT").is_some_and(|v| v == "1") {
        std::process::exit(137);
    }
}

/// Put in place the file of every payment run of `kind` of run `run_id`
/// that is recorded but not in place: a run killed (or failing) between
/// its commit and the rename. The bytes are the recorded ones (or, for a
/// run recorded before they were kept, its staged file), checked against
/// the recorded SHA-256; the staged copies it left are removed. A
/// different file at the path is refused: nothing is ever overwritten.
fn finish_placing(
    store: &mut Store,
    actor: &Actor,
    run_id: i64,
    kind: Kind,
) -> Result<Vec<Restored>> {
    let mut restored = Vec::new();
    for u in store::unplaced(&store.conn, run_id, kind)? {
        let path = PathBuf::from(&u.file);
        let was_there = place_recorded(&u, &path)?;
        remove_staged_copies(&path, &u.sha256);
        let how = if was_there {
            "found in place after an interrupted run"
        } else {
            "put in place after an interrupted run (recorded bytes, SHA-256 checked)"
        };
        store::mark_placed(&store.conn, actor, u.id, Some(how))?;
        restored.push(Restored {
            payment_run: u.id,
            file: path,
            sha256: u.sha256,
            was_there,
        });
    }
    Ok(restored)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Make `path` hold payment run `u`'s recorded file; `true` when it did
/// already.
fn place_recorded(u: &store::Unplaced, path: &Path) -> Result<bool> {
    let pid = u.id;
    let same_as_recorded = |path: &Path| -> Result<bool> {
        let bytes = std::fs::read(path).map_err(|e| {
            external(format!(
                "payment run {pid}: cannot read {}: {e}",
                path.display()
            ))
        })?;
        Ok(sha256_hex(&bytes) == u.sha256)
    };
    let different = || {
        precondition(format!(
            "payment run {pid} is recorded with the file {}, but the file there is not the one \
             recorded (SHA-256 {}): do not submit it; move it away and run the same `billrun \
             collect` command again to put the recorded file there",
            path.display(),
            u.sha256
        ))
    };
    if path.symlink_metadata().is_ok() {
        return if path.is_file() && same_as_recorded(path)? {
            whole_file::sync_dir(whole_file::dir_of(path))
                .map_err(|e| external(format!("cannot sync {}: {e}", path.display())))?;
            Ok(true)
        } else {
            Err(different())
        };
    }
    let bytes = match &u.contents {
        Some(b) if sha256_hex(b) == u.sha256 => b.clone(),
        Some(_) => {
            return Err(external(format!(
                "payment run {pid}: the recorded bytes of {} do not match its recorded SHA-256; \
                 the database may be damaged: restore it from a backup",
                path.display()
            )));
        }
        None => staged_copy(path, &u.sha256).ok_or_else(|| {
            precondition(format!(
                "payment run {pid} is recorded with the file {}, which was never put in place \
                 and cannot be rebuilt (recorded by an older billrun, and no staged copy with its \
                 SHA-256 {} is beside it): if you submitted it, ignore this; otherwise find it \
                 (`.NAME.XXXXXX.tmp` files) before submitting anything for these invoices",
                path.display(),
                u.sha256
            ))
        })?,
    };
    let staged = whole_file::stage(path, &bytes).map_err(|e| {
        external(format!(
            "payment run {pid}: cannot write a temporary file beside {}: {e}",
            path.display()
        ))
    })?;
    match whole_file::place_new(staged, path) {
        Ok(()) => Ok(false),
        // Another invocation put it there meanwhile.
        Err(whole_file::PlaceError::Exists(kept)) => {
            let _ = std::fs::remove_file(kept);
            if same_as_recorded(path)? {
                Ok(true)
            } else {
                Err(different())
            }
        }
        Err(e) => Err(external(format!(
            "payment run {pid}: its file {} is still not in place: {e}",
            path.display()
        ))),
    }
}

/// The bytes of a staged copy of `path` (`.NAME.XXXXXX.tmp` beside it)
/// whose SHA-256 is `sha256`.
fn staged_copy(path: &Path, sha256: &str) -> Option<Vec<u8>> {
    staged_copies(path).into_iter().find_map(|p| {
        let bytes = std::fs::read(&p).ok()?;
        (sha256_hex(&bytes) == sha256).then_some(bytes)
    })
}

/// The staged copies beside `path`: `.NAME.XXXXXX.tmp` regular files.
fn staged_copies(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir(whole_file::dir_of(path)) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| whole_file::temporary_of(&e.file_name().to_string_lossy()) == Some(&name))
        .map(|e| e.path())
        .collect()
}

/// Remove the staged copies of `path` holding exactly the recorded file
/// (leftovers of the interrupted run): the file is in place now, and a
/// second copy could be submitted twice. Others are left alone.
fn remove_staged_copies(path: &Path, sha256: &str) {
    for p in staged_copies(path) {
        if std::fs::read(&p).is_ok_and(|b| sha256_hex(&b) == sha256) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// A writer's refusal as an error with the right exit code: settings are a
/// precondition (configure first), items are bad input.
fn payfile_error(e: PayFileError) -> Error {
    match &e {
        PayFileError::Invalid { settings, .. } if !settings.is_empty() => {
            precondition(format!("{e}\nset them with `billrun config set KEY VALUE`"))
        }
        PayFileError::Internal(_) => external(e.to_string()),
        _ => bad_input(format!(
            "{e}\nfix the customers' details (`billrun customers import F`) and run it again"
        )),
    }
}

/// `bytes` for `path`, synced in a temporary file beside it (mode 0600),
/// to be put in place with [`whole_file::place_new`]; an existing file at
/// `path` is refused.
fn stage_private(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    if path.exists() {
        return Err(precondition(format!(
            "{} already exists: payment files are never overwritten; choose another --out \
             (if it is left from an interrupted run that `billrun collect list` does not show, delete it)",
            path.display()
        )));
    }
    whole_file::stage(path, bytes).map_err(|e| {
        external(format!(
            "cannot write a temporary file beside {}: {e}",
            path.display()
        ))
    })
}

/// `collect-<payment run>-<format>.<ext>` in `out_dir`, else beside the
/// database.
fn default_out(out_dir: Option<&Path>, db: &Path, id: i64, stem: &str, ext: &str) -> PathBuf {
    let dir = out_dir.unwrap_or_else(|| {
        db.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    });
    dir.join(format!("collect-{id}-{stem}.{ext}"))
}
