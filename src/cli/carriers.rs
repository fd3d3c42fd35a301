//! `billrun carriers add NAME --format FMT [--inbox DIR]`, `carriers list`.

use super::output::{self, Ctx};
use crate::ops::cdr_import::{self as op, CarrierOptions};
use crate::store::{Store, audit::Actor, cdrs};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add a CDR source: format billrun, asterisk or mapped:PATH (a TOML column map).
    Add {
        name: String,
        /// billrun | asterisk | mapped:PATH
        #[arg(long)]
        format: String,
        /// A drop directory `billrun cdr fetch` takes new files from.
        #[arg(long)]
        inbox: Option<PathBuf>,
    },
    /// List carriers with their files, and CDR files/lines in the open run's
    /// period against the previous period.
    List,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add {
            name,
            format,
            inbox,
        } => {
            let r = op::add_carrier(
                store,
                &CarrierOptions {
                    actor,
                    name: &name,
                    format: &format,
                    inbox: inbox.as_deref(),
                },
            )?;
            ctx.say(&format!("carrier {} added ({})", r.name, r.format));
            if ctx.json {
                output::print_json(&r)?;
            }
            Ok(())
        }
        Cmd::List => {
            let rows = cdrs::list_carriers(&store.conn)?;
            if ctx.json {
                return output::print_json(&rows);
            }
            let mut t = ctx.table(&[
                "carrier",
                "format",
                "inbox",
                "files",
                "pending",
                "last import",
                "this period",
                "previous period",
            ]);
            for r in rows {
                t.add_row(vec![
                    r.name,
                    r.format,
                    r.inbox.unwrap_or_default(),
                    r.files.to_string(),
                    r.pending.to_string(),
                    r.last_import.unwrap_or_default(),
                    format!("{} files, {} lines", r.files_this, r.lines_this),
                    format!("{} files, {} lines", r.files_prev, r.lines_prev),
                ]);
            }
            output::print_table(ctx, &t)
        }
    }
}
