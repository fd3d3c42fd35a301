//! `billrun allowances import FILE | list`: the inclusive allowances of
//! plans (docs/file-formats.md#allowancescsv). The import is all or nothing.

use super::output::{self, Ctx};
use crate::ops::reference::Kind;
use crate::store::{Store, allowances, audit::Actor};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Upsert allowances from a CSV file (docs/file-formats.md#allowancescsv):
    /// plan,name,call_type,prefixes,quantity,pooled.
    Import { file: PathBuf },
    /// Every allowance, per plan in the order they match (listed first wins
    /// on an equal prefix).
    List,
}

pub fn run(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Import { file } => {
            super::reference::import(ctx, store, actor, Kind::Allowances, "allowances", &file)
        }
        Cmd::List => {
            let rows = allowances::list(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "plan",
                "name",
                "call_type",
                "prefixes",
                "quantity",
                "pooled",
            ]);
            for r in rows {
                t.add_row(vec![
                    r.plan,
                    r.name,
                    r.call_type,
                    r.prefixes,
                    r.quantity,
                    if r.pooled { "yes" } else { "no" }.to_string(),
                ]);
            }
            output::print_table(ctx, &t)
        }
    }
}
