//! `billrun audit [RUN]`.

use super::output::{self, Ctx};
use crate::store::{Store, audit, runs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this run's entries (id or name).
    pub run: Option<String>,
}

pub fn exec(ctx: &Ctx, store: &Store, a: Args) -> anyhow::Result<()> {
    let run = a.run.map(|r| runs::resolve(&store.conn, &r)).transpose()?;
    let entries = audit::list(&store.conn, run.map(|r| r.id))?;
    if ctx.json {
        return output::print_json(&entries);
    }
    let mut t = ctx.table(&["time", "operator", "run", "action", "detail"]);
    for e in entries {
        t.add_row(vec![
            e.at,
            e.operator,
            e.run.map(|r| r.to_string()).unwrap_or_default(),
            e.action,
            e.detail,
        ]);
    }
    output::print_table(ctx, &t)
}
