//! [`ops::Progress`](crate::ops::Progress) drawn with indicatif: a bar on a
//! terminal, nothing otherwise (stdout or stderr not a terminal, `--json`,
//! `--quiet`). Notes are warnings for the operator and are always shown.

use super::output::Ctx;
use std::cell::RefCell;
use std::io::IsTerminal;

/// A progress bar on stderr (hidden when not on a terminal or when quiet).
pub struct Bar {
    ctx: Ctx,
    visible: bool,
    bar: RefCell<indicatif::ProgressBar>,
}

impl Bar {
    /// A bar shown only when both stdout and stderr are terminals and the
    /// output is neither JSON nor quiet.
    pub fn new(ctx: &Ctx) -> Bar {
        let visible = ctx.tty && !ctx.json && !ctx.quiet && std::io::stderr().is_terminal();
        Bar {
            ctx: ctx.clone(),
            visible,
            bar: RefCell::new(indicatif::ProgressBar::hidden()),
        }
    }
}

impl crate::ops::Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        if !self.visible {
            return;
        }
        let bar = match total {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        let template = if total.is_some() {
            "{prefix} {bar:30} {pos}/{len} {msg}"
        } else {
            "{prefix} {spinner} {pos} {msg}"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_string());
        self.bar.replace(bar).finish_and_clear();
    }

    fn inc(&self, n: u64) {
        self.bar.borrow().inc(n);
    }

    fn note(&self, msg: &str) {
        self.bar.borrow().suspend(|| self.ctx.warn(msg));
    }

    fn finish(&self) {
        self.bar.borrow().finish_and_clear();
    }
}
