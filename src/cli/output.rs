//! Terminal output: tables, colour, JSON, confirmations, exit codes.
//! Colour and progress bars only on a terminal; `NO_COLOR` and `TERM=dumb`
//! are honoured.

use crate::error::Error;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// Output options shared by every subcommand.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub json: bool,
    pub quiet: bool,
    pub yes: bool,
    pub color: bool,
    pub tty: bool,
}

/// Colour is allowed unless `NO_COLOR` is set or `TERM=dumb`.
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
}

impl Ctx {
    pub fn new(json: bool, quiet: bool, yes: bool) -> Ctx {
        let tty = std::io::stdout().is_terminal();
        Ctx {
            json,
            quiet,
            yes,
            color: tty && color_allowed() && !json,
            tty,
        }
    }

    /// A status line for people (stderr when --json, so stdout stays one document).
    pub fn say(&self, msg: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            eprintln!("{msg}");
        } else {
            println!("{msg}");
        }
    }

    /// A warning, always on stderr.
    pub fn warn(&self, msg: &str) {
        if std::io::stderr().is_terminal() && color_allowed() {
            eprintln!("\x1b[33mwarning:\x1b[0m {msg}");
        } else {
            eprintln!("warning: {msg}");
        }
    }

    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// A table with a header, styled for the terminal.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        if !self.tty {
            t.force_no_tty();
        }
        t.set_header(header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
        t
    }

    /// Ask before an irreversible action. `--yes` answers; without a terminal
    /// and without `--yes` the action is refused, never assumed.
    pub fn confirm(&self, question: &str) -> Result<(), Error> {
        if self.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            return Err(Error::Precondition(format!(
                "{question} — needs confirmation, and there is no terminal to ask: re-run with --yes"
            )));
        }
        let ok = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|e| Error::External(format!("cannot read the answer: {e}")))?;
        if ok {
            Ok(())
        } else {
            Err(Error::Precondition("cancelled: nothing was changed".into()))
        }
    }
}

/// Print one JSON document on stdout.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // As an io::Error, so a closed pipe (`| head`) is recognised by main.
    serde_json::to_writer_pretty(&mut out, v).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Print a table (or nothing when quiet).
pub fn print_table(ctx: &Ctx, t: &Table) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let _ = ctx;
    writeln!(out, "{t}")?;
    Ok(())
}

/// The exit code for an error chain (SPEC §2).
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            let _ = e;
            return 5;
        }
    }
    1
}

/// Read an input file whole; a missing/unreadable file is bad input naming it.
pub fn read_input(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::BadInput(format!("{}: cannot read: {e}", path.display())))
}

/// The display name of an input file (as the operator typed it).
pub fn file_label(path: &std::path::Path) -> String {
    path.display().to_string()
}
