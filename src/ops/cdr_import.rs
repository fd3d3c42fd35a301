//! CDR files (docs/file-formats.md#cdr-files): `cdr import`, `cdr fetch`, `cdr process`,
//! `cdr ignore`, and `carriers add`.
//!
//! **Durability order.** A file is copied into the file store
//! (`<db>.files/cdr/<sha256>`) under a temporary name while it is hashed;
//! the copy is synced and renamed into place (on a thread of its own,
//! while the import reads it) and waited for before the commit that refers
//! to it. `cdr fetch` removes a file from its inbox only after its commit,
//! which is synced first (`synchronous=FULL` on this connection).
//!
//! **Import pipeline** (`rate_and_store`): one thread reads, parses and
//! rates lines (pure work on the in-memory [`Rater`]) into bounded
//! [`LineBatch`]es; the calling thread only writes them to SQLite
//! (`store::cdrs::store_lines`); a third has the kernel write the WAL as it
//! grows. Memory stays bounded by the batch queue.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use serde::{Serialize, Serializer};

use super::{Clock, Progress};
use crate::domain::cdr_format::{CdrFileError, CdrFormat, CdrReader};
use crate::domain::cdrs::{LineBatch, Processed, Rater};
use crate::domain::rating::PeakWindow;
use crate::domain::settings::Settings;
use crate::error::{Error, Result, bad_input, external};
use crate::store::audit::Actor;
use crate::store::{Store, cdrs};
use crate::whole_file;

