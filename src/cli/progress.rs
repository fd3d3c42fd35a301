//! [`Bar`]: the operator's view of an op's [`Progress`] (indicatif), drawn
//! on stderr only when it is a terminal and not `--quiet`. Notes are
//! warnings for the operator and are always shown.

use super::output::Ctx;
use crate::ops::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::RefCell;
use std::io::IsTerminal;

/// A progress bar per phase; nothing at all when hidden.
pub struct Bar {
    ctx: Ctx,
    shown: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Bar {
    pub fn new(ctx: &Ctx) -> Bar {
        Bar {
            ctx: ctx.clone(),
            shown: !ctx.quiet && std::io::stderr().is_terminal(),
            bar: RefCell::new(None),
        }
    }
}

impl Bar {
    /// Show `b` (with message `what`) in place of the current bar.
    fn show(&self, what: &str, b: ProgressBar) {
        b.set_message(what.to_string());
        if let Some(old) = self.bar.replace(Some(b)) {
            old.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        if !self.shown {
            return;
        }
        let b = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {per_sec} {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg}: {human_pos} {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        self.show(what, b);
    }

    fn start_bytes(&self, what: &str, total: u64) {
        if !self.shown {
            return;
        }
        let b = ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.show(what, b);
    }

    fn inc(&self, n: u64) {
        if let Some(b) = &*self.bar.borrow() {
            b.inc(n);
        }
    }

    fn note(&self, msg: &str) {
        match &*self.bar.borrow() {
            Some(b) => b.suspend(|| self.ctx.warn(msg)),
            None => self.ctx.warn(msg),
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
