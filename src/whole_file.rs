//! Files written whole: the bytes go to a temporary file beside the
//! destination, which is then renamed to it, so a reader (a print shop, a
//! bank upload, a later `billrun` run) never sees half a file, even after a
//! kill. With [`Sync::Now`] (and for [`write_new`] and staged files) the
//! data and the new name are also synced, so they survive a power cut;
//! with [`Sync::Later`] the caller syncs (invoice PDFs: one `syncfs` per
//! batch, before they are recorded).
//!
//! The temporary file comes from the `tempfile` crate: a unique name in
//! the destination's directory (`.<name>.XXXXXX.tmp`, so that concurrent
//! writers never share one and a listing shows what it belongs to), created
//! mode 0600 (less any umask bits), and removed when dropped on any error
//! path. The files billrun keeps or hands on — invoice PDFs, print bundles,
//! payment files, Xero exports, dry-run emails, stored CDR files — are
//! therefore readable by their owner only: they carry customer data.

use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tempfile::NamedTempFile;

/// How far a written file is made durable before `write` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Its data synced, renamed into place, then its directory synced:
    /// on disk under its final name.
    Now,
    /// Renamed into place only; the caller syncs later (many files at
    /// once, e.g. one `syncfs` for a batch of invoice PDFs).
    Later,
}

/// The directory a file is (to be) in: `.` for a bare file name.
pub fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A new temporary file beside `path` (same directory, so the final rename
/// stays within one file system), mode 0600.
pub fn beside(path: &Path) -> std::io::Result<NamedTempFile> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir_of(path))
}

/// Sync a directory, so that the names created in it (a rename into
/// place) are on disk. A no-op where the platform cannot (Windows).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The destination name a temporary file from [`beside`] belongs to:
/// `INV000123.pdf` for `.INV000123.pdf.a1B2c3.tmp`; `None` for any other
/// name.
pub fn temporary_of(name: &str) -> Option<&str> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (dest, random) = inner.rsplit_once('.')?;
    (!dest.is_empty()
        && random.len() == RANDOM_LEN
        && random.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(dest)
}

/// Random characters in a temporary file's name (`tempfile`'s default).
const RANDOM_LEN: usize = 6;

/// Remove the temporary files in `dir` that writers killed mid-write left
/// there for a destination name that `ours` accepts; returns how many.
/// Without `older_than`, only while no writer of such names can be at work
/// in `dir` (under the lock that admits one); with it, only those untouched
/// for that long (a directory that writers share without a lock, each for
/// the length of one command).
pub fn remove_leftovers(
    dir: &Path,
    ours: impl Fn(&str) -> bool,
    older_than: Option<Duration>,
) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !temporary_of(&name).is_some_and(&ours) || !entry.file_type()?.is_file() {
            continue;
        }
        if let Some(age) = older_than {
            let idle = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
            if idle < age {
                continue;
            }
        }
        std::fs::remove_file(entry.path())?;
        removed += 1;
    }
    Ok(removed)
}

/// Put `bytes` at `path` whole, replacing any file there.
pub fn write(path: &Path, bytes: &[u8], sync: Sync) -> std::io::Result<()> {
    let mut tmp = beside(path)?;
    tmp.write_all(bytes)?;
    match sync {
        Sync::Now => place(tmp, path),
        // On failure the error hands the temporary file back, and dropping
        // it removes it.
        Sync::Later => tmp.persist(path).map(drop).map_err(|e| e.error),
    }
}

/// Put a written temporary file (from [`beside`]) at `path` durably,
/// replacing any file there: its data synced, the rename, then the
/// directory synced. On failure the temporary file is removed.
pub fn place(tmp: NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir_of(path))
}

/// `bytes`, synced, in a temporary file beside `path`, not yet in place:
/// for a file that must not appear before something else is recorded (a
/// payment file, renamed into place by [`place_new`] once its payment run
/// is committed). Dropping it removes it.
pub fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<NamedTempFile> {
    let mut tmp = beside(path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Why [`place_new`] failed.
#[derive(Debug)]
pub enum PlaceError {
    /// A file is at the destination already; the staged file is kept, at
    /// the path given.
    Exists(std::path::PathBuf),
    /// The rename failed; the staged file is kept, at the path given.
    NotPlaced(std::path::PathBuf, std::io::Error),
    /// The file is in place, but its directory could not be synced.
    NotSynced(std::io::Error),
}

impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceError::Exists(kept) => {
                write!(
                    f,
                    "a file appeared there meanwhile (ours is kept at {})",
                    kept.display()
                )
            }
            PlaceError::NotPlaced(kept, e) => {
                write!(f, "cannot rename {} to it: {e}", kept.display())
            }
            PlaceError::NotSynced(e) => {
                write!(f, "it is in place, but syncing its directory failed: {e}")
            }
        }
    }
}

/// Rename a staged file to `path`, never replacing a file already there,
/// then sync the directory. If the rename fails the staged file is kept
/// (not removed), and the error says where it is.
///
/// The no-replace rename is `renameat2(RENAME_NOREPLACE)`, or a hard link
/// then an unlink where the file system lacks it (both in `tempfile`). On a
/// file system that has neither (some FUSE and SMB mounts) it falls back to
/// a plain rename after checking that `path` is still free: the one case
/// where a file appearing in that instant could be replaced.
pub fn place_new(staged: NamedTempFile, path: &Path) -> Result<(), PlaceError> {
    let staged = match staged.persist_noclobber(path) {
        Ok(_) => None,
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(PlaceError::Exists(keep(e.file)));
        }
        Err(e) => Some(e.file),
    };
    if let Some(staged) = staged {
        if path.exists() {
            return Err(PlaceError::Exists(keep(staged)));
        }
        if let Err(e) = staged.persist(path) {
            return Err(PlaceError::NotPlaced(keep(e.file), e.error));
        }
    }
    sync_dir(dir_of(path)).map_err(PlaceError::NotSynced)
}