/// The peak window of the settings.
pub(crate) fn peak(settings: &Settings) -> PeakWindow {
    PeakWindow {
        start: settings.peak_start,
        end: settings.peak_end,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

// ---------------------------------------------------------------- file store

/// A file copied into the store under a temporary name
/// (`.incoming.XXXXXX.tmp`, from `whole_file::beside`: unique, mode 0600,
/// removed when dropped), and the SHA-256 of the copy: the bytes stored are
/// exactly the bytes hashed, even if the source changes meanwhile.
struct Stashed {
    tmp: tempfile::NamedTempFile,
    sha: String,
    /// Bytes copied.
    len: u64,
}

/// How long a temporary copy in the file store stays before a later
/// import removes it as left by a killed command.
const LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

/// Progress: the bytes copied (in the caller's phase).
fn stash(from: &Path, dir: &Path, progress: &dyn Progress) -> Result<Stashed> {
    cdrs::ensure_dir(dir)?;
    // A copy lives as long as one command; one untouched for a day was left
    // by a command that was killed. Best effort: the import goes on anyway.
    let _ = whole_file::remove_leftovers(dir, |n| n == "incoming", Some(LEFTOVER_AGE));
    let mut tmp = whole_file::beside(&dir.join("incoming"))
        .map_err(|e| external(format!("cannot create a file in {}: {e}", dir.display())))?;
    let at = tmp.path().to_path_buf();
    let mut len = 0;
    let sha = cdrs::copy_hashing(from, tmp.as_file_mut(), &at, &mut |n| {
        len += n;
        progress.inc(n);
    })?;
    Ok(Stashed { tmp, sha, len })
}

/// A stored copy being made durable (see [`Stashed::keep`]): [`Kept::wait`]
/// before committing anything that refers to it, or removing its source.
struct Kept {
    path: PathBuf,
    /// The copy is new in the store (an import that fails removes it).
    created: bool,
    syncing: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Kept {
    /// Wait until the copy is on disk under its final name.
    fn wait(&mut self) -> Result<()> {
        let Some(h) = self.syncing.take() else {
            return Ok(());
        };
        h.join()
            .map_err(|_| external("syncing the stored CDR file panicked"))?
            .map_err(|e| {
                external(format!(
                    "cannot store {} durably: {e}; nothing was imported",
                    self.path.display()
                ))
            })
    }

    /// Remove a copy this command created (its import failed; called under
    /// the write lock, so no other import can have renamed its copy into
    /// place since ours).
    fn remove_if_created(mut self) {
        if self.created {
            let _ = self.wait();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Stashed {
    /// The copy opened for reading (before [`Self::keep`] renames it).
    fn reader(&self) -> Result<std::fs::File> {
        self.tmp
            .reopen()
            .map_err(|e| external(format!("{}: cannot read: {e}", self.tmp.path().display())))
    }

    /// Give the copy its final name, durably and in this order: its data
    /// synced, then the rename, then the directory synced (a stored name
    /// is never a partly written file, even after a power cut). That runs
    /// on a thread of its own while the caller goes on (an import reads
    /// the copy meanwhile through [`Self::reader`]); the caller waits with
    /// [`Kept::wait`] before it commits. Call it holding the database's
    /// write lock, so that no other import's clean-up can remove the stored
    /// copy between this rename and the commit. An earlier copy of the same
    /// bytes (left by an import that failed) is replaced.
    fn keep(self, dir: &Path) -> Kept {
        let to = cdrs::stored_path(dir, &self.sha);
        let created = !to.exists();
        let (tmp, path) = (self.tmp, to.clone());
        let syncing = std::thread::spawn(move || whole_file::place(tmp, &path));
        Kept {
            path: to,
            created,
            syncing: Some(syncing),
        }
    }
}

// ---------------------------------------------------------------- the pipeline

/// A reader of `f` from its start (its own handle: the file may be renamed
/// meanwhile, see [`Stashed::keep`]).
fn rewound(f: &std::fs::File) -> Result<std::fs::File> {
    use std::io::{Seek, SeekFrom};
    let mut r = f
        .try_clone()
        .map_err(|e| external(format!("cannot read the stored CDR file again: {e}")))?;
    r.seek(SeekFrom::Start(0))
        .map_err(|e| external(format!("cannot read the stored CDR file again: {e}")))?;
    Ok(r)
}

/// Lines handed from the parsing thread to the database thread at a time.
const BATCH: usize = 2048;
/// Batches queued between the two threads.
const QUEUED: usize = 4;
/// Batches that exist at most: the queue, one being filled, one being stored.
const IN_FLIGHT: usize = QUEUED + 2;

/// What the parsing thread sends: a batch, or why the file cannot be read.
type Sent = std::result::Result<LineBatch, CdrFileError>;

/// The input of an import, counting the bytes read from it, so progress
/// can be shown in bytes of the file (read on the parsing thread, shown by
/// the database thread once per stored batch).
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Parse, rate, dedupe and store every line of file `file_id`, inside the
/// caller's transaction `conn`. A whole-file problem comes back as the
/// inner `Err` (the caller rolls back); bad lines become `malformed` errors
/// and the file goes on. The file ends `processed`.
///
/// Two threads: one reads, parses and rates lines into batches (see the
/// module doc); this one only writes to SQLite. Progress: the bytes of the
/// file read so far, reported once per stored batch (not per line), in the
/// caller's phase (see [`Progress::start_bytes`]).
#[allow(clippy::too_many_arguments)]
fn rate_and_store<R: Read + Send>(
    conn: &Connection,
    actor: &Actor,
    file_id: i64,
    format: CdrFormat,
    input: R,
    reopen: &dyn Fn() -> Result<R>,
    rater: &Rater,
    now: &str,
    progress: &dyn Progress,
) -> Result<std::result::Result<Processed, CdrFileError>> {
    // The raw lines of CDRs found to be duplicates once the whole file is
    // in (see `cdrs::store_lines`): read again from the start, rarely.
    let again = format.clone();
    let mut raw_lines = |lines: &[i64]| -> Result<HashMap<i64, String>> {
        let want: std::collections::HashSet<i64> = lines.iter().copied().collect();
        let mut found = HashMap::with_capacity(want.len());
        let mut reader = CdrReader::new(again.clone(), reopen()?)
            .map_err(|e| external(format!("reading the stored file again: {e}")))?;
        while found.len() < want.len()
            && let Some(item) = reader.next_line()
        {
            let l = item.map_err(|e| external(format!("reading the stored file again: {e}")))?;
            let line = i64::try_from(l.line).unwrap_or(i64::MAX);
            if want.contains(&line) {
                found.insert(line, l.raw.to_string());
            }
        }
        Ok(found)
    };
    let read = Arc::new(AtomicU64::new(0));
    let input = Counted {
        inner: input,
        read: Arc::clone(&read),
    };
    let reader = match CdrReader::new(format, input) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Sent>(QUEUED);
    // Stored batches come back to the reading thread to be emptied and
    // reused: at most IN_FLIGHT batches ever exist (the queue, the one
    // being filled, the one being stored), so memory is bounded and no
    // batch is allocated (and its pages faulted in) more than once.
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<LineBatch>(IN_FLIGHT);
    // The file's CDR rows per day of their start (`cdrs::add_file_days`).
    let mut days = std::collections::BTreeMap::<i64, u64>::new();
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
                    return Some(LineBatch::with_capacity(BATCH));
                }
                // None: the writer has stopped (a database error).
                back_rx.recv().ok().map(LineBatch::emptied)
            };
            let Some(mut batch) = fresh() else { return };
            while let Some(item) = reader.next_line() {
                match item {
                    Ok(l) => batch.push_line(l, rater),
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
        if let Some(wal) = cdrs::wal_path(conn) {
            s.spawn(move || cdrs::flush_wal_meanwhile(&wal, &stopped));
        }
        let mut shown = 0;
        let stored = |b: LineBatch| {
            count_days(&mut days, &b);
            let now = read.load(Ordering::Relaxed);
            progress.inc(now.saturating_sub(shown));
            shown = now;
            // Back to the reader to be emptied there (or dropped here if
            // it has stopped or has enough).
            let _ = back_tx.try_send(b);
        };
        let out = cdrs::store_lines(conn, file_id, rx, stored, &mut raw_lines, now);
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
    cdrs::add_file_days(conn, file_id, days)?;
    cdrs::finish_file(conn, actor, &out, now)?;
    Ok(Ok(out))
}

/// Count the CDR rows of a stored batch per day of their start: every CDR
/// line is one row (rated, error, or the copy of a duplicate).
fn count_days(days: &mut std::collections::BTreeMap<i64, u64>, b: &LineBatch) {
    let mut last: Option<(i64, u64)> = None;
    for l in &b.lines {
        if let crate::domain::cdrs::RatedLine::Cdr(c) = l {
            let day = cdrs::day_number(c.secs);
            match &mut last {
                Some((d, n)) if *d == day => *n += 1,
                _ => {
                    if let Some((d, n)) = last.take() {
                        *days.entry(d).or_default() += n;
                    }
                    last = Some((day, 1));
                }
            }
        }
    }
    if let Some((d, n)) = last {
        *days.entry(d).or_default() += n;
    }
}

// ---------------------------------------------------------------- import

/// `cdr import FILE --carrier C [--no-process]`.
#[derive(Debug, Clone)]
pub struct ImportOptions<'a> {
    pub actor: &'a Actor,
    /// The database file (the file store is beside it).
    pub db: &'a Path,
    pub file: &'a Path,
    pub carrier: &'a str,
    /// Only store the file (state pending).
    pub no_process: bool,
}

/// What `cdr import` did.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Imported {
    /// Stored, to be rated by `cdr process`.
    Pending {
        #[serde(skip)]
        id: i64,
        /// The file as the operator named it.
        file: String,
        state: &'static str,
    },
    /// Stored and rated.
    Processed {
        #[serde(skip)]
        file: String,
        #[serde(flatten)]
        processed: Processed,
    },
}

/// Import one file: stored once (by SHA-256), then, unless `no_process`,
/// rated, all in one transaction. A file seen before is refused (exit 4),
/// as is a file that cannot be read as a CDR file (nothing is changed).
pub fn import(
    store: &mut Store,
    o: &ImportOptions<'_>,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Imported> {
    let label = o.file.display().to_string();
    let c = cdrs::carrier_required(&store.conn, o.carrier)?;
    let format = cdrs::parse_format(&c.format)?;
    let dir = cdrs::files_dir(o.db);
    let size = std::fs::metadata(o.file).map(|m| m.len()).unwrap_or(0);
    progress.start_bytes(&format!("storing {}", file_name(o.file)), size);
    let stashed = stash(o.file, &dir, progress);
    progress.finish();
    let stashed = stashed?;
    // Dropping `stashed` removes the temporary copy.
    if let Some((id, n, at)) = cdrs::file_by_sha(&store.conn, &stashed.sha)? {
        return Err(cdrs::already_imported(&label, id, &n, &at));
    }
    let input = stashed.reader()?;
    cdrs::tune_for_import(&store.conn)?;
    let tx = store.write()?;
    let now = clock.stamp();
    // Checked again under the write lock (another import may have stored
    // the same bytes meanwhile).
    let id = cdrs::register_file(
        &tx,
        o.actor,
        o.carrier,
        &file_name(o.file),
        &stashed.sha,
        &now,
    )?;
    let sha = stashed.sha.clone();
    let stashed_len = stashed.len;
    let mut kept = stashed.keep(&dir);
    let result = (|| -> Result<Option<Processed>> {
        if o.no_process {
            return Ok(None);
        }
        let rater = cdrs::load_rater(&tx, peak(settings))?;
        progress.start_bytes(&format!("rating {}", file_name(o.file)), stashed_len);
        let first = rewound(&input)?;
        let again = || rewound(&input);
        let out = rate_and_store(
            &tx, o.actor, id, format, first, &again, &rater, &now, progress,
        );
        progress.finish();
        match out? {
            Ok(p) => Ok(Some(p)),
            Err(e) => Err(bad_input(format!(
                "{label}: {e}; the file was not imported (nothing was changed)"
            ))),
        }
    })();
    let result = result.and_then(|r| kept.wait().map(|()| r));
    match result {
        Ok(r) => {
            if let Err(e) = tx.commit() {
                // Disk full or an I/O error at the last moment: nothing was
                // recorded, so the stored copy must not stay either. Removed
                // under the write lock again, and only while no other import
                // has recorded the same bytes (its copy has the same name).
                if let Ok(again) = store.write()
                    && matches!(cdrs::file_by_sha(&again, &sha), Ok(None))
                {
                    kept.remove_if_created();
                }
                return Err(e.into());
            }
            Ok(match r {
                None => Imported::Pending {
                    id,
                    file: label,
                    state: "pending",
                },
                Some(processed) => Imported::Processed {
                    file: label,
                    processed,
                },
            })
        }
        Err(e) => {
            // Still under the write lock.
            kept.remove_if_created();
            drop(tx);
            Err(e)
        }
    }
}

// ---------------------------------------------------------------- fetch

/// `cdr fetch`.
#[derive(Debug, Clone)]
pub struct FetchOptions<'a> {
    pub actor: &'a Actor,
    pub db: &'a Path,
    /// How long to wait between the two looks at the inboxes (a file
    /// whose size or modification time changes is still being written).
    pub settle: Duration,
}

/// One inbox file that `cdr fetch` took.
#[derive(Debug, Clone, Serialize)]
pub struct FetchedFile {
    pub id: i64,
    pub carrier: String,
    pub name: String,
}

/// What happened to one settled inbox file, in inbox order.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// Stored as pending and removed from the inbox.
    Fetched(FetchedFile),
    /// Stored by an earlier fetch that did not get to remove it: removed.
    AlreadyStored,
    /// The same bytes were imported before: moved to `rejected/`.
    Rejected {
        path: PathBuf,
        /// The earlier file: id, name, imported at.
        id: i64,
        name: String,
        at: String,
        moved_to: PathBuf,
    },
}

/// What `cdr fetch` did. Its JSON: `{"fetched": [{id, carrier, name}],
/// "still_writing": [path], "rejected": [path]}`.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Settled files, in inbox order.
    pub files: Vec<Fetch>,
    /// Files still growing, left for the next fetch.
    pub still_writing: Vec<String>,
    /// Entries of an inbox that are not regular files (symbolic links,
    /// FIFOs, sockets, devices): never read, never removed.
    pub not_regular: Vec<String>,
    /// What stopped the fetch after `files` (those stay done).
    pub stopped: Option<Error>,
}

impl Fetched {
    pub fn fetched(&self) -> impl Iterator<Item = &FetchedFile> {
        self.files.iter().filter_map(|f| match f {
            Fetch::Fetched(f) => Some(f),
            _ => None,
        })
    }
}

impl Serialize for Fetched {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            fetched: Vec<&'a FetchedFile>,
            still_writing: &'a [String],
            not_regular: &'a [String],
            rejected: Vec<String>,
        }
        Shape {
            fetched: self.fetched().collect(),
            still_writing: &self.still_writing,
            not_regular: &self.not_regular,
            rejected: self
                .files
                .iter()
                .filter_map(|f| match f {
                    Fetch::Rejected { path, .. } => Some(path.display().to_string()),
                    _ => None,
                })
                .collect(),
        }
        .serialize(s)
    }
}

