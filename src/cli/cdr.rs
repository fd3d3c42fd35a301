//! `billrun cdr import|fetch|list|ignore|process` (docs/file-formats.md#cdr-files).

use super::output::{self, Ctx};
use super::progress::Bar;
use super::stream;
use crate::domain::cdrs::Processed;
use crate::domain::money;
use crate::error::bad_input;
use crate::ops::SystemClock;
use crate::ops::cdr_import::{self as op, Fetch, Imported, ProcessOutcome};
use crate::store::{Store, audit::Actor, cdrs, settings};
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
            let r = op::ignore(store, actor, &file)?;
            ctx.say(&format!("CDR file {} ({}) ignored", r.id, r.name));
            if ctx.json {
                output::print_json(&r)?;
            }
            Ok(())
        }
        Cmd::Process => process(ctx, store, actor, db),
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
    let settings = settings::load(&store.conn)?;
    let opts = op::ImportOptions {
        actor,
        db,
        file,
        carrier,
        no_process,
    };
    let r = op::import(store, &opts, &settings, &SystemClock, &Bar::new(ctx))?;
    match &r {
        Imported::Pending { id, file, .. } => ctx.say(&format!(
            "CDR file {id} ({file}) stored as pending: rate it with billrun cdr process"
        )),
        Imported::Processed { file, processed: p } => {
            ctx.say(&format!("CDR file {} ({file}): {}", p.file_id, summary(p)));
            if p.error_count() > 0 {
                ctx.say("  see billrun errors (billing errors, most costly first)");
            }
        }
    }
    if ctx.json {
        output::print_json(&r)?;
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

fn fetch(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path) -> anyhow::Result<()> {
    let opts = op::FetchOptions {
        actor,
        db,
        settle: settle_interval(),
    };
    let mut r = op::fetch(store, &opts, &SystemClock, &Bar::new(ctx))?;
    // Remote sources (SFTP, FTP, FTPS): each carrier on its own; one that
    // fails is reported (exit 5 naming it) after the others are fetched.
    let remote =
        crate::ops::cdr_sources::fetch_remote(store, actor, db, &SystemClock, &Bar::new(ctx))?;
    for f in &r.files {
        match f {
            Fetch::Fetched(f) => ctx.say(&format!(
                "fetched {} from {}: CDR file {}, pending",
                f.name, f.carrier, f.id
            )),
            Fetch::AlreadyStored => {}
            Fetch::Rejected {
                path,
                id,
                name,
                at,
                moved_to,
            } => ctx.warn(&format!(
                "{}: already imported as CDR file {id} ({name}, {at}); moved to {}",
                path.display(),
                moved_to.display()
            )),
        }
    }
    super::cdr_remote::say(ctx, &remote);
    if let Some(e) = r.stopped.take() {
        return Err(e.into());
    }
    for g in &r.not_regular {
        ctx.warn(&format!(
            "{g}: not a regular file (a symbolic link, FIFO or device): not fetched and left in place; put the file itself in the inbox"
        ));
    }
    for g in &r.still_writing {
        ctx.say(&format!(
            "{g}: still being written; left for the next fetch"
        ));
    }
    let n = r.fetched().count() + super::cdr_remote::stored(&remote);
    ctx.say(&format!(
        "{n} files fetched{}",
        if n == 0 {
            ""
        } else {
            ": rate them with billrun cdr process"
        }
    ));
    if ctx.json {
        output::print_json(&super::cdr_remote::Both {
            inbox: &r,
            remote: &remote.carriers,
        })?;
    }
    match remote.failure() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn process(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let mut r = op::process(store, actor, db, &settings, &SystemClock, &Bar::new(ctx))?;
    for f in &r.files {
        match f {
            ProcessOutcome::Processed { name, processed: p } => {
                ctx.say(&format!("CDR file {} ({name}): {}", p.file_id, summary(p)))
            }
            ProcessOutcome::Failed(f) => {
                ctx.warn(&format!("CDR file {} ({}) failed: {}", f.id, f.name, f.why))
            }
        }
    }
    if let Some(e) = r.stopped.take() {
        return Err(e.into());
    }
    if r.files.is_empty() {
        ctx.say("no pending CDR files");
    }
    if ctx.json {
        output::print_json(&r)?;
    }
    let failed: Vec<String> = r
        .failed()
        .map(|f| format!("{} ({}): {}", f.id, f.name, f.why))
        .collect();
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

const LIST_HEADER: [&str; 10] = [
    "id", "carrier", "name", "state", "lines", "rated", "errors", "waiting", "billed", "imported",
];

fn list_cells(ctx: &Ctx, r: &cdrs::FileRow) -> Vec<String> {
    let state = match r.state.as_str() {
        "pending" | "processing" => ctx.yellow(&r.state),
        "failed" => ctx.red(&r.state),
        _ => r.state.clone(),
    };
    vec![
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
    ]
}

/// `cdr list`: the files streamed as they are read (JSON: one array).
fn list(ctx: &Ctx, store: &Store) -> anyhow::Result<()> {
    if ctx.json {
        let mut j = stream::Json::array();
        let mut failed = None;
        cdrs::each_file(&store.conn, |r| {
            if failed.is_none()
                && let Err(e) = j.item(&r)
            {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        j.end_array_document();
        return Ok(());
    }
    // One pass over the CDRs (the per-file counts are the costly read):
    // the rows are one per file, so they are kept to measure the columns.
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    cdrs::each_file(&store.conn, |r| {
        rows.push(list_cells(ctx, &r));
        if let Some(why) = &r.failure {
            failures.push(format!("file {} ({}): {why}", r.id, r.name));
        }
    })?;
    let mut widths = stream::Widths::of(&LIST_HEADER);
    for r in &rows {
        widths.fit(r);
    }
    let t = stream::Table::start(&LIST_HEADER, &widths);
    for r in &rows {
        t.row(r);
    }
    t.finish();
    for w in failures {
        ctx.warn(&w);
    }
    Ok(())
}
