//! `print RUN --out DIR [--bundle-size N] [--reprint]`: print bundles —
//! merged PDFs of the invoices of `print`/`both` customers, sorted by
//! postcode for the mail house, each recorded so the `print` step resolves
//! and a re-run writes only what was not printed yet.

use super::output::{self, Ctx};
use crate::domain::lifecycle::RunStatus;
use crate::render::merge_pdfs;
use crate::store::audit::{self, Actor};
use crate::store::{Store, invoices, print, runs};
use anyhow::Context;
use clap::Args as ClapArgs;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Run id or name.
    pub run: String,
    /// Directory to write the bundles into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Invoices per bundle.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub bundle_size: u32,
    /// Print again invoices already in a bundle.
    #[arg(long)]
    pub reprint: bool,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, a: Args) -> anyhow::Result<()> {
    let run = runs::resolve(&store.conn, &a.run)?;
    if run.status != RunStatus::Completed {
        return Err(crate::error::precondition(format!(
            "run {} is {}: print bundles need every PDF (billrun produce {})",
            run.id, run.status, run.id
        ))
        .into());
    }
    let mut todo: Vec<invoices::Invoice> = invoices::list(&store.conn, Some(run.id))?
        .into_iter()
        .filter(|i| matches!(i.delivery.as_str(), "print" | "both"))
        .filter(|i| a.reprint || !i.printed)
        .collect();
    todo.sort_by(|x, y| {
        (x.postcode.to_uppercase(), x.seq).cmp(&(y.postcode.to_uppercase(), y.seq))
    });
    std::fs::create_dir_all(&a.out)
        .map_err(|e| crate::error::external(format!("cannot create {}: {e}", a.out.display())))?;
    let mut written = Vec::new();
    for chunk in todo.chunks(a.bundle_size as usize) {
        let mut pdfs = Vec::with_capacity(chunk.len());
        for i in chunk {
            let path = i.pdf_path.as_deref().ok_or_else(|| {
                crate::error::precondition(format!("invoice {} has no PDF yet", i.number))
            })?;
            pdfs.push(
                std::fs::read(path)
                    .map_err(|e| crate::error::external(format!("cannot read {path}: {e}")))?,
            );
        }
        let merged = merge_pdfs(&pdfs).context("merging the bundle's PDFs")?;
        let pages = lopdf::Document::load_mem(&merged)
            .map(|d| d.get_pages().len())
            .unwrap_or(0);
        let tx = store.write()?;
        let ids: Vec<i64> = chunk.iter().map(|i| i.id).collect();
        let (bundle_id, path) = print::record_bundle(
            &tx,
            run.id,
            &ids,
            pages,
            &hex::encode(Sha256::digest(&merged)),
            &actor.operator,
            |id| {
                a.out
                    .join(format!("{}-bundle-{id:03}.pdf", run.name))
                    .to_string_lossy()
                    .into_owned()
            },
        )?;
        let path = PathBuf::from(path);
        crate::whole_file::write(&path, &merged, crate::whole_file::Sync::Now)
            .map_err(|e| crate::error::external(format!("cannot write {}: {e}", path.display())))?;
        audit::log(
            &tx,
            actor,
            Some(run.id),
            "print",
            &format!(
                "{}: {} invoices, {pages} pages{}",
                path.display(),
                chunk.len(),
                if a.reprint { " (reprint)" } else { "" }
            ),
        )?;
        tx.commit()?;
        ctx.say(&format!(
            "wrote {} ({} invoices, {pages} pages)",
            path.display(),
            chunk.len()
        ));
        written.push(serde_json::json!({
            "bundle": bundle_id, "path": path, "invoices": chunk.len(), "pages": pages,
            "numbers": chunk.iter().map(|i| i.number.clone()).collect::<Vec<_>>(),
        }));
    }
    if written.is_empty() {
        ctx.say(&format!(
            "run {}: nothing to print (every print invoice is in a bundle; --reprint to print again)",
            run.id
        ));
    }
    if ctx.json {
        output::print_json(&written)?;
    }
    Ok(())
}