/// Keep a temporary file on disk (not removed when dropped); its path.
fn keep(file: NamedTempFile) -> std::path::PathBuf {
    file.into_temp_path().keep().unwrap_or_else(|e| {
        let p = e.path.to_path_buf();
        std::mem::forget(e.path); // not removed either way
        p
    })
}

/// Put `bytes` at `path` whole and durably, never replacing a file there
/// (a file that appears there meanwhile is an error, and ours is removed).
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let staged = stage(path, bytes)?;
    place_new(staged, path).map_err(|e| match e {
        PlaceError::Exists(kept) => {
            let _ = std::fs::remove_file(kept);
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file appeared there meanwhile",
            )
        }
        PlaceError::NotPlaced(kept, e) => {
            let _ = std::fs::remove_file(kept);
            e
        }
        PlaceError::NotSynced(e) => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_replaces_whole_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.pdf");
        write(&p, b"first", Sync::Now).unwrap();
        write(&p, b"second", Sync::Later).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(names(d.path()), ["a.pdf"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
        }
    }

    #[test]
    fn write_into_a_missing_directory_fails_and_creates_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nope").join("a.csv");
        assert!(write(&p, b"x", Sync::Now).is_err());
        assert!(names(d.path()).is_empty());
    }

    #[test]
    fn staged_file_is_hidden_until_placed_and_removed_if_dropped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pay.aba");
        let staged = stage(&p, b"0 header").unwrap();
        let tmp = names(d.path());
        assert_eq!(tmp.len(), 1);
        assert!(
            tmp[0].starts_with(".pay.aba.") && tmp[0].ends_with(".tmp"),
            "{tmp:?}"
        );
        drop(staged);
        assert!(names(d.path()).is_empty());

        let staged = stage(&p, b"0 header").unwrap();
        place_new(staged, &p).unwrap();
        assert_eq!(names(d.path()), ["pay.aba"]);
        assert_eq!(std::fs::read(&p).unwrap(), b"0 header");
    }

    #[test]
    fn place_new_never_replaces_and_keeps_the_staged_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pay.aba");
        std::fs::write(&p, b"older").unwrap();
        let staged = stage(&p, b"newer").unwrap();
        let at = staged.path().to_path_buf();
        assert!(matches!(place_new(staged, &p), Err(PlaceError::Exists(k)) if k == at));
        assert_eq!(std::fs::read(&p).unwrap(), b"older");
        assert_eq!(std::fs::read(&at).unwrap(), b"newer");
    }

    #[test]
    fn leftovers_of_killed_writers_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let left = beside(&d.path().join("INV1.pdf")).unwrap();
        left.keep().unwrap(); // as a kill -9 mid-write leaves it
        write(&d.path().join("INV2.pdf"), b"%PDF", Sync::Later).unwrap();
        std::fs::write(d.path().join(".produce.lock"), b"").unwrap();
        std::fs::write(d.path().join("notes.tmp"), b"not ours").unwrap();
        let (_, other) = stage(&d.path().join("pay.aba"), b"0")
            .unwrap()
            .keep()
            .unwrap();
        assert_eq!(
            remove_leftovers(d.path(), |n| n.ends_with(".pdf"), None).unwrap(),
            1
        );
        let other = other.file_name().unwrap().to_string_lossy().into_owned();
        let mut left = vec![
            ".produce.lock".to_string(),
            other,
            "INV2.pdf".into(),
            "notes.tmp".into(),
        ];
        left.sort();
        assert_eq!(names(d.path()), left);
    }

    #[test]
    fn temporary_of_names_the_destination() {
        assert_eq!(
            temporary_of(".INV000123.pdf.a1B2c3.tmp"),
            Some("INV000123.pdf")
        );
        assert_eq!(temporary_of(".incoming.Zz0099.tmp"), Some("incoming"));
        for not in [
            ".produce.lock",
            "INV1.pdf.tmp",
            ".x.tmp",
            "..abcdef.tmp",
            ".a.b-c_d.tmp",
            ".a.abcdefg.tmp",
        ] {
            assert_eq!(temporary_of(not), None, "{not}");
        }
    }

    #[test]
    fn write_new_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("xero.csv");
        write_new(&p, b"one").unwrap();
        let e = write_new(&p, b"two").unwrap_err();
        assert!(e.to_string().contains("appeared there meanwhile"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(names(d.path()), ["xero.csv"]);
    }

    #[test]
    fn with_an_age_only_idle_leftovers_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let (_, old) = beside(&d.path().join("incoming")).unwrap().keep().unwrap();
        let (_, fresh) = beside(&d.path().join("incoming")).unwrap().keep().unwrap();
        let day = Duration::from_secs(24 * 3600);
        let f = std::fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(std::time::SystemTime::now() - 2 * day)
            .unwrap();
        assert_eq!(
            remove_leftovers(d.path(), |n| n == "incoming", Some(day)).unwrap(),
            1
        );
        assert!(!old.exists() && fresh.exists());
    }

    #[test]
    fn dir_of_a_bare_name_is_the_current_directory() {
        assert_eq!(dir_of(Path::new("x.csv")), Path::new("."));
        assert_eq!(dir_of(Path::new("out/x.csv")), Path::new("out"));
    }
}
