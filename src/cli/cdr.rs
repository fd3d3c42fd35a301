//! `billrun cdr import|fetch|list|ignore|process` (SPEC §4).

use super::output::{self, Ctx};
use crate::domain::money;
use crate::error::{bad_input, external};
use crate::store::cdrs::{self, Processed};
use crate::store::{Store, audit::Actor};
use crate::whole_file;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Import a CDR file from a carrier: stored once (by SHA-256), then rated.
    Import {
        file: PathBuf,
        /// The carrier (see `billrun carriers list`).
        #[arg(long)]
        carrier: String,
        /// Only store the file (state pending); rate it later with `cdr process`.
        #[arg(long)]
        no_process: bool,
    },
    /// Move new files from every carrier's inbox into the store (pending).
    Fetch,
    /// CDR files with their state and line counts.
    List,
    /// Ignore a pending or failed file (by id or name).
    Ignore { file: String },
    /// Rate every pending file.
    Process,
}

pub fn exec(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    cmd: Cmd,
) -> anyhow::Result<()> {
    match cmd {
        Cmd::Import {
            file,
            carrier,
            no_process,
        } => import(ctx, store, actor, db, &file, &carrier, no_process),
        Cmd::Fetch => fetch(ctx, store, actor, db),
        Cmd::List => list(ctx, store),
        Cmd::Ignore { file } => {
            let tx = store.write()?;
            let (id, name) = cdrs::ignore_file(&tx, actor, &file)?;
            tx.commit()?;
            ctx.say(&format!("CDR file {id} ({name}) ignored"));
            if ctx.json {
                output::print_json(
                    &serde_json::json!({"id": id, "name": name, "state": "ignored"}),
                )?;
            }
            Ok(())
        }
        Cmd::Process => process(ctx, store, actor, db),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A file copied into the store under a temporary name
/// (`.incoming.XXXXXX.tmp`, from `whole_file::beside`: unique, mode 0600,
/// removed when dropped), and the SHA-256 of the copy: the bytes stored are
/// exactly the bytes hashed, even if the source changes meanwhile.
struct Stashed {
    tmp: tempfile::NamedTempFile,
    sha: String,
}

/// How long a temporary copy in the file store stays before a later
/// import removes it as left by a killed command.
const LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

fn stash(from: &Path, dir: &Path) -> anyhow::Result<Stashed> {
    cdrs::ensure_dir(dir)?;
    // A copy lives as long as one command; one untouched for a day was left
    // by a command that was killed. Best effort: the import goes on anyway.
    let _ = whole_file::remove_leftovers(dir, |n| n == "incoming", Some(LEFTOVER_AGE));
    let mut tmp = whole_file::beside(&dir.join("incoming"))
        .map_err(|e| external(format!("cannot create a file in {}: {e}", dir.display())))?;
    let at = tmp.path().to_path_buf();
    let sha = cdrs::copy_hashing(from, tmp.as_file_mut(), &at)?;
    Ok(Stashed { tmp, sha })
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
    fn wait(&mut self) -> anyhow::Result<()> {
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
            })?;
        Ok(())
    }
}