type Look = (u64, Option<std::time::SystemTime>);

fn look(p: &Path) -> Option<Look> {
    let m = std::fs::symlink_metadata(p)
        .ok()
        .filter(|m| m.file_type().is_file())?;
    Some((m.len(), m.modified().ok()))
}

/// Move new files from every carrier's inbox into the store, as pending
/// files, one transaction each; a file is removed from its inbox after
/// its commit. A file seen before is moved to the inbox's `rejected/`.
pub fn fetch(
    store: &mut Store,
    o: &FetchOptions<'_>,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Fetched> {
    // A fetched file is removed from its inbox right after its commit, so
    // that commit must be on disk first.
    cdrs::sync_commits(&store.conn)?;
    let carriers: Vec<_> = cdrs::list_carriers(&store.conn)?
        .into_iter()
        .filter(|c| c.inbox.is_some())
        .collect();
    // First look: every candidate file and its size. Only regular files
    // are taken: a symbolic link could import a file from outside the inbox
    // (and removing it would remove the link, not the file), and a FIFO
    // would block the fetch.
    let mut seen: Vec<(String, PathBuf, Look)> = Vec::new();
    let mut not_regular = Vec::new();
    for c in &carriers {
        let inbox = PathBuf::from(c.inbox.as_deref().unwrap_or_default());
        let rd = std::fs::read_dir(&inbox)
            .map_err(|e| external(format!("inbox {} of {}: {e}", inbox.display(), c.name)))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            if file_name(&p).starts_with('.') || file_name(&p).ends_with(".tmp") {
                continue;
            }
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_file() => files.push(p),
                Ok(m) if m.file_type().is_dir() => {}
                Ok(_) => not_regular.push(p.display().to_string()),
                Err(_) => {}
            }
        }
        files.sort();
        for p in files {
            if let Some(l) = look(&p) {
                seen.push((c.name.clone(), p, l));
            }
        }
    }
    not_regular.sort();
    if !seen.is_empty() {
        std::thread::sleep(o.settle);
    }
    let dir = cdrs::files_dir(o.db);
    let mut out = Fetched {
        not_regular,
        ..Fetched::default()
    };
    // Progress in bytes: each file's as it is copied into the store.
    progress.start_bytes(
        "fetching CDR files",
        seen.iter().map(|(_, _, (len, _))| len).sum(),
    );
    for (carrier, path, first) in seen {
        if look(&path) != Some(first) {
            progress.inc(first.0);
            out.still_writing.push(path.display().to_string());
            continue;
        }
        match fetch_one(store, o, &dir, &carrier, &path, clock, progress) {
            Ok(f) => out.files.push(f),
            Err(e) => {
                out.stopped = Some(e);
                break;
            }
        }
    }
    progress.finish();
    Ok(out)
}

