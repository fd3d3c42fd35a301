//! Remote CDR sources of carriers (migration 17): the source settings, the
//! pinned SFTP host key, remote files already fetched, and the outcome of
//! each carrier's latest fetch.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, Actor};
use crate::error::{Result, bad_input};

/// A carrier's remote source, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub carrier: String,
    pub url: String,
    pub pattern: Option<String>,
    pub key_path: Option<String>,
    pub ca_file: Option<String>,
    pub remote_done: Option<String>,
    /// IMAP: flag fully fetched messages `\Seen` (migration 25).
    pub mark_seen: bool,
    pub host_key: Option<String>,
    pub host_key_offered: Option<String>,
}

/// The outcome of a carrier's latest fetch.
#[derive(Debug, Clone, Serialize)]
pub struct LastFetch {
    pub carrier: String,
    pub source: String,
    pub at: Option<String>,
    /// Files that came in at that fetch.
    pub files: Option<u64>,
    /// Why it failed (NULL: it worked).
    pub error: Option<String>,
}

/// Store a carrier's source (after `cdrs::add_carrier`, same transaction).
pub fn set_source(conn: &Connection, actor: &Actor, s: &Source) -> Result<()> {
    conn.execute(
        "INSERT INTO carrier_sources (carrier, url, pattern, key_path, ca_file, remote_done, mark_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            s.carrier,
            s.url,
            s.pattern,
            s.key_path,
            s.ca_file,
            s.remote_done,
            s.mark_seen
        ],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "carrier.source",
        &format!(
            "{}: source {}, pattern {}, key {}, CA file {}, remote done {}{}",
            s.carrier,
            s.url,
            s.pattern.as_deref().unwrap_or("none"),
            s.key_path.as_deref().unwrap_or("none"),
            s.ca_file.as_deref().unwrap_or("none"),
            s.remote_done
                .as_deref()
                .unwrap_or("none (files stay on the server)"),
            if s.mark_seen {
                ", fetched messages flagged \\Seen"
            } else {
                ""
            }
        ),
    )
}

fn source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Source> {
    Ok(Source {
        carrier: r.get(0)?,
        url: r.get(1)?,
        pattern: r.get(2)?,
        key_path: r.get(3)?,
        ca_file: r.get(4)?,
        remote_done: r.get(5)?,
        host_key: r.get(6)?,
        host_key_offered: r.get(7)?,
        mark_seen: r.get::<_, i64>(8)? != 0,
    })
}

const COLS: &str =
    "carrier, url, pattern, key_path, ca_file, remote_done, host_key, host_key_offered, mark_seen";

/// Every carrier with a remote source, by name.
pub fn remote_sources(conn: &Connection) -> Result<Vec<Source>> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM carrier_sources ORDER BY carrier"
    ))?;
    let rows = st.query_map([], source_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// One carrier's source, if it has one.
pub fn source(conn: &Connection, carrier: &str) -> Result<Option<Source>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM carrier_sources WHERE carrier = ?1"),
            [carrier],
            source_row,
        )
        .optional()?)
}

/// Pin the host key seen at the first fetch (audited).
pub fn pin_host_key(conn: &Connection, actor: &Actor, carrier: &str, fp: &str) -> Result<()> {
    conn.execute(
        "UPDATE carrier_sources SET host_key = ?2, host_key_offered = NULL WHERE carrier = ?1",
        params![carrier, fp],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "carrier.host_key",
        &format!("{carrier}: SFTP host key {fp} pinned on first use"),
    )
}

/// Record a different host key the server offered (the fetch was refused).
pub fn offer_host_key(conn: &Connection, actor: &Actor, carrier: &str, fp: &str) -> Result<()> {
    conn.execute(
        "UPDATE carrier_sources SET host_key_offered = ?2 WHERE carrier = ?1",
        params![carrier, fp],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "carrier.host_key_refused",
        &format!("{carrier}: SFTP server offered host key {fp}, not the pinned one; fetch refused"),
    )
}

