//! `print RUN --out DIR [--bundle-size N] [--reprint]`: print bundles —
//! merged PDFs of the invoices of `print`/`both` customers, sorted by
//! postcode for the mail house (the work is `ops::print`).

use super::output::{self, Ctx};
use super::progress::Bar;
use crate::ops::print::PrintOptions;
use crate::ops::{self, SystemClock};
use crate::store::Store;
use crate::store::audit::Actor;
use clap::Args as ClapArgs;
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
    let opts = PrintOptions {
        run: a.run,
        out: a.out,
        bundle_size: a.bundle_size,
        reprint: a.reprint,
    };
    let mut report = ops::print::write_bundles(store, actor, &opts, &SystemClock, &Bar::new(ctx))?;
    for b in &report.bundles {
        ctx.say(&format!(
            "wrote {} ({} invoices, {} pages)",
            b.path.display(),
            b.invoices,
            b.pages
        ));
    }
    if let Some(e) = report.stopped.take() {
        return Err(e.into());
    }
    if report.bundles.is_empty() {
        ctx.say(&format!(
            "run {}: nothing to print (every print invoice is in a bundle; --reprint to print again)",
            report.run
        ));
    }
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(())
}
