//! Print bundles: which invoices went into which merged PDF.

use crate::error::Result;
use rusqlite::{Connection, params};

/// Record a bundle of `invoice_ids` (in print order) and return its id;
/// `path_for` names the file from the id. Call inside the transaction that
/// also writes the file, so a failed write records nothing.
pub fn record_bundle(
    conn: &Connection,
    run_id: i64,
    invoice_ids: &[i64],
    pages: usize,
    sha256: &str,
    operator: &str,
    path_for: impl Fn(i64) -> String,
) -> Result<(i64, String)> {
    conn.execute(
        "INSERT INTO print_bundles (run_id, path, invoices, pages, sha256, created_at, created_by)
         VALUES (?1, '', ?2, ?3, ?4, ?5, ?6)",
        params![
            run_id,
            invoice_ids.len() as i64,
            pages as i64,
            sha256,
            super::now_stamp(),
            operator
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
    for (pos, inv) in invoice_ids.iter().enumerate() {
        st.execute(params![id, inv, pos as i64 + 1])?;
    }
    Ok((id, path))
}