fn fetch_one(
    store: &mut Store,
    o: &FetchOptions<'_>,
    dir: &Path,
    carrier: &str,
    path: &Path,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Fetch> {
    let stashed = stash(path, dir, progress)?;
    let name = file_name(path);
    if let Some((id, n, at)) = cdrs::file_by_sha(&store.conn, &stashed.sha)? {
        if n == name && cdrs::stored_path(dir, &stashed.sha).exists() {
            // An earlier fetch stored it but did not get to remove it.
            let _ = std::fs::remove_file(path);
            return Ok(Fetch::AlreadyStored);
        }
        let rej = path.parent().unwrap_or(Path::new(".")).join("rejected");
        let io = |e: std::io::Error| external(e.to_string());
        std::fs::create_dir_all(&rej).map_err(io)?;
        std::fs::rename(path, rej.join(&name)).map_err(io)?;
        return Ok(Fetch::Rejected {
            path: path.to_path_buf(),
            id,
            name: n,
            at,
            moved_to: rej,
        });
    }
    let tx = store.write()?;
    let id = cdrs::register_file(&tx, o.actor, carrier, &name, &stashed.sha, &clock.stamp())?;
    let mut kept = stashed.keep(dir);
    if let Err(e) = kept.wait() {
        kept.remove_if_created();
        return Err(e);
    }
    tx.commit()?;
    std::fs::remove_file(path).map_err(|e| {
        external(format!(
            "{}: stored, but cannot remove it from the inbox: {e}",
            path.display()
        ))
    })?;
    Ok(Fetch::Fetched(FetchedFile {
        id,
        carrier: carrier.to_string(),
        name,
    }))
}

// ---------------------------------------------------------------- process

/// One pending file that `cdr process` could not rate.
#[derive(Debug, Clone)]
pub struct FailedFile {
    pub id: i64,
    pub name: String,
    pub why: String,
}

/// What happened to one pending file, in id order.
#[derive(Debug, Clone)]
pub enum ProcessOutcome {
    Processed { name: String, processed: Processed },
    Failed(FailedFile),
}

/// What `cdr process` did. Its JSON: `{"processed": [...], "failed":
/// ["ID (NAME): WHY"]}`.
#[derive(Debug, Default)]
pub struct ProcessReport {
    pub files: Vec<ProcessOutcome>,
    /// What stopped processing after `files` (those stay done).
    pub stopped: Option<Error>,
}

impl ProcessReport {
    pub fn failed(&self) -> impl Iterator<Item = &FailedFile> {
        self.files.iter().filter_map(|f| match f {
            ProcessOutcome::Failed(f) => Some(f),
            _ => None,
        })
    }
}

impl Serialize for ProcessReport {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            processed: Vec<&'a Processed>,
            failed: Vec<String>,
        }
        Shape {
            processed: self
                .files
                .iter()
                .filter_map(|f| match f {
                    ProcessOutcome::Processed { processed, .. } => Some(processed),
                    _ => None,
                })
                .collect(),
            failed: self
                .failed()
                .map(|f| format!("{} ({}): {}", f.id, f.name, f.why))
                .collect(),
        }
        .serialize(s)
    }
}

/// Rate every pending file, oldest first, one transaction each. A file
/// that cannot be read as a CDR file is marked failed (its lines rolled
/// back) and the others go on.
pub fn process(
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<ProcessReport> {
    let dir = cdrs::files_dir(db);
    cdrs::ensure_dir(&dir)?;
    // Held (shared) while this command processes files: a file left
    // `processing` while nobody holds it was abandoned by a killed run.
    let _lock = ProcessLock::take(&dir, store, actor)?;
    let pending = cdrs::pending_files(&store.conn)?;
    let mut out = ProcessReport::default();
    let n = pending.len();
    for (i, (id, name, carrier, sha)) in pending.into_iter().enumerate() {
        // Progress: one phase per file, in bytes of the file (rate, ETA).
        let what = format!("rating {name} (file {} of {n})", i + 1);
        let outcome = process_one(
            store,
            actor,
            &dir,
            settings,
            clock,
            (id, name, &carrier, &sha),
            &Phase {
                progress,
                what: &what,
            },
        );
        progress.finish();
        match outcome {
            Ok(Some(o)) => out.files.push(o),
            Ok(None) => {}
            Err(e) => {
                out.stopped = Some(e);
                break;
            }
        }
    }
    Ok(out)
}

/// The progress of `cdr process` and the name of the phase of one file.
struct Phase<'a> {
    progress: &'a dyn Progress,
    what: &'a str,
}

/// The lock file `cdr process` holds while it processes (`flock`, released
/// by the kernel when the process dies): shared by every running `cdr
/// process`; taken exclusively for a moment at the start to release the
/// files a killed run left `processing`.
struct ProcessLock {
    _file: std::fs::File,
}

impl ProcessLock {
    fn take(dir: &Path, store: &mut Store, actor: &Actor) -> Result<ProcessLock> {
        use rustix::fs::{FlockOperation, flock};
        let path = dir.join(".process.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| external(format!("{}: {e}", path.display())))?;
        let io = |e: rustix::io::Errno| external(format!("{}: {e}", path.display()));
        if flock(&f, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let tx = store.write()?;
            cdrs::release_stale(&tx, actor)?;
            tx.commit()?;
        }
        flock(&f, FlockOperation::LockShared).map_err(io)?;
        Ok(ProcessLock { _file: f })
    }
}

fn process_one(
    store: &mut Store,
    actor: &Actor,
    dir: &Path,
    settings: &Settings,
    clock: &dyn Clock,
    (id, name, carrier, sha): (i64, String, &str, &str),
    phase: &Phase<'_>,
) -> Result<Option<ProcessOutcome>> {
    let c = cdrs::carrier_required(&store.conn, carrier)?;
    // Claimed and committed first, so the file shows `processing` while
    // it is rated.
    let tx = store.write()?;
    if !cdrs::claim_file(&tx, id)? {
        return Ok(None); // another `cdr process` took it meanwhile
    }
    tx.commit()?;
    let out = rate_one(
        store,
        actor,
        dir,
        settings,
        clock,
        (id, name, &c, sha),
        phase,
    );
    if out.is_err() {
        // A database error: the file is pending again for the next run.
        let tx = store.write()?;
        cdrs::release_file(&tx, id)?;
        tx.commit()?;
    }
    out
}

fn rate_one(
    store: &mut Store,
    actor: &Actor,
    dir: &Path,
    settings: &Settings,
    clock: &dyn Clock,
    (id, name, c, sha): (i64, String, &cdrs::Carrier, &str),
    phase: &Phase<'_>,
) -> Result<Option<ProcessOutcome>> {
    let tx = store.write()?;
    if !cdrs::still_processing(&tx, id)? {
        return Ok(None);
    }
    let now = clock.stamp();
    let outcome = match cdrs::parse_format(&c.format) {
        Err(e) => Err(e.to_string()),
        Ok(format) => {
            let path = cdrs::stored_path(dir, sha);
            match std::fs::File::open(&path) {
                Err(e) => Err(format!("stored copy {}: {e}", path.display())),
                Ok(input) => {
                    let rater = cdrs::load_rater(&tx, peak(settings))?;
                    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
                    phase.progress.start_bytes(phase.what, size);
                    let first = rewound(&input)?;
                    let again = || rewound(&input);
                    rate_and_store(
                        &tx,
                        actor,
                        id,
                        format,
                        first,
                        &again,
                        &rater,
                        &now,
                        phase.progress,
                    )?
                    .map_err(|e| e.to_string())
                }
            }
        }
    };
    Ok(Some(match outcome {
        Ok(processed) => {
            tx.commit()?;
            ProcessOutcome::Processed { name, processed }
        }
        Err(why) => {
            drop(tx); // roll back this file's lines
            let tx = store.write()?;
            cdrs::fail_file(&tx, actor, id, &why, &now)?;
            tx.commit()?;
            ProcessOutcome::Failed(FailedFile { id, name, why })
        }
    }))
}

// ---------------------------------------------------------------- ignore, carriers

/// What `cdr ignore` did.
#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    pub id: i64,
    pub name: String,
    pub state: &'static str,
}