impl Stashed {
    /// The copy opened for reading (before [`Self::keep`] renames it).
    fn reader(&self) -> anyhow::Result<std::fs::File> {
        self.tmp.reopen().map_err(|e| {
            external(format!("{}: cannot read: {e}", self.tmp.path().display())).into()
        })
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

    /// Drop the copy (its temporary file is removed).
    fn discard(self) {
        drop(self.tmp);
    }
}

fn summary(p: &Processed) -> String {
    let mut s = format!(
        "{} lines: {} rated ({})",
        p.lines,
        p.rated,
        money::fmt_minor(p.charge_minor)
    );
    if p.error_count() > 0 {
        let kinds: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        s.push_str(&format!(
            ", {} errors ({})",
            p.error_count(),
            kinds.join(", ")
        ));
    }
    if p.not_billable > 0 {
        s.push_str(&format!(", {} not billable", p.not_billable));
    }
    s
}

fn import(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    file: &Path,
    carrier: &str,
    no_process: bool,
) -> anyhow::Result<()> {
    let label = output::file_label(file);
    let c = cdrs::carrier_required(&store.conn, carrier)?;
    let format = cdrs::parse_format(&c.format)?;
    let dir = cdrs::files_dir(db);
    let stashed = stash(file, &dir)?;
    let sha = stashed.sha.clone();
    if let Some((id, n, at)) = cdrs::file_by_sha(&store.conn, &sha)? {
        stashed.discard();
        return Err(cdrs::already_imported(&label, id, &n, &at).into());
    }
    let input = match stashed.reader() {
        Ok(f) => f,
        Err(e) => {
            stashed.discard();
            return Err(e);
        }
    };
    cdrs::tune_for_import(&store.conn)?;
    let tx = store.write()?;
    // Checked again under the write lock (another import may have stored
    // the same bytes meanwhile).
    let id = match cdrs::register_file(&tx, actor, carrier, &file_name(file), &sha) {
        Ok(id) => id,
        Err(e) => {
            stashed.discard();
            return Err(e.into());
        }
    };
    let mut kept = stashed.keep(&dir);
    let result = (|| -> anyhow::Result<Option<Processed>> {
        if no_process {
            return Ok(None);
        }
        let rater = cdrs::load_rater(&tx)?;
        match cdrs::process_file(&tx, actor, id, format, input, &rater)? {
            Ok(p) => Ok(Some(p)),
            Err(e) => Err(bad_input(format!(
                "{label}: {e}; the file was not imported (nothing was changed)"
            ))
            .into()),
        }
    })();
    let result = result.and_then(|r| kept.wait().map(|()| r));
    let result = match result {
        Ok(r) => tx.commit().map(|()| r).map_err(anyhow::Error::from),
        Err(e) => {
            // Still under the write lock: no other import can have
            // renamed its copy into place since ours.
            if kept.created {
                let _ = kept.wait();
                let _ = std::fs::remove_file(&kept.path);
            }
            drop(tx);
            Err(e)
        }
    };
    if let Ok(None) = result {
        ctx.say(&format!(
            "CDR file {id} ({label}) stored as pending: rate it with billrun cdr process"
        ));
    }
    let Some(p) = result? else {
        if ctx.json {
            output::print_json(&serde_json::json!({"file": label, "state": "pending"}))?;
        }
        return Ok(());
    };
    ctx.say(&format!(
        "CDR file {} ({label}): {}",
        p.file_id,
        summary(&p)
    ));
    if p.error_count() > 0 {
        ctx.say("  see billrun errors (billing errors, most costly first)");
    }
    if ctx.json {
        output::print_json(&p)?;
    }
    Ok(())
}

/// How long `cdr fetch` waits between its two looks at an inbox (a file
/// whose size or modification time changes is still being written).
/// `BILLRUN_FETCH_SETTLE_MS` overrides the default of 1000 ms.
fn settle_interval() -> Duration {
    let ms = std::env::var("BILLRUN_FETCH_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

type Look = (u64, Option<std::time::SystemTime>);

fn look(p: &Path) -> Option<Look> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()))
}

fn fetch(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path) -> anyhow::Result<()> {
    // A fetched file is removed from its inbox right after its commit, so
    // that commit must be on disk first: this command's connection syncs
    // the WAL at each commit (the store's default, NORMAL, leaves that to
    // the next checkpoint).
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    let carriers: Vec<_> = cdrs::list_carriers(&store.conn)?
        .into_iter()
        .filter(|c| c.inbox.is_some())
        .collect();
    // First look: every candidate file and its size.
    let mut seen: Vec<(String, PathBuf, Look)> = Vec::new();
    for c in &carriers {
        let inbox = PathBuf::from(c.inbox.as_deref().unwrap_or_default());
        let rd = std::fs::read_dir(&inbox)
            .map_err(|e| external(format!("inbox {} of {}: {e}", inbox.display(), c.name)))?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.is_file() && !file_name(p).starts_with('.') && !file_name(p).ends_with(".tmp")
            })
            .collect();
        files.sort();
        for p in files {
            if let Some(l) = look(&p) {
                seen.push((c.name.clone(), p, l));
            }
        }
    }
    if !seen.is_empty() {
        std::thread::sleep(settle_interval());
    }
    let dir = cdrs::files_dir(db);
    let mut fetched = Vec::new();
    let mut growing = Vec::new();
    let mut rejected = Vec::new();
    for (carrier, path, first) in seen {
        if look(&path) != Some(first) {
            growing.push(path.display().to_string());
            continue;
        }
        let stashed = stash(&path, &dir)?;
        let sha = stashed.sha.clone();
        let name = file_name(&path);
        if let Some((id, n, at)) = cdrs::file_by_sha(&store.conn, &sha)? {
            stashed.discard();
            if n == name && cdrs::stored_path(&dir, &sha).exists() {
                // An earlier fetch stored it but did not get to remove it.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let rej = path.parent().unwrap_or(Path::new(".")).join("rejected");
            std::fs::create_dir_all(&rej)?;
            std::fs::rename(&path, rej.join(&name))?;
            ctx.warn(&format!(
                "{}: already imported as CDR file {id} ({n}, {at}); moved to {}",
                path.display(),
                rej.display()
            ));
            rejected.push(path.display().to_string());
            continue;
        }
        let tx = store.write()?;
        let id = match cdrs::register_file(&tx, actor, &carrier, &name, &sha) {
            Ok(id) => id,
            Err(e) => {
                stashed.discard();
                return Err(e.into());
            }
        };
        let mut kept = stashed.keep(&dir);
        if let Err(e) = kept.wait() {
            if kept.created {
                let _ = std::fs::remove_file(&kept.path);
            }
            return Err(e);
        }
        tx.commit()?;
        std::fs::remove_file(&path).map_err(|e| {
            external(format!(
                "{}: stored, but cannot remove it from the inbox: {e}",
                path.display()
            ))
        })?;
        ctx.say(&format!(
            "fetched {name} from {carrier}: CDR file {id}, pending"
        ));
        fetched.push(serde_json::json!({"id": id, "carrier": carrier, "name": name}));
    }
    for g in &growing {
        ctx.say(&format!(
            "{g}: still being written; left for the next fetch"
        ));
    }
    ctx.say(&format!(
        "{} files fetched{}",
        fetched.len(),
        if fetched.is_empty() {
            String::new()
        } else {
            ": rate them with billrun cdr process".into()
        }
    ));
    if ctx.json {
        output::print_json(
            &serde_json::json!({"fetched": fetched, "still_writing": growing, "rejected": rejected}),
        )?;
    }
    Ok(())
}

