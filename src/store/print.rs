//! Print bundles: which invoices went into which merged PDF.

use crate::error::Result;
use rusqlite::{Connection, params};

/// A print bundle to record.
#[derive(Debug, Clone, Copy)]
pub struct NewBundle<'a> {
    pub run_id: i64,
    /// The invoices, in print order.
    pub invoice_ids: &'a [i64],
    pub pages: usize,
    pub sha256: &'a str,
    pub operator: &'a str,
    /// As stored in `created_at` (RFC 3339, UTC).
    pub created_at: &'a str,
}

/// Record a bundle and return its id and path; `path_for` names the file
/// from the id. Call inside the transaction that also writes the file, so a
/// failed write records nothing.
pub fn record_bundle(
    conn: &Connection,
    b: &NewBundle<'_>,
    path_for: impl Fn(i64) -> String,
) -> Result<(i64, String)> {
    conn.execute(
        "INSERT INTO print_bundles (run_id, path, invoices, pages, sha256, created_at, created_by)
         VALUES (?1, '', ?2, ?3, ?4, ?5, ?6)",
        params![
            b.run_id,
            b.invoice_ids.len() as i64,
            b.pages as i64,
            b.sha256,
            b.created_at,
            b.operator
        ],
    )?;
    let id = conn.last_insert_rowid();
    let path = path_for(id);
    conn.execute(
        "UPDATE print_bundles SET path = ?2 WHERE id = ?1",
        params![id, path],
    )?;
    let mut st = conn.prepare_cached(
        "INSERT INTO print_items (bundle_id, invoice_id, position) VALUES (?1, ?2, ?3)",
    )?;
    for (pos, inv) in b.invoice_ids.iter().enumerate() {
        st.execute(params![id, inv, pos as i64 + 1])?;
    }
    Ok((id, path))
}
