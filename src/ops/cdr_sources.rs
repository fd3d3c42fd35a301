//! `cdr fetch` from carriers' remote sources (SFTP, FTP, FTPS, IMAPS), and
//! `carriers accept-host-key` (docs/file-formats.md#remote-sources).
//!
//! For each carrier with a source, in name order: connect (a carrier that
//! cannot be reached is reported, and the next carrier is fetched), list
//! the remote directory, and download every file the pattern takes whose
//! (name, size, modification time) was not fetched before. A download goes
//! into a temporary file in the CDR store while it is hashed; it is then
//! checked against the listed size (a file that changed meanwhile is still
//! being written: dropped and left for the next fetch), synced and renamed
//! into place under its SHA-256, and only then recorded (file and remote
//! name in one transaction, `synchronous=FULL`). A download cut short is
//! never recorded and its temporary file is removed; the next fetch starts
//! it again, and takes up the files not yet recorded (so an interrupted
//! fetch resumes file by file). Bytes already stored (under any name) are
//! recorded as seen and not stored twice. Nothing is changed on the server
//! unless the carrier has `--remote-done DIR`: a fetched file is then moved
//! there after its commit (a move missed by a crash is made by the next
//! fetch), or (IMAP) `--mark-seen`: a message every taken attachment of
//! which is recorded is then flagged `\Seen` (a flag missed by a crash is
//! set by the next fetch).

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Clock, Progress};
use crate::domain::cdr_source::{NamePattern, Scheme, SourceUrl, password_var};
use crate::error::{Error, Result, bad_input, external};
use crate::gateway::sources::{self, Credentials, Remote, RemoteFile};
use crate::store::audit::Actor;
use crate::store::sources::{self as ss, Source};
use crate::store::{Store, cdrs};
use crate::whole_file;

/// One remote file that came in.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteIn {
    /// The stored CDR file's id (pending); `None` for bytes stored before.
    pub id: Option<i64>,
    pub name: String,
    pub bytes: u64,
    /// For bytes stored before: the earlier file (`id name`).
    pub duplicate_of: Option<String>,
}

/// What `cdr fetch` did for one carrier with a remote source.
#[derive(Debug, Clone, Serialize)]
pub struct CarrierFetch {
    pub carrier: String,
    pub source: String,
    pub files: Vec<RemoteIn>,
    /// Files fetched at an earlier fetch (not downloaded again).
    pub already_fetched: u64,
    /// Files whose size or time changed during the download.
    pub still_writing: Vec<String>,
    /// Files moved to the remote done directory.
    pub moved: Vec<String>,
    /// IMAP messages flagged `\Seen` (`--mark-seen`).
    pub marked_seen: Vec<String>,
    /// The SFTP host key pinned by this (first) fetch.
    pub host_key_pinned: Option<String>,
    /// Why the carrier could not be fetched (the files before it stay).
    pub error: Option<String>,
    #[serde(skip)]
    pub exit: Option<u8>,
}

/// What `cdr fetch` did with the remote sources.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemoteFetched {
    pub carriers: Vec<CarrierFetch>,
}