fn process(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path) -> anyhow::Result<()> {
    let dir = cdrs::files_dir(db);
    let pending = cdrs::pending_files(&store.conn)?;
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (id, name, carrier, sha) in pending {
        let c = cdrs::carrier_required(&store.conn, &carrier)?;
        let tx = store.write()?;
        if !cdrs::still_pending(&tx, id)? {
            continue; // another `cdr process` took it meanwhile
        }
        let outcome = match cdrs::parse_format(&c.format) {
            Err(e) => Err(e.to_string()),
            Ok(format) => {
                let path = cdrs::stored_path(&dir, &sha);
                match std::fs::File::open(&path) {
                    Err(e) => Err(format!("stored copy {}: {e}", path.display())),
                    Ok(input) => {
                        let rater = cdrs::load_rater(&tx)?;
                        cdrs::process_file(&tx, actor, id, format, input, &rater)?
                            .map_err(|e| e.to_string())
                    }
                }
            }
        };
        match outcome {
            Ok(p) => {
                tx.commit()?;
                ctx.say(&format!("CDR file {id} ({name}): {}", summary(&p)));
                done.push(p);
            }
            Err(why) => {
                drop(tx); // roll back this file's lines
                let tx = store.write()?;
                cdrs::fail_file(&tx, actor, id, &why)?;
                tx.commit()?;
                ctx.warn(&format!("CDR file {id} ({name}) failed: {why}"));
                failed.push(format!("{id} ({name}): {why}"));
            }
        }
    }
    if done.is_empty() && failed.is_empty() {
        ctx.say("no pending CDR files");
    }
    if ctx.json {
        output::print_json(&serde_json::json!({"processed": done, "failed": failed}))?;
    }
    if !failed.is_empty() {
        return Err(bad_input(format!(
            "{} CDR files failed: {} — fix the carrier's format, or ignore them (billrun cdr ignore FILE)",
            failed.len(),
            failed.join("; ")
        ))
        .into());
    }
    Ok(())
}

fn list(ctx: &Ctx, store: &Store) -> anyhow::Result<()> {
    let rows = cdrs::list_files(&store.conn)?;
    if ctx.json {
        return output::print_json(&rows);
    }
    let mut t = ctx.table(&[
        "id", "carrier", "name", "state", "lines", "rated", "errors", "waiting", "billed",
        "imported",
    ]);
    for r in &rows {
        let state = match r.state.as_str() {
            "pending" | "processing" => ctx.yellow(&r.state),
            "failed" => ctx.red(&r.state),
            _ => r.state.clone(),
        };
        t.add_row(vec![
            r.id.to_string(),
            r.carrier.clone(),
            r.name.clone(),
            state,
            r.lines.to_string(),
            r.rated.to_string(),
            r.errors.to_string(),
            r.waiting.to_string(),
            r.billed.to_string(),
            r.imported_at.clone(),
        ]);
    }
    output::print_table(ctx, &t)?;
    for r in rows.iter().filter(|r| r.failure.is_some()) {
        ctx.warn(&format!(
            "file {} ({}): {}",
            r.id,
            r.name,
            r.failure.as_deref().unwrap_or_default()
        ));
    }
    Ok(())
}
