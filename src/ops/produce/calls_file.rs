//! The itemised-calls file of an invoice with more calls than its PDF may
//! list (`domain::itemised`): `NUMBER-calls.csv` beside the PDF, or
//! `NUMBER-calls.csv.gz` when the CSV is over 5 MB.
//!
//! The calls are streamed from the store into the file (one row at a time,
//! hashed as written), so memory does not grow with the account's calls.
//! The file is written like a PDF: a temporary file beside it renamed into
//! place, made durable by the batch's sync and recorded (with its SHA-256)
//! only then. The same calls give the same bytes, so a resume that
//! re-renders it writes the file it recorded before.

use crate::domain::itemised;
use crate::store::invoices;
use crate::whole_file;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A written (renamed into place, not yet synced) itemised-calls file.
#[derive(Debug)]
pub(super) struct Written {
    pub path: PathBuf,
    /// Its file name, as the PDF's note and the email name it.
    pub name: String,
    pub sha256: String,
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write invoice `invoice_id`'s calls into `dir` as `NUMBER-calls.csv`, or
/// `NUMBER-calls.csv.gz` when the CSV is over the limit; the other name is
/// removed if a previous attempt left it. Errors say what failed, where.
pub(super) fn write(
    conn: &Connection,
    dir: &Path,
    number: &str,
    invoice_id: i64,
) -> Result<Written, String> {
    write_gzip_above(conn, dir, number, invoice_id, itemised::GZIP_ABOVE_BYTES)
}

/// [`write`], compressing a CSV over `gzip_above` bytes.
pub(super) fn write_gzip_above(
    conn: &Connection,
    dir: &Path,
    number: &str,
    invoice_id: i64,
    gzip_above: u64,
) -> Result<Written, String> {
    let csv_name = itemised::file_name(number, false);
    let csv_path = dir.join(&csv_name);
    let io = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
        format!("invoice {number}: cannot {what} {}: {e}", p.display())
    };
    let mut tmp = whole_file::beside(&csv_path).map_err(|e| io("create", &csv_path, &e))?;
    let (sha, bytes) = {
        let out = Hashing::new(std::io::BufWriter::with_capacity(
            1 << 16,
            tmp.as_file_mut(),
        ));
        let mut w = csv::Writer::from_writer(out);
        w.write_record(itemised::HEADER)
            .map_err(|e| io("write", &csv_path, &e))?;
        invoices::each_call(conn, invoice_id, |c| {
            w.write_record(itemised::row(&c))
                .map_err(|e| crate::error::external(io("write", &csv_path, &e)))
        })
        .map_err(|e| e.to_string())?;
        let mut out = w
            .into_inner()
            .map_err(|e| io("write", &csv_path, &e.error()))?;
        out.flush().map_err(|e| io("write", &csv_path, &e))?;
        (out.sha, out.bytes)
    };
    if bytes <= gzip_above {
        tmp.persist(&csv_path)
            .map_err(|e| io("rename a temporary file to", &csv_path, &e.error))?;
        remove_if_there(&dir.join(itemised::file_name(number, true)))
            .map_err(|e| io("remove", dir, &e))?;
        return Ok(Written {
            path: csv_path,
            name: csv_name,
            sha256: hex::encode(sha.finalize()),
        });
    }
    // Over the limit: the CSV compressed; the plain temporary file is
    // removed when `tmp` is dropped.
    let gz_name = itemised::file_name(number, true);
    let gz_path = dir.join(&gz_name);
    let mut gz_tmp = whole_file::beside(&gz_path).map_err(|e| io("create", &gz_path, &e))?;
    let sha = {
        let file = tmp.as_file_mut();
        file.rewind().map_err(|e| io("read", &csv_path, &e))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file.take(bytes));
        let out = Hashing::new(std::io::BufWriter::with_capacity(
            1 << 16,
            gz_tmp.as_file_mut(),
        ));
        // The default header has no name and no time: the same calls give
        // the same bytes.
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        std::io::copy(&mut reader, &mut gz).map_err(|e| io("compress", &gz_path, &e))?;
        let mut out = gz.finish().map_err(|e| io("compress", &gz_path, &e))?;
        out.flush().map_err(|e| io("write", &gz_path, &e))?;
        out.sha
    };
    drop(tmp);
    gz_tmp
        .persist(&gz_path)
        .map_err(|e| io("rename a temporary file to", &gz_path, &e.error))?;
    remove_if_there(&csv_path).map_err(|e| io("remove", &csv_path, &e))?;
    Ok(Written {
        path: gz_path,
        name: gz_name,
        sha256: hex::encode(sha.finalize()),
    })
}

/// Remove the itemised-calls files of an invoice whose calls are printed
/// (a previous attempt under a lower `invoice.itemise_max_lines` may have
/// written one).
pub(super) fn remove_stale(dir: &Path, number: &str) -> Result<(), String> {
    for gzip in [false, true] {
        let p = dir.join(itemised::file_name(number, gzip));
        remove_if_there(&p).map_err(|e| format!("cannot remove {}: {e}", p.display()))?;
    }
    Ok(())
}

fn remove_if_there(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The SHA-256 of a file, read in blocks; `None` when it cannot be read.
pub(super) fn sha256_of(path: &str) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sha.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(hex::encode(sha.finalize()))
}
