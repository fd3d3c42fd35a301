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
            crate::errln!("{msg}");
        } else {
            crate::outln!("{msg}");
        }
    }

    /// A warning, always on stderr.
    pub fn warn(&self, msg: &str) {
        if std::io::stderr().is_terminal() && color_allowed() {
            crate::errln!("\x1b[33mwarning:\x1b[0m {msg}");
        } else {
            crate::errln!("warning: {msg}");
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

/// Set when standard output turned out closed (`| head`, `| grep -q`): from
/// then on output is dropped and the command carries on to the end, so a
/// closed pipe never abandons work half done and the exit code is the
/// command's own.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The first write error on standard output other than a closed pipe
/// (a full disk behind `> file`): reported by `main` when the command ends.
static STDOUT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Write to standard output without ever panicking (what `println!` does on
/// a closed pipe). Used through the [`outln!`](crate::outln) and
/// [`out!`](crate::out) macros.
pub fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let r = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")?;
        }
        Ok(())
    });
    if let Err(e) = r {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut slot = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }
    }
}

/// Flush standard output at the end of a command; the first write error
/// other than a closed pipe, if any, to be reported.
pub fn finish_stdout() -> Option<String> {
    use std::sync::atomic::Ordering;
    if !STDOUT_CLOSED.load(Ordering::Relaxed)
        && let Err(e) = std::io::stdout().lock().flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Some(e.to_string());
    }
    STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}

/// Write to standard error without ever panicking (what `eprintln!` does
/// when stderr is a closed pipe, e.g. `billrun … 2>&1 | head -1`): a
/// message that cannot be written is dropped, and the command keeps its
/// own exit code. Used through [`errln!`](crate::errln).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `eprintln!` that never panics: a closed stderr drops the message.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::output::write_stderr(format_args!($($t)*)) };
}

/// `println!` that never panics: a closed pipe drops the output.
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::output::write_stdout(format_args!(""), true) };
    ($($t:tt)*) => { $crate::cli::output::write_stdout(format_args!($($t)*), true) };
}

/// `print!` that never panics: a closed pipe drops the output.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::output::write_stdout(format_args!($($t)*), false) };
}

/// Print one JSON document on stdout.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    write_stdout(format_args!("{text}"), true);
    Ok(())
}

/// Print a table (or nothing when quiet).
pub fn print_table(ctx: &Ctx, t: &Table) -> anyhow::Result<()> {
    let _ = ctx;
    write_stdout(format_args!("{t}"), true);
    Ok(())
}

/// The exit code for an error chain (docs/commands.md).
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
