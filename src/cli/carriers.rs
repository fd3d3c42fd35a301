//! `billrun carriers add NAME --format FMT [--inbox DIR | --source URL …]`,
//! `carriers list`, `carriers accept-host-key NAME`.

use super::output::{self, Ctx};
use crate::ops::cdr_import::{self as op, CarrierOptions};
use crate::ops::cdr_sources::SourceOptions;
use crate::store::{Store, audit::Actor, cdrs};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add a CDR source: format billrun, asterisk, asterisk:accountcode or
    /// mapped:PATH (a TOML column map); an inbox directory or a remote source.
    Add {
        name: String,
        /// billrun | asterisk | asterisk:accountcode | mapped:PATH
        #[arg(long)]
        format: String,
        /// A drop directory `billrun cdr fetch` takes new files from.
        #[arg(long, conflicts_with = "source")]
        inbox: Option<PathBuf>,
        /// A remote source `cdr fetch` downloads new files from:
        /// sftp://USER@HOST[:PORT]/DIR, ftp://USER@HOST[:PORT]/DIR,
        /// ftps://USER@HOST[:PORT]/DIR (explicit TLS) or
        /// imaps://USER@HOST[:PORT]/MAILBOX (the attachments of its
        /// messages). The password comes only from the environment:
        /// BILLRUN_SOURCE_PASSWORD_<CARRIER>.
        #[arg(long)]
        source: Option<String>,
        /// Only remote files (IMAP: attachments) whose names match this glob
        /// (e.g. 'cdr-*.csv').
        #[arg(long, requires = "source")]
        pattern: Option<String>,
        /// SFTP: the private key (OpenSSH format, unencrypted) to log in with.
        #[arg(long, requires = "source")]
        key: Option<PathBuf>,
        /// FTPS/IMAPS: a PEM file of CA certificates trusted besides the
        /// system store.
        #[arg(long, requires = "source")]
        ca_file: Option<PathBuf>,
        /// SFTP/FTP: move each fetched file into this remote directory
        /// (without it nothing is changed on the server).
        #[arg(long, requires = "source")]
        remote_done: Option<String>,
        /// IMAP: flag a message \Seen once all its matching attachments
        /// are fetched (without it the mailbox is never changed).
        #[arg(long, requires = "source")]
        mark_seen: bool,
    },
    /// Accept the new SFTP host key of a carrier whose server's key changed
    /// (the key a refused `cdr fetch` recorded); audited.
    AcceptHostKey { name: String },
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
            source,
            pattern,
            key,
            ca_file,
            remote_done,
            mark_seen,
        } => {
            let source = source.as_deref().map(|url| SourceOptions {
                url,
                pattern: pattern.as_deref(),
                key: key.as_deref(),
                ca_file: ca_file.as_deref(),
                remote_done: remote_done.as_deref(),
                mark_seen,
            });
            let r = op::add_carrier(
                store,
                &CarrierOptions {
                    actor,
                    name: &name,
                    format: &format,
                    inbox: inbox.as_deref(),
                    source,
                },
            )?;
            ctx.say(&format!("carrier {} added ({})", r.name, r.format));
            if ctx.json {
                output::print_json(&r)?;
            }
            Ok(())
        }
        Cmd::AcceptHostKey { name } => {
            let r = crate::ops::cdr_sources::accept_host_key(store, actor, &name)?;
            ctx.say(&format!(
                "carrier {}: SFTP host key {} accepted (was {})",
                r.carrier,
                r.new,
                r.old.as_deref().unwrap_or("none")
            ));
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
                "source",
                "pattern",
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
                    match (r.source, r.mark_seen) {
                        (Some(s), true) => format!("{s} (mark seen)"),
                        (s, _) => s.unwrap_or_default(),
                    },
                    r.pattern.unwrap_or_default(),
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