/// Ignore a pending or failed file (by id or name): it is not processed
/// and no longer blocks `confirm RUN cdrs`.
pub fn ignore(store: &mut Store, actor: &Actor, file: &str) -> Result<Ignored> {
    let tx = store.write()?;
    let (id, name) = cdrs::ignore_file(&tx, actor, file)?;
    tx.commit()?;
    Ok(Ignored {
        id,
        name,
        state: "ignored",
    })
}

/// `carriers add NAME --format FMT [--inbox DIR]`.
#[derive(Debug, Clone)]
pub struct CarrierOptions<'a> {
    pub actor: &'a Actor,
    pub name: &'a str,
    /// `billrun`, `asterisk` or `mapped:PATH`.
    pub format: &'a str,
    pub inbox: Option<&'a Path>,
    /// A remote source (docs/file-formats.md#remote-sources).
    pub source: Option<super::cdr_sources::SourceOptions<'a>>,
}

/// What `carriers add` stored.
#[derive(Debug, Clone, Serialize)]
pub struct CarrierAdded {
    pub name: String,
    pub format: String,
    pub inbox: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Add a CDR source. The format is checked now (a mapped column map is
/// read and validated) and paths are kept absolute, so fetch works from
/// anywhere.
pub fn add_carrier(store: &mut Store, o: &CarrierOptions<'_>) -> Result<CarrierAdded> {
    let format = match o.format.strip_prefix("mapped:") {
        Some(p) => {
            let abs = std::fs::canonicalize(p)
                .map_err(|e| bad_input(format!("{p}: cannot read the column map: {e}")))?;
            format!("mapped:{}", abs.display())
        }
        None => o.format.to_string(),
    };
    cdrs::parse_format(&format)?;
    let inbox = match o.inbox {
        Some(d) => {
            if !d.is_dir() {
                return Err(bad_input(format!(
                    "inbox {}: not a directory (create it first)",
                    d.display()
                )));
            }
            let abs = std::fs::canonicalize(d).map_err(|e| external(e.to_string()))?;
            Some(abs.display().to_string())
        }
        None => None,
    };
    let source = match &o.source {
        Some(so) => {
            if inbox.is_some() {
                return Err(bad_input(
                    "a carrier has either --inbox or --source, not both",
                ));
            }
            Some(super::cdr_sources::checked_source(o.name, so)?)
        }
        None => None,
    };
    let tx = store.write()?;
    cdrs::add_carrier(&tx, o.actor, o.name, &format, inbox.as_deref())?;
    if let Some(s) = &source {
        crate::store::sources::set_source(&tx, o.actor, s)?;
    }
    tx.commit()?;
    Ok(CarrierAdded {
        name: o.name.to_string(),
        format,
        inbox,
        source: source.map(|s| s.url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cdrs::{Identity, dedupe_key, start_secs};
    use crate::domain::rating::{CallType, ErrorKind};
    use crate::ops::{FixedClock, NoProgress};
    use chrono::{NaiveDate, NaiveDateTime};
    use rusqlite::params;
    use std::collections::BTreeMap;

    const NOW: &str = "2026-12-01T12:00:00Z";

    fn clock() -> FixedClock {
        FixedClock::on(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
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
        let r = cdrs::load_rater(&s.conn, PeakWindow::default()).unwrap();
        (s, r)
    }

    const HEAD: &str =
        "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n";

    fn import(s: &mut Store, r: &Rater, sha: &str, body: &str) -> Processed {
        let a = Actor::test();
        let tx = s.write().unwrap();
        let id = cdrs::register_file(&tx, &a, "c", "f.csv", sha, NOW).unwrap();
        let p = rate_and_store(
            &tx,
            &a,
            id,
            CdrFormat::Billrun,
            body.as_bytes(),
            &|| Ok(body.as_bytes()),
            r,
            NOW,
            &NoProgress,
        )
        .unwrap()
        .unwrap();
        tx.commit().unwrap();
        p
    }

    /// Keys are settled sorted, once the whole file is in: the first *line*
    /// of a call still owns it whatever the order of the file's times, a
    /// rated duplicate's error carries its own raw line (read again from
    /// the file), and a failed one's error becomes the duplicate.
    #[test]
    fn an_unsorted_file_keeps_line_order_for_duplicates() {
        let (mut s, r) = setup();
        let body = format!(
            "{HEAD}441,2026-11-02T10:05:00,10,4420,voice,,0.01,A\n\
             441,2026-11-02T10:00:00,20,4420,voice,,0.01,B\n\
             999,2026-11-02T09:00:00,30,4420,voice,,0.01,C\n\
             441,2026-11-02T10:00:00,20,4420,voice,,0.01,B-again\n\
             441,2026-11-02T10:05:00,10,4420,voice,,0.01,A-again\n\
             999,2026-11-02T09:00:00,30,4420,voice,,0.01,C-again\n"
        );
        let p = import(&mut s, &r, "a", &body);
        assert_eq!(p.lines, 6);
        assert_eq!(p.rated, 2, "{p:?}");
        assert_eq!(p.errors.get("duplicate"), Some(&3), "{p:?}");
        assert_eq!(p.errors.get("unknown_service"), Some(&1), "{p:?}");
        let one: i64 = s
            .conn
            .query_row(
                "SELECT charge_minor FROM cdrs WHERE line = 2 AND state = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let two: i64 = s
            .conn
            .query_row(
                "SELECT charge_minor FROM cdrs WHERE line = 3 AND state = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(p.charge_minor, one + two);
        errors_match_their_cdrs(&s);
        let rows: Vec<(String, i64, String, String)> = s
            .conn
            .prepare("SELECT kind, line, detail, raw FROM billing_errors ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let brief: Vec<(&str, i64, &str)> = rows
            .iter()
            .map(|(k, l, d, _)| (k.as_str(), *l, d.as_str()))
            .collect();
        assert_eq!(
            brief,
            vec![
                ("unknown_service", 4, rows[0].2.as_str()),
                ("duplicate", 5, "same CDR as line 3 of this file"),
                ("duplicate", 6, "same CDR as line 2 of this file"),
                ("duplicate", 7, "same CDR as line 4 of this file"),
            ]
        );
        assert!(rows[1].3.ends_with(",B-again"), "{:?}", rows[1]);
        assert!(rows[2].3.ends_with(",A-again"), "{:?}", rows[2]);
        assert!(rows[3].3.ends_with(",C-again"), "{:?}", rows[3]);
        // The copies carry no rating and no key; the owners' keys are stored.
        let copies: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM cdrs WHERE line IN (5, 6, 7) AND state = 0
                    AND rate_id IS NULL AND charge_minor IS NULL
                    AND id NOT IN (SELECT cdr_id FROM cdr_keys)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(copies, 3);
        let owners: Vec<i64> = s
            .conn
            .prepare("SELECT c.line FROM cdr_keys k JOIN cdrs c ON c.id = k.cdr_id ORDER BY k.key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            owners,
            vec![4, 3, 2],
            "keys in time order, owned by first lines"
        );
        // The same lines again, shuffled, in another file: all duplicates of file 1.
        let again = format!(
            "{HEAD}999,2026-11-02T09:00:00,30,4420,voice,,0.01,x\n\
             441,2026-11-02T10:05:00,10,4420,voice,,0.01,y\n\
             441,2026-11-02T10:00:00,20,4420,voice,,0.01,z\n"
        );
        let p = import(&mut s, &r, "b", &again);
        assert_eq!((p.rated, p.charge_minor), (0, 0), "{p:?}");
        assert_eq!(p.errors.get("duplicate"), Some(&3), "{p:?}");
        assert_eq!(p.errors.len(), 1, "{p:?}");
        let details: Vec<String> = s
            .conn
            .prepare("SELECT detail FROM billing_errors WHERE file_id = 2 ORDER BY line")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            details,
            vec![
                "same CDR as CDR file 1 line 4",
                "same CDR as CDR file 1 line 2",
                "same CDR as CDR file 1 line 3"
            ]
        );
        errors_match_their_cdrs(&s);
    }

    /// Against a plain model of the rules: a file of 6,000 lines in no
    /// time order (its keys sorted in runs on disk, see `cdrs::KEYS_HELD`), a tenth of them
    /// repeating an earlier line (near or far: in an earlier part too) and
    /// some of an unknown service; then a second file repeating some of it.
    /// Every line ends as the model says: rated, its rating error, or the
    /// duplicate of the first line of the same call.
    #[test]
    fn duplicates_match_the_model_across_parts_of_a_big_unsorted_file() {
        let (mut s, r) = setup();
        let mut seed = 42u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut lines: Vec<String> = Vec::new();
        for i in 0..6000u64 {
            let line = if i > 0 && next(10) == 0 {
                lines[next(i) as usize].clone()
            } else {
                let service = if next(15) == 0 { "999" } else { "441" };
                format!(
                    "{service},2026-11-{:02}T{:02}:{:02}:{:02},{},4420,voice,,0.01,r{i}",
                    1 + next(28),
                    next(24),
                    next(60),
                    next(60),
                    1 + next(600)
                )
            };
            lines.push(line);
        }
        // The model: the identity is the line without its record id.
        let ident = |l: &str| l.rsplit_once(',').unwrap().0.to_string();
        let mut first: HashMap<String, i64> = HashMap::new();
        let mut expect: Vec<(i64, String)> = Vec::new(); // (line, outcome)
        for (i, l) in lines.iter().enumerate() {
            let n = i as i64 + 2;
            let outcome = match first.get(&ident(l)) {
                Some(f) => format!("duplicate:same CDR as line {f} of this file"),
                None => {
                    first.insert(ident(l), n);
                    if l.starts_with("999") {
                        "unknown_service".to_string()
                    } else {
                        "rated".to_string()
                    }
                }
            };
            expect.push((n, outcome));
        }
        let body = format!("{HEAD}{}\n", lines.join("\n"));
        let p = import(&mut s, &r, "a", &body);
        let outcomes = |s: &Store, file: i64| -> Vec<(i64, String)> {
            s.conn
                .prepare(
                    "SELECT c.line, CASE WHEN c.state = 1 THEN 'rated'
                        WHEN e.kind = 'duplicate' THEN 'duplicate:' || e.detail ELSE e.kind END
                     FROM cdrs c LEFT JOIN billing_errors e ON e.cdr_id = c.id
                     WHERE c.file_id = ?1 ORDER BY c.line",
                )
                .unwrap()
                .query_map([file], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(outcomes(&s, 1), expect);
        let rated = expect.iter().filter(|e| e.1 == "rated").count() as u64;
        let dups = expect.iter().filter(|e| e.1.starts_with("dup")).count() as u64;
        assert!(dups > 400, "{dups}");
        assert_eq!(p.rated, rated);
        assert_eq!(p.errors.get("duplicate"), Some(&dups));
        let charge: i64 = s
            .conn
            .query_row(
                "SELECT sum(charge_minor) FROM cdrs WHERE file_id = 1 AND state = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(p.charge_minor, charge);
        // Every rated or failed CDR owns its first key; copies hold none.
        let mut st = s
            .conn
            .prepare(
                "SELECT k.key, c.service, c.start, c.destination, c.units, c.state
                 FROM cdr_keys k JOIN cdrs c ON c.id = k.cdr_id WHERE c.file_id = 1",
            )
            .unwrap();
        let owned: Vec<(i64, String, i64, String, i64, i64)> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(owned.len() as u64, 6000 - dups);
        for (key, service, secs, destination, units, _) in &owned {
            let when = crate::domain::cdrs::from_start_secs(*secs).unwrap();
            let start = when.format("%Y-%m-%dT%H:%M:%S").to_string();
            let id = Identity {
                service,
                start: &start,
                destination,
                call_type: CallType::Voice,
                units: *units as u64,
            };
            assert_eq!(*key, dedupe_key(&id, when, 0));
        }
        drop(st);
        errors_match_their_cdrs(&s);
        // A second file: every 7th line of the first, reversed, plus a new call.
        let mut again: Vec<&String> = lines.iter().step_by(7).collect();
        again.reverse();
        let fresh = "441,2026-11-30T23:00:00,5,4420,voice,,0.01,new".to_string();
        again.push(&fresh);
        let body2 = format!(
            "{HEAD}{}\n",
            again
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
        let p2 = import(&mut s, &r, "b", &body2);
        assert_eq!(p2.rated, 1, "{p2:?}");
        let got = outcomes(&s, 2);
        for (n, l) in again.iter().enumerate() {
            let want = if l.as_str() == fresh.as_str() {
                "rated".to_string()
            } else {
                format!("duplicate:same CDR as CDR file 1 line {}", first[&ident(l)])
            };
            assert_eq!(got[n], (n as i64 + 2, want));
        }
        errors_match_their_cdrs(&s);
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
        let errs = cdrs::list_errors(&s.conn, Some(ErrorKind::Duplicate), None, false).unwrap();
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
        let settings = crate::store::settings::load(&s.conn).unwrap();
        let out =
            crate::ops::errors::rerate(&mut s, &Actor::test(), &settings, &clock(), &NoProgress)
                .unwrap()
                .cdrs;
        assert_eq!((out.checked, out.resolved, out.still_open), (2, 1, 1));
        let open = cdrs::open_error_counts(&s.conn).unwrap();
        assert_eq!(
            open,
            vec![
                ("malformed".to_string(), 1),
                ("duplicate".into(), 2),
                ("no_rate".into(), 1)
            ]
        );
        // A file of the same bytes is refused before anything is stored.
        let e =
            cdrs::register_file(&s.conn, &Actor::test(), "c", "again.csv", "a", NOW).unwrap_err();
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
        let dup = cdrs::list_errors(&s.conn, Some(ErrorKind::Duplicate), None, false).unwrap();
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
        // Errors of each kind are written in file and line order (a file's
        // duplicates after its other errors: they are settled once the whole
        // file is in).
        let rows: Vec<(String, i64, i64)> = s
            .conn
            .prepare("SELECT kind, file_id, line FROM billing_errors ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows.len(),
            (expect_dups + expect_unknown + 1 + 99 + 1) as usize
        );
        for kind in ["duplicate", "unknown_service", "malformed"] {
            let lines: Vec<(i64, i64)> = rows
                .iter()
                .filter(|r| r.0 == kind)
                .map(|r| (r.1, r.2))
                .collect();
            let mut sorted = lines.clone();
            sorted.sort();
            assert_eq!(lines, sorted, "{kind} errors are in file and line order");
        }
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
        s.conn
            .execute(
                "INSERT INTO cdr_keys (key, cdr_id) VALUES (?1, last_insert_rowid())",
                [key],
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
                "SELECT k.key FROM cdr_keys k JOIN cdrs c ON c.id = k.cdr_id
                 WHERE c.destination = '4420'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(k, dedupe_key(&ident, t, 1));
    }

    // ---- the ops, end to end on an in-memory store and a file store in a
    // temporary directory

    struct Env {
        store: Store,
        dir: tempfile::TempDir,
        db: PathBuf,
        settings: Settings,
        actor: Actor,
    }

    fn env() -> Env {
        let (store, _) = setup();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("billrun.db");
        let settings = crate::store::settings::load(&store.conn).unwrap();
        Env {
            store,
            dir,
            db,
            settings,
            actor: Actor::test(),
        }
    }

    impl Env {
        fn write(&self, name: &str, body: &str) -> PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            p
        }

        fn import(&mut self, file: &Path, carrier: &str, no_process: bool) -> Result<Imported> {
            let o = ImportOptions {
                actor: &self.actor,
                db: &self.db,
                file,
                carrier,
                no_process,
            };
            super::import(&mut self.store, &o, &self.settings, &clock(), &NoProgress)
        }

        fn count(&self, sql: &str) -> i64 {
            self.store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
        }

        /// The names in the file store.
        fn stored(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(cdrs::files_dir(&self.db))
                .map(|d| {
                    d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        }
    }

    fn processed(r: Imported) -> Processed {
        match r {
            Imported::Processed { processed, .. } => processed,
            other => panic!("{other:?}"),
        }
    }

    const SMALL: &str = "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n\
        441,2026-11-02T10:00:00,10,4420,voice,,0.01,\n\
        999,2026-11-02T10:00:00,10,4420,voice,,0.02,\n\
        441,bad,10,4420,voice,,0.01,\n";

    /// A phase an op reported: what, in bytes, total, sum of `inc`, calls of `inc`.
    type Reported = (String, bool, u64, u64, usize);

    /// The phases an op reported.
    #[derive(Default)]
    struct Recorded(std::cell::RefCell<Vec<Reported>>);

    impl Progress for Recorded {
        fn start(&self, what: &str, total: Option<u64>) {
            let t = total.unwrap_or(0);
            self.0.borrow_mut().push((what.into(), false, t, 0, 0));
        }
        fn start_bytes(&self, what: &str, total: u64) {
            self.0.borrow_mut().push((what.into(), true, total, 0, 0));
        }
        fn inc(&self, n: u64) {
            let mut v = self.0.borrow_mut();
            let p = v.last_mut().expect("inc inside a phase");
            (p.3, p.4) = (p.3 + n, p.4 + 1);
        }
    }

    #[test]
    fn import_and_process_show_progress_in_bytes_once_per_batch() {
        let mut e = env();
        // 5,000 lines: three batches of at most 2,048.
        let mut body = HEAD.to_string();
        for i in 0..5000 {
            body.push_str(&format!(
                "441,2026-11-02T{:02}:{:02}:{:02},{},4420,voice,,0.01,\n",
                i / 3600,
                i / 60 % 60,
                i % 60,
                i % 50 + 1
            ));
        }
        let size = body.len() as u64;
        let f = e.write("big.csv", &body);
        let rec = Recorded::default();
        let o = ImportOptions {
            actor: &e.actor,
            db: &e.db,
            file: &f,
            carrier: "c",
            no_process: false,
        };
        let p = processed(super::import(&mut e.store, &o, &e.settings, &clock(), &rec).unwrap());
        assert_eq!(p.rated, 5000);
        let phases = rec.0.take();
        assert_eq!(phases.len(), 2, "{phases:?}");
        assert_eq!(phases[0].0, "storing big.csv");
        assert_eq!((phases[0].1, phases[0].2, phases[0].3), (true, size, size));
        assert_eq!(phases[1].0, "rating big.csv");
        assert_eq!((phases[1].1, phases[1].2, phases[1].3), (true, size, size));
        assert!(
            (1..=3).contains(&phases[1].4),
            "once per stored batch, not per line: {phases:?}"
        );
        // `cdr process`: one phase per pending file, in bytes too.
        let g = e.write("later.csv", SMALL);
        e.import(&g, "c", true).unwrap();
        let r = process(&mut e.store, &e.actor, &e.db, &e.settings, &clock(), &rec).unwrap();
        assert_eq!(r.files.len(), 1);
        let phases = rec.0.take();
        let n = SMALL.len() as u64;
        assert_eq!(
            phases,
            vec![("rating later.csv (file 1 of 1)".to_string(), true, n, n, 1)]
        );
    }

    #[test]
    fn import_stores_rates_and_refuses_the_same_bytes_again() {
        let mut e = env();
        let f = e.write("a.csv", SMALL);
        let p = processed(e.import(&f, "c", false).unwrap());
        assert_eq!((p.file_id, p.lines, p.rated, p.charge_minor), (1, 3, 1, 10));
        assert_eq!(
            p.errors,
            BTreeMap::from([("malformed".to_string(), 1), ("unknown_service".into(), 1)])
        );
        assert_eq!(p.error_count(), 2);
        assert_eq!(
            e.count("SELECT count(*) FROM billing_errors WHERE state = 'open'"),
            2
        );
        // Stored once, by SHA-256, with no temporary copy left; times from
        // the injected clock.
        let stored = e.stored();
        assert_eq!(stored.len(), 1, "{stored:?}");
        let sha: String = e
            .store
            .conn
            .query_row("SELECT sha256 FROM cdr_files WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored[0], sha);
        assert_eq!(
            std::fs::read_to_string(cdrs::files_dir(&e.db).join(&sha)).unwrap(),
            SMALL
        );
        let at: (String, String, String) = e
            .store
            .conn
            .query_row(
                "SELECT imported_at, processed_at, state FROM cdr_files",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            at,
            (NOW.to_string(), NOW.to_string(), "processed".to_string())
        );
        // The same bytes under another name: refused, nothing changed.
        let again = e.write("again.csv", SMALL);
        let err = e.import(&again, "c", false).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.to_string()
                .contains("already imported as CDR file 1 (a.csv"),
            "{err}"
        );
        assert_eq!(e.count("SELECT count(*) FROM cdr_files"), 1);
        assert_eq!(e.count("SELECT count(*) FROM cdrs"), 2);
        assert_eq!(e.stored(), stored);
        // A different file with the same CDR: a duplicate, counted.
        let dup = e.write(
            "dup.csv",
            "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n\
             441,2026-11-02T10:00:00,10,4420,voice,,0.01,x\n",
        );
        let p = processed(e.import(&dup, "c", false).unwrap());
        assert_eq!((p.rated, p.charge_minor), (0, 0));
        assert_eq!(p.errors, BTreeMap::from([("duplicate".to_string(), 1)]));
    }

    #[test]
    fn a_mapped_fixture_imports_with_its_errors_counted() {
        let mut e = env();
        let map = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/carrier-map.toml");
        let format = format!("mapped:{}", map.display());
        let added = add_carrier(
            &mut e.store,
            &CarrierOptions {
                actor: &e.actor,
                name: "acme",
                format: &format,
                inbox: None,
                source: None,
            },
        )
        .unwrap();
        assert_eq!(
            added.format,
            format!("mapped:{}", map.canonicalize().unwrap().display())
        );
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cdrs/mapped-sample.csv");
        let p = processed(e.import(&f, "acme", false).unwrap());
        // None of the sample's services exists in this store.
        assert_eq!((p.lines, p.rated), (4, 0));
        assert_eq!(
            p.errors,
            BTreeMap::from([("unknown_service".to_string(), 4)])
        );
        let json = serde_json::to_value(processed_again(&p)).unwrap();
        assert_eq!(json["errors"]["unknown_service"], 4);
        assert_eq!(json["lines"], 4);
    }

    fn processed_again(p: &Processed) -> Imported {
        Imported::Processed {
            file: "x".into(),
            processed: p.clone(),
        }
    }

    #[test]
    fn a_file_that_cannot_be_read_is_not_imported_and_fails_in_process() {
        let mut e = env();
        let bad = e.write("bad.csv", "no,header,here\n1,2,3\n");
        let err = e.import(&bad, "c", false).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.to_string().contains("the file was not imported"),
            "{err}"
        );
        assert_eq!(e.count("SELECT count(*) FROM cdr_files"), 0);
        assert!(e.stored().is_empty(), "{:?}", e.stored());
        // Stored only, then processed: the file fails, the others go on.
        let Imported::Pending { id, .. } = e.import(&bad, "c", true).unwrap() else {
            panic!()
        };
        let good = e.write("good.csv", SMALL);
        assert!(matches!(
            e.import(&good, "c", true).unwrap(),
            Imported::Pending { id: 2, .. }
        ));
        let r = process(
            &mut e.store,
            &e.actor,
            &e.db,
            &e.settings,
            &clock(),
            &NoProgress,
        )
        .unwrap();
        assert!(r.stopped.is_none());
        assert_eq!(r.files.len(), 2);
        let failed: Vec<&FailedFile> = r.failed().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!((failed[0].id, failed[0].name.as_str()), (id, "bad.csv"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["processed"][0]["rated"], 1);
        assert!(
            json["failed"][0]
                .as_str()
                .unwrap()
                .starts_with("1 (bad.csv): ")
        );
        assert_eq!(
            e.count("SELECT count(*) FROM cdr_files WHERE state = 'failed'"),
            1
        );
        // Nothing pending is left.
        let r = process(
            &mut e.store,
            &e.actor,
            &e.db,
            &e.settings,
            &clock(),
            &NoProgress,
        )
        .unwrap();
        assert!(r.files.is_empty());
        // A failed file can be ignored; a processed one cannot.
        assert_eq!(ignore(&mut e.store, &e.actor, "bad.csv").unwrap().id, 1);
        assert_eq!(
            ignore(&mut e.store, &e.actor, "2").unwrap_err().exit_code(),
            3
        );
    }

    #[test]
    fn fetch_takes_settled_inbox_files_and_rejects_seen_ones() {
        let mut e = env();
        let inbox = e.dir.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        add_carrier(
            &mut e.store,
            &CarrierOptions {
                actor: &e.actor,
                name: "n",
                format: "billrun",
                inbox: Some(&inbox),
                source: None,
            },
        )
        .unwrap();
        std::fs::write(inbox.join("a.csv"), SMALL).unwrap();
        std::fs::write(inbox.join(".hidden"), "x").unwrap();
        let o = FetchOptions {
            actor: &e.actor,
            db: &e.db,
            settle: Duration::ZERO,
        };
        let rec = Recorded::default();
        let r = fetch(&mut e.store, &o, &clock(), &rec).unwrap();
        assert!(r.stopped.is_none());
        // Progress in bytes of the files copied into the store.
        let n = SMALL.len() as u64;
        assert_eq!(
            rec.0.take(),
            vec![("fetching CDR files".to_string(), true, n, n, 1)]
        );
        let got: Vec<_> = r.fetched().map(|f| (f.id, f.name.clone())).collect();
        assert_eq!(got, vec![(1, "a.csv".to_string())]);
        assert!(!inbox.join("a.csv").exists());
        assert_eq!(
            e.count("SELECT count(*) FROM cdr_files WHERE state = 'pending'"),
            1
        );
        // The same bytes again: moved to rejected/.
        std::fs::write(inbox.join("b.csv"), SMALL).unwrap();
        let r = fetch(&mut e.store, &o, &clock(), &NoProgress).unwrap();
        assert_eq!(r.fetched().count(), 0);
        assert!(inbox.join("rejected/b.csv").exists());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"fetched": [], "still_writing": [], "not_regular": [],
                "rejected": [inbox.join("b.csv").display().to_string()]})
        );
    }

    #[test]
    fn fetch_never_follows_a_symbolic_link_out_of_the_inbox() {
        let mut e = env();
        let inbox = e.dir.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        add_carrier(
            &mut e.store,
            &CarrierOptions {
                actor: &e.actor,
                name: "n",
                format: "billrun",
                inbox: Some(&inbox),
                source: None,
            },
        )
        .unwrap();
        let outside = e.dir.path().join("outside.csv");
        std::fs::write(&outside, SMALL).unwrap();
        std::os::unix::fs::symlink(&outside, inbox.join("link.csv")).unwrap();
        let o = FetchOptions {
            actor: &e.actor,
            db: &e.db,
            settle: Duration::ZERO,
        };
        let r = fetch(&mut e.store, &o, &clock(), &NoProgress).unwrap();
        assert_eq!(r.fetched().count(), 0);
        assert_eq!(
            r.not_regular,
            vec![inbox.join("link.csv").display().to_string()]
        );
        assert!(outside.exists(), "the target is untouched");
        assert!(
            inbox.join("link.csv").is_symlink(),
            "the link is left in place"
        );
        assert_eq!(e.count("SELECT count(*) FROM cdr_files"), 0);
    }
}
