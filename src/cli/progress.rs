//! [`Bar`]: the operator's view of an op's [`Progress`] (indicatif), drawn
//! on stderr only when it is a terminal and not `--quiet`. Notes are
//! warnings for the operator and are always shown.
//!
//! Drawing is throttled by indicatif (at most 20 redraws a second), so an
//! op may call `inc` per item. A phase without a total is a spinner that
//! turns on its own (a background tick), so a long query or a gateway
//! call still shows the command is alive. A bar left by an op that failed
//! is cleared, so the error message stands alone.

use super::output::Ctx;
use crate::ops::Progress;
use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::Duration;

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

    /// Show `b` (with message `what`) in place of the current bar.
    fn show(&self, what: &str, b: ProgressBar) {
        let b = b.with_finish(ProgressFinish::AndClear);
        b.set_message(what.to_string());
        if let Some(old) = self.bar.replace(Some(b)) {
            old.finish_and_clear();
        }
    }
}

/// `template` with `{rate}`: units a second, whole (indicatif's
/// `{per_sec}` shows four decimals); and `{so_far}`: a spinner's count
/// and rate, once it has counted something (a spinner that only waits,
/// e.g. for a query, shows just its message).
fn style(template: &str, fallback: ProgressStyle) -> ProgressStyle {
    use indicatif::{HumanCount, ProgressState};
    match ProgressStyle::with_template(template) {
        Ok(s) => s
            .with_key("rate", |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", HumanCount(st.per_sec() as u64));
            })
            .with_key(
                "so_far",
                |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                    if st.pos() > 0 {
                        let rate = HumanCount(st.per_sec() as u64);
                        let _ = write!(w, ": {} ({rate}/s)", HumanCount(st.pos()));
                    }
                },
            ),
        Err(_) => fallback,
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        if !self.shown {
            return;
        }
        if total == Some(0) {
            // Nothing to do in this phase: no bar flashing 0/0.
            self.finish();
            return;
        }
        let b = match total {
            Some(n) => ProgressBar::new(n).with_style(style(
                "{msg} {bar:30} {human_pos}/{human_len} {rate} ETA {eta}",
                ProgressStyle::default_bar(),
            )),
            None => ProgressBar::new_spinner().with_style(style(
                "{spinner} {msg}{so_far}",
                ProgressStyle::default_spinner(),
            )),
        };
        if total.is_none() {
            b.enable_steady_tick(Duration::from_millis(120));
        }
        self.show(what, b);
    }

    fn start_bytes(&self, what: &str, total: u64) {
        if !self.shown {
            return;
        }
        if total == 0 {
            // An empty file: no bar flashing 0 B/0 B (as `start`).
            self.finish();
            return;
        }
        let b = ProgressBar::new(total).with_style(style(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ProgressStyle::default_bar(),
        ));
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
