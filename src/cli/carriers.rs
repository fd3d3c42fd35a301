//! `billrun carriers add NAME --format FMT [--inbox DIR]`, `carriers list`.

use super::output::{self, Ctx};
use crate::error::bad_input;
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
            // Check the format now (a mapped column map is read and
            // validated) and keep absolute paths, so fetch works from anywhere.
            let format = match format.strip_prefix("mapped:") {
                Some(p) => {
                    let abs = std::fs::canonicalize(p)
                        .map_err(|e| bad_input(format!("{p}: cannot read the column map: {e}")))?;
                    format!("mapped:{}", abs.display())
                }
                None => format,
            };
            cdrs::parse_format(&format)?;
            let inbox = match inbox {
                Some(d) => {
                    if !d.is_dir() {
                        return Err(bad_input(format!(
                            "inbox {}: not a directory (create it first)",
                            d.display()
                        ))
                        .into());
                    }
                    Some(std::fs::canonicalize(&d)?.display().to_string())
                }
                None => None,
            };
            let tx = store.write()?;
            cdrs::add_carrier(&tx, actor, &name, &format, inbox.as_deref())?;
            tx.commit()?;
            ctx.say(&format!("carrier {name} added ({format})"));
            if ctx.json {
                output::print_json(
                    &serde_json::json!({"name": name, "format": format, "inbox": inbox}),
                )?;
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