/// Accept the key last offered: it becomes the pinned key (audited).
/// Returns (old, new).
pub fn accept_host_key(
    conn: &Connection,
    actor: &Actor,
    carrier: &str,
) -> Result<(Option<String>, String)> {
    let s = source(conn, carrier)?.ok_or_else(|| {
        bad_input(format!(
            "carrier '{carrier}' has no remote source (see billrun carriers list)"
        ))
    })?;
    let Some(new) = s.host_key_offered else {
        return Err(bad_input(format!(
            "carrier '{carrier}': no changed host key to accept (the pinned key is {}); \
             run billrun cdr fetch first",
            s.host_key.as_deref().unwrap_or("not yet recorded")
        )));
    };
    conn.execute(
        "UPDATE carrier_sources SET host_key = ?2, host_key_offered = NULL WHERE carrier = ?1",
        params![carrier, new],
    )?;
    audit::log(
        conn,
        actor,
        None,
        "carrier.host_key_accepted",
        &format!(
            "{carrier}: SFTP host key {new} accepted (was {})",
            s.host_key.as_deref().unwrap_or("none")
        ),
    )?;
    Ok((s.host_key, new))
}

/// Whether this remote file (name, size, modification time) was fetched
/// before.
pub fn seen(conn: &Connection, carrier: &str, name: &str, size: u64, mtime: i64) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM remote_files WHERE carrier = ?1 AND name = ?2 AND size = ?3 AND mtime = ?4",
            params![carrier, name, size as i64, mtime],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Record a fetched remote file (`file_id` NULL: its bytes were stored
/// before, under another file).
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &Connection,
    carrier: &str,
    name: &str,
    size: u64,
    mtime: i64,
    sha: &str,
    file_id: Option<i64>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO remote_files (carrier, name, size, mtime, sha256, file_id, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![carrier, name, size as i64, mtime, sha, file_id, now],
    )?;
    Ok(())
}

/// The file was moved to the remote done directory.
pub fn mark_moved(
    conn: &Connection,
    carrier: &str,
    name: &str,
    size: u64,
    mtime: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE remote_files SET moved = 1 WHERE carrier = ?1 AND name = ?2 AND size = ?3 AND mtime = ?4",
        params![carrier, name, size as i64, mtime],
    )?;
    Ok(())
}

/// Record the outcome of a carrier's fetch.
pub fn record_fetch(
    conn: &Connection,
    carrier: &str,
    at: &str,
    files: u64,
    error: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE carrier_sources SET last_fetch_at = ?2, last_fetch_files = ?3, last_fetch_error = ?4
         WHERE carrier = ?1",
        params![carrier, at, files as i64, error],
    )?;
    Ok(())
}

/// The latest fetch of each carrier with a remote source, by name.
pub fn last_fetches(conn: &Connection) -> Result<Vec<LastFetch>> {
    let mut st = conn.prepare(
        "SELECT carrier, url, last_fetch_at, last_fetch_files, last_fetch_error
         FROM carrier_sources ORDER BY carrier",
    )?;
    let rows = st.query_map([], |r| {
        Ok(LastFetch {
            carrier: r.get(0)?,
            source: r.get(1)?,
            at: r.get(2)?,
            files: r.get::<_, Option<i64>>(3)?.map(|n| n.max(0) as u64),
            error: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The IMAP messages of a carrier done at earlier fetches (migration 25).
pub fn messages_done(
    conn: &Connection,
    carrier: &str,
) -> Result<std::collections::HashSet<String>> {
    let mut st = conn.prepare("SELECT message FROM remote_messages_done WHERE carrier = ?1")?;
    let rows = st.query_map([carrier], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Record IMAP messages done (every taken attachment recorded).
pub fn record_messages_done(
    conn: &Connection,
    carrier: &str,
    messages: &[String],
    now: &str,
) -> Result<()> {
    let mut st = conn.prepare(
        "INSERT OR IGNORE INTO remote_messages_done (carrier, message, done_at) VALUES (?1, ?2, ?3)",
    )?;
    for m in messages {
        st.execute(params![carrier, m, now])?;
    }
    Ok(())
}