impl RemoteFetched {
    /// The carriers that failed, with the first failure's exit code.
    pub fn failure(&self) -> Option<Error> {
        let failed: Vec<&CarrierFetch> =
            self.carriers.iter().filter(|c| c.error.is_some()).collect();
        let first = failed.first()?;
        let text = failed
            .iter()
            .map(|c| format!("{}: {}", c.carrier, c.error.as_deref().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; ");
        let msg = format!(
            "{} carrier(s) could not be fetched ({text}); the other carriers were fetched",
            failed.len()
        );
        Some(match first.exit {
            Some(4) => bad_input(msg),
            _ => external(msg),
        })
    }
}

/// A writer that hashes what it writes.
struct Hashing<'a> {
    file: &'a mut std::fs::File,
    sha: Sha256,
    n: u64,
}

impl Write for Hashing<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(b)?;
        self.sha.update(&b[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Fetch every carrier with a remote source.
pub fn fetch_remote(
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<RemoteFetched> {
    cdrs::sync_commits(&store.conn)?;
    let list = ss::remote_sources(&store.conn)?;
    let dir = cdrs::files_dir(db);
    let mut out = RemoteFetched::default();
    for s in list {
        let mut r = CarrierFetch {
            carrier: s.carrier.clone(),
            source: s.url.clone(),
            files: Vec::new(),
            already_fetched: 0,
            still_writing: Vec::new(),
            moved: Vec::new(),
            marked_seen: Vec::new(),
            host_key_pinned: None,
            error: None,
            exit: None,
        };
        if let Err(e) = fetch_carrier(store, actor, &dir, &s, clock, progress, &mut r) {
            r.exit = Some(e.exit_code());
            r.error = Some(e.to_string());
        }
        let tx = store.write()?;
        ss::record_fetch(
            &tx,
            &s.carrier,
            &clock.stamp(),
            r.files.iter().filter(|f| f.id.is_some()).count() as u64,
            r.error.as_deref(),
        )?;
        tx.commit()?;
        out.carriers.push(r);
    }
    Ok(out)
}

fn fetch_carrier(
    store: &mut Store,
    actor: &Actor,
    dir: &Path,
    s: &Source,
    clock: &dyn Clock,
    progress: &dyn Progress,
    r: &mut CarrierFetch,
) -> Result<()> {
    let url = SourceUrl::parse(&s.url).map_err(bad_input)?;
    let pattern = NamePattern::new(s.pattern.as_deref()).map_err(bad_input)?;
    let password = std::env::var(password_var(&s.carrier)).ok();
    let creds = Credentials {
        password,
        key: s.key_path.as_deref().map(Path::new),
        ca_file: s.ca_file.as_deref().map(Path::new),
        host_key: s.host_key.as_deref(),
        mark_seen: s.mark_seen,
    };
    let connected = match sources::connect(&url, &creds) {
        Ok(c) => c,
        Err(e) => {
            if let sources::ConnectError {
                offered_host_key: Some(fp),
                ..
            } = &e
            {
                let tx = store.write()?;
                ss::offer_host_key(&tx, actor, &s.carrier, fp)?;
                tx.commit()?;
            }
            return Err(e.error);
        }
    };
    if url.scheme == Scheme::Sftp
        && s.host_key.is_none()
        && let Some(fp) = &connected.host_key
    {
        let tx = store.write()?;
        ss::pin_host_key(&tx, actor, &s.carrier, fp)?;
        tx.commit()?;
        r.host_key_pinned = Some(fp.clone());
    }
    let mut remote = connected.remote;
    fetch_listed(
        store,
        actor,
        dir,
        remote.as_mut(),
        s,
        &pattern,
        clock,
        progress,
        r,
    )
}

/// Download the new files of a connected source (see the module doc).
#[allow(clippy::too_many_arguments)]
fn fetch_listed(
    store: &mut Store,
    actor: &Actor,
    dir: &Path,
    remote: &mut dyn Remote,
    s: &Source,
    pattern: &NamePattern,
    clock: &dyn Clock,
    progress: &dyn Progress,
    r: &mut CarrierFetch,
) -> Result<()> {
    remote.skip_messages(ss::messages_done(&store.conn, &s.carrier)?);
    let files: Vec<RemoteFile> = remote
        .list()?
        .into_iter()
        .filter(|f| pattern.takes(&f.name))
        .collect();
    progress.start(
        &format!("fetching from {}", s.carrier),
        Some(files.len() as u64),
    );
    let result = (|| -> Result<()> {
        for f in &files {
            progress.inc(1);
            if ss::seen(&store.conn, &s.carrier, &f.key, f.size, f.mtime)? {
                r.already_fetched += 1;
                // A move that a crash left undone.
                if let Some(done) = &s.remote_done
                    && !moved(&store.conn, &s.carrier, f)?
                {
                    move_done(store, remote, s, done, f, r)?;
                }
                continue;
            }
            fetch_file(store, actor, dir, remote, s, f, clock, r)?;
        }
        // IMAP: flag and remember the messages now wholly fetched (a
        // failure leaves them to the next fetch, which reads them again).
        let mut taken = Vec::with_capacity(files.len());
        for f in &files {
            let recorded = ss::seen(&store.conn, &s.carrier, &f.key, f.size, f.mtime)?;
            taken.push((f.clone(), recorded));
        }
        if s.mark_seen {
            r.marked_seen = remote.mark_seen(&taken)?;
        }
        let done = remote.messages_done(&taken);
        if !done.is_empty() {
            let tx = store.write()?;
            ss::record_messages_done(&tx, &s.carrier, &done, &clock.stamp())?;
            tx.commit()?;
        }
        Ok(())
    })();
    progress.finish();
    result
}

fn moved(conn: &rusqlite::Connection, carrier: &str, f: &RemoteFile) -> Result<bool> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT moved FROM remote_files WHERE carrier = ?1 AND name = ?2 AND size = ?3 AND mtime = ?4",
            rusqlite::params![carrier, f.key, f.size as i64, f.mtime],
            |row| row.get::<_, i64>(0),
        )
        .optional()?
        .is_some_and(|m| m != 0))
}

fn move_done(
    store: &mut Store,
    remote: &mut dyn Remote,
    s: &Source,
    done: &str,
    f: &RemoteFile,
    r: &mut CarrierFetch,
) -> Result<()> {
    remote.move_done(&f.name, done)?;
    let tx = store.write()?;
    ss::mark_moved(&tx, &s.carrier, &f.key, f.size, f.mtime)?;
    tx.commit()?;
    r.moved.push(f.name.clone());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn fetch_file(
    store: &mut Store,
    actor: &Actor,
    dir: &Path,
    remote: &mut dyn Remote,
    s: &Source,
    f: &RemoteFile,
    clock: &dyn Clock,
    r: &mut CarrierFetch,
) -> Result<()> {
    cdrs::ensure_dir(dir)?;
    // Removed when dropped: a download cut short leaves nothing behind.
    let mut tmp = whole_file::beside(&dir.join("incoming"))
        .map_err(|e| external(format!("cannot create a file in {}: {e}", dir.display())))?;
    let mut w = Hashing {
        file: tmp.as_file_mut(),
        sha: Sha256::new(),
        n: 0,
    };
    remote.download(f, &mut w)?;
    w.flush()
        .map_err(|e| external(format!("cannot write the download of {}: {e}", f.name)))?;
    let (n, sha) = (w.n, hex::encode(w.sha.finalize()));
    if n != f.size {
        r.still_writing.push(f.name.clone());
        return Ok(());
    }
    let now = clock.stamp();
    if let Some((id, name, _)) = cdrs::file_by_sha(&store.conn, &sha)? {
        let tx = store.write()?;
        ss::record(&tx, &s.carrier, &f.key, f.size, f.mtime, &sha, None, &now)?;
        tx.commit()?;
        r.files.push(RemoteIn {
            id: None,
            name: f.name.clone(),
            bytes: n,
            duplicate_of: Some(format!("{id} {name}")),
        });
    } else {
        let tx = store.write()?;
        let id = cdrs::register_file(&tx, actor, &s.carrier, &f.name, &sha, &now)?;
        ss::record(
            &tx,
            &s.carrier,
            &f.key,
            f.size,
            f.mtime,
            &sha,
            Some(id),
            &now,
        )?;
        // On disk under its final name before the commit that refers to it.
        whole_file::place(tmp, &cdrs::stored_path(dir, &sha))
            .map_err(|e| external(format!("cannot store {} durably: {e}", f.name)))?;
        tx.commit()?;
        r.files.push(RemoteIn {
            id: Some(id),
            name: f.name.clone(),
            bytes: n,
            duplicate_of: None,
        });
    }
    if let Some(done) = &s.remote_done {
        move_done(store, remote, s, done, f, r)?;
    }
    Ok(())
}

/// The remote source options of `carriers add`.
#[derive(Debug, Clone)]
pub struct SourceOptions<'a> {
    pub url: &'a str,
    pub pattern: Option<&'a str>,
    pub key: Option<&'a Path>,
    pub ca_file: Option<&'a Path>,
    pub remote_done: Option<&'a str>,
    pub mark_seen: bool,
}

fn absolute(p: &Path, what: &str) -> Result<String> {
    let abs = std::fs::canonicalize(p)
        .map_err(|e| bad_input(format!("{}: cannot read the {what}: {e}", p.display())))?;
    if !abs.is_file() {
        return Err(bad_input(format!(
            "{}: the {what} is not a file",
            p.display()
        )));
    }
    Ok(abs.display().to_string())
}

/// Check the source options of a new carrier: the URL parses, the pattern
/// is a glob, the key and CA files exist (kept as absolute paths), and each
/// option fits the scheme.
pub fn checked_source(carrier: &str, o: &SourceOptions<'_>) -> Result<Source> {
    let url = SourceUrl::parse(o.url).map_err(bad_input)?;
    NamePattern::new(o.pattern).map_err(bad_input)?;
    if o.key.is_some() && url.scheme != Scheme::Sftp {
        return Err(bad_input("--key is for sftp:// sources only"));
    }
    if o.ca_file.is_some() && !matches!(url.scheme, Scheme::Ftps | Scheme::Imaps) {
        return Err(bad_input(
            "--ca-file is for ftps:// and imaps:// sources only",
        ));
    }
    if o.mark_seen && url.scheme != Scheme::Imaps {
        return Err(bad_input("--mark-seen is for imaps:// sources only"));
    }
    if o.remote_done.is_some() && url.scheme == Scheme::Imaps {
        return Err(bad_input(
            "--remote-done is for sftp://, ftp:// and ftps:// sources; an imaps:// source takes --mark-seen",
        ));
    }
    if let Some(d) = o.remote_done
        && (d.is_empty() || d.chars().any(char::is_control))
    {
        return Err(bad_input("--remote-done needs a remote directory"));
    }
    Ok(Source {
        carrier: carrier.to_string(),
        url: url.to_string(),
        pattern: o.pattern.map(str::to_string),
        key_path: o.key.map(|k| absolute(k, "SSH private key")).transpose()?,
        ca_file: o.ca_file.map(|c| absolute(c, "CA file")).transpose()?,
        remote_done: o.remote_done.map(str::to_string),
        mark_seen: o.mark_seen,
        host_key: None,
        host_key_offered: None,
    })
}

/// What `carriers accept-host-key` did.
#[derive(Debug, Clone, Serialize)]
pub struct HostKeyAccepted {
    pub carrier: String,
    pub old: Option<String>,
    pub new: String,
}

/// Accept the SFTP host key the carrier's server offered at the last
/// refused fetch (audited).
pub fn accept_host_key(store: &mut Store, actor: &Actor, carrier: &str) -> Result<HostKeyAccepted> {
    let tx = store.write()?;
    let (old, new) = ss::accept_host_key(&tx, actor, carrier)?;
    tx.commit()?;
    Ok(HostKeyAccepted {
        carrier: carrier.to_string(),
        old,
        new,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{FixedClock, NoProgress};
    use std::collections::BTreeMap;

    /// A source in memory; `cut` makes the download of that name fail
    /// half-way (a dropped connection, a killed transfer).
    struct Fake {
        files: BTreeMap<String, Vec<u8>>,
        cut: Option<String>,
        moved: Vec<String>,
    }

    impl Remote for Fake {
        fn list(&mut self) -> Result<Vec<RemoteFile>> {
            Ok(self
                .files
                .iter()
                .map(|(n, b)| RemoteFile {
                    name: n.clone(),
                    key: n.clone(),
                    size: b.len() as u64,
                    mtime: 1_700_000_000,
                })
                .collect())
        }
        fn download(&mut self, f: &RemoteFile, to: &mut dyn Write) -> Result<u64> {
            let name = f.name.as_str();
            let b = &self.files[name];
            if self.cut.as_deref() == Some(name) {
                to.write_all(&b[..b.len() / 2]).unwrap();
                return Err(external("connection reset"));
            }
            to.write_all(b).unwrap();
            Ok(b.len() as u64)
        }
        fn move_done(&mut self, name: &str, _dir: &str) -> Result<()> {
            self.moved.push(name.to_string());
            Ok(())
        }
    }

    fn report(carrier: &str) -> CarrierFetch {
        CarrierFetch {
            carrier: carrier.into(),
            source: String::new(),
            files: Vec::new(),
            already_fetched: 0,
            still_writing: Vec::new(),
            moved: Vec::new(),
            marked_seen: Vec::new(),
            host_key_pinned: None,
            error: None,
            exit: None,
        }
    }

    #[test]
    fn a_download_cut_short_is_never_recorded_and_the_next_fetch_resumes() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("t.db");
        let mut store = Store::open(&db).unwrap();
        let actor = Actor {
            operator: "tester".into(),
            command: "test".into(),
            at: None,
        };
        let tx = store.write().unwrap();
        cdrs::add_carrier(&tx, &actor, "c", "billrun", None).unwrap();
        let src = Source {
            carrier: "c".into(),
            url: "sftp://u@h:22/out".into(),
            pattern: None,
            key_path: None,
            ca_file: None,
            remote_done: Some("/done".into()),
            mark_seen: false,
            host_key: None,
            host_key_offered: None,
        };
        ss::set_source(&tx, &actor, &src).unwrap();
        tx.commit().unwrap();
        let dir = cdrs::files_dir(&db);
        let mut fake = Fake {
            files: [
                ("a.csv".to_string(), b"first file".to_vec()),
                ("b.csv".to_string(), b"second file, cut".to_vec()),
                ("c.csv".to_string(), b"third file".to_vec()),
            ]
            .into(),
            cut: Some("b.csv".into()),
            moved: Vec::new(),
        };
        let clock = FixedClock::on(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let all = NamePattern::new(None).unwrap();
        let mut r = report("c");
        let e = fetch_listed(
            &mut store,
            &actor,
            &dir,
            &mut fake,
            &src,
            &all,
            &clock,
            &NoProgress,
            &mut r,
        )
        .unwrap_err();
        assert!(e.to_string().contains("connection reset"));
        let names = |store: &Store| -> Vec<String> {
            let mut st = store
                .conn
                .prepare("SELECT name FROM cdr_files ORDER BY id")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        // a.csv stored and moved; b.csv not recorded, no temporary file left.
        assert_eq!(names(&store), ["a.csv"]);
        assert_eq!(fake.moved, ["a.csv"]);
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 1, "only the stored copy of a.csv: {left:?}");
        // The connection is back: b.csv and c.csv come in, a.csv is not fetched again.
        fake.cut = None;
        let mut r = report("c");
        fetch_listed(
            &mut store,
            &actor,
            &dir,
            &mut fake,
            &src,
            &all,
            &clock,
            &NoProgress,
            &mut r,
        )
        .unwrap();
        assert_eq!(names(&store), ["a.csv", "b.csv", "c.csv"]);
        assert_eq!(r.already_fetched, 1);
        assert_eq!(fake.moved, ["a.csv", "b.csv", "c.csv"]);
        let sha = hex::encode(Sha256::digest(b"second file, cut"));
        let b = std::fs::read(cdrs::stored_path(&dir, &sha)).ok();
        assert_eq!(b.as_deref(), Some(&b"second file, cut"[..]));
    }
}
