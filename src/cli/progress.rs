//! Progress bars: [`Bar`] draws an op's [`Progress`](crate::ops::Progress)
//! with indicatif on stderr, and draws nothing when stderr is not a
//! terminal, with `--quiet` or `--json`, or when stdout is not a terminal.

use super::output::Ctx;
use crate::ops::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// An indicatif progress bar behind [`Progress`].
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    visible: bool,
}

impl Bar {
    /// A bar shown only to a person watching a terminal (see the module doc).
    pub fn new(ctx: &Ctx) -> Bar {
        Bar::shown_if(ctx.tty && !ctx.quiet && !ctx.json && std::io::stderr().is_terminal())
    }

    /// A bar drawn on stderr if `visible`, else never drawn.
    pub fn shown_if(visible: bool) -> Bar {
        Bar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
            visible,
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        let (template, len) = match total {
            Some(n) => ("{bar:40} {pos}/{len} {msg} {eta}", Some(n)),
            None => ("{spinner} {pos} {msg}", None),
        };
        self.bar
            .set_style(ProgressStyle::with_template(template).expect("valid template"));
        match len {
            Some(n) => self.bar.set_length(n),
            None => self.bar.unset_length(),
        }
        self.bar.set_position(0);
        self.bar.set_message(what.to_owned());
        if self.visible {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    fn note(&self, msg: &str) {
        self.bar.suspend(|| eprintln!("{msg}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
