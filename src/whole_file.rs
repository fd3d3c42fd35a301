//! Files written whole: the bytes go to a temporary file beside the
//! destination, which is then renamed over it, so a reader (a print shop,
//! a bank upload, a later `billrun` run) never sees half a file, even after
//! a kill or a power cut.
//!
//! The temporary file comes from the `tempfile` crate: a unique name in
//! the destination's directory (`.<name>.XXXXXX.tmp`, so that concurrent
//! writers never share one and a listing shows what it belongs to), created
//! mode 0600, and removed when dropped on any error path. Every file billrun
//! writes therefore starts readable by its owner only: invoices, print
//! bundles, payment files and Xero exports all carry customer data.

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

/// Remove the temporary files (`.<name>.XXXXXX.tmp`) that writers killed
/// mid-write left in `dir`; returns how many. Without `older_than`, only
/// while no writer can be at work in `dir` (under the lock that admits one
/// writer); with it, only those untouched for that long (a directory that
/// writers share without a lock, each for the length of one command).
pub fn remove_leftovers(dir: &Path, older_than: Option<Duration>) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp") && entry.file_type()?.is_file()) {
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
    if sync == Sync::Now {
        tmp.as_file().sync_data()?;
    }
    // On failure the error hands the temporary file back, and dropping it
    // removes it.
    tmp.persist(path).map_err(|e| e.error)?;
    if sync == Sync::Now {
        sync_dir(dir_of(path))?;
    }
    Ok(())
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

/// Rename a staged file to `path`, never replacing a file already there,
/// then sync the directory. If the rename fails the staged file is kept
/// (not removed), so the caller can tell the operator where it is: take
/// its path before calling.
pub fn place_new(staged: NamedTempFile, path: &Path) -> std::io::Result<()> {
    if let Err(e) = staged.persist_noclobber(path) {
        let _ = e.file.keep();
        return Err(e.error);
    }
    sync_dir(dir_of(path))
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
            assert_eq!(mode & 0o777, 0o600);
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
        assert!(place_new(staged, &p).is_err());
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
        assert_eq!(remove_leftovers(d.path(), None).unwrap(), 1);
        assert_eq!(names(d.path()), [".produce.lock", "INV2.pdf", "notes.tmp"]);
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
        assert_eq!(remove_leftovers(d.path(), Some(day)).unwrap(), 1);
        assert!(!old.exists() && fresh.exists());
    }

    #[test]
    fn dir_of_a_bare_name_is_the_current_directory() {
        assert_eq!(dir_of(Path::new("x.csv")), Path::new("."));
        assert_eq!(dir_of(Path::new("out/x.csv")), Path::new("out"));
    }
}
