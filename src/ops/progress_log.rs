//! A [`Progress`] that records what an op reports, for unit tests: the
//! phases it starts (name and total), the units it adds to each, and its
//! notes. [`Log::check`] holds the contract every op keeps: a phase with
//! a total never gets more units than its total, and a finished one that
//! ran to the end got exactly its total.

use super::Progress;
use std::cell::RefCell;

/// One phase as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub what: String,
    pub total: Option<u64>,
    /// The sum of its `inc`s.
    pub done: u64,
    /// How many `inc` calls (updates are per item or per batch, never per byte).
    pub incs: u64,
}

#[derive(Debug, Default)]
pub struct Log {
    phases: RefCell<Vec<Phase>>,
    notes: RefCell<Vec<String>>,
    finishes: RefCell<u64>,
}

impl Log {
    pub fn phases(&self) -> Vec<Phase> {
        self.phases.borrow().clone()
    }

    /// The phase named `what` (panics in the test when there is none).
    pub fn phase(&self, what: &str) -> Phase {
        self.phases()
            .into_iter()
            .find(|p| p.what == what)
            .unwrap_or_else(|| panic!("no phase {what:?} in {:?}", self.phases()))
    }

    pub fn names(&self) -> Vec<String> {
        self.phases().into_iter().map(|p| p.what).collect()
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.borrow().clone()
    }

    /// Every determinate phase got exactly its total, and the op said it
    /// was finished.
    pub fn check_complete(&self) {
        for p in self.phases() {
            if let Some(t) = p.total {
                assert_eq!(p.done, t, "phase {:?} reported {} of {t}", p.what, p.done);
            }
        }
        assert!(*self.finishes.borrow() > 0, "the op never called finish");
    }
}

impl Progress for Log {
    fn start(&self, what: &str, total: Option<u64>) {
        self.phases.borrow_mut().push(Phase {
            what: what.to_string(),
            total,
            done: 0,
            incs: 0,
        });
    }

    fn inc(&self, n: u64) {
        let mut phases = self.phases.borrow_mut();
        let p = phases.last_mut().expect("inc before any start");
        p.done += n;
        p.incs += 1;
        if let Some(t) = p.total {
            assert!(
                p.done <= t,
                "phase {:?} went past its total: {} > {t}",
                p.what,
                p.done
            );
        }
    }

    fn note(&self, msg: &str) {
        self.notes.borrow_mut().push(msg.to_string());
    }

    fn finish(&self) {
        *self.finishes.borrow_mut() += 1;
    }
}
