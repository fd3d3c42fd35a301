//! The billing run's lifecycle: one state machine whose transitions are the
//! only way a run's status changes (the store applies a `Transition` and
//! writes the audit log in the same transaction).
//!
//! `pending` → (`ready` → `approved`, optional sign-off) → `requested` →
//! `running` → `completed`. Decisions where the documented rules were silent:
//! - changing a field (`set-dates`) of a `ready`/`approved` run withdraws the
//!   sign-off: the run goes back to `pending` and must be signed off again;
//! - `approve` is allowed from `pending` too (it implies ready);
//! - `produce` on a `running` run resumes it (a crash left it there);
//! - `cancel` takes a run that is not yet requested (`pending`, `ready`,
//!   `approved`) to `cancelled`, for good: a cancelled run keeps its row
//!   (and its audit trail) but nothing more can happen to it.

use chrono::NaiveDate;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunStatus {
    Pending,
    Ready,
    Approved,
    Requested,
    Running,
    Completed,
    /// Cancelled before bills were requested; final.
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Pending,
        RunStatus::Ready,
        RunStatus::Approved,
        RunStatus::Requested,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Ready => "ready",
            RunStatus::Approved => "approved",
            RunStatus::Requested => "requested",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Fields lock once bills are requested (and for good when cancelled).
    pub fn is_locked(self) -> bool {
        self >= RunStatus::Requested
    }

    /// Cancelled: no step applies any more.
    pub fn is_cancelled(self) -> bool {
        self == RunStatus::Cancelled
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown run status '{s}'"))
    }
}

/// A request to change a run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Operator marks the run ready (runs the pre-billing report).
    Ready,
    /// Operator approves (sign-off; runs the pre-billing report).
    Approve,
    /// A field changed after sign-off: back to pending.
    Reopen,
    /// Lock the run and request bills.
    Request,
    /// Production starts (or resumes).
    StartProduction,
    /// Every invoice and PDF is produced.
    Complete,
    /// Drop a run that was created by mistake (before bills are requested).
    Cancel,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Ready => "ready",
            Transition::Approve => "approve",
            Transition::Reopen => "reopen",
            Transition::Request => "request",
            Transition::StartProduction => "produce",
            Transition::Complete => "complete",
            Transition::Cancel => "cancel",
        }
    }
}

/// Apply `t` to `from`: the new status, or why not (a message naming what to do).
pub fn apply(from: RunStatus, t: Transition) -> Result<RunStatus, String> {
    use RunStatus::*;
    use Transition as T;
    let to = match (from, t) {
        (Pending, T::Ready) => Ready,
        (Pending | Ready, T::Approve) => Approved,
        (Ready | Approved, T::Reopen) => Pending,
        (Pending | Ready | Approved, T::Request) => Requested,
        (Requested | Running, T::StartProduction) => Running,
        (Running, T::Complete) => Completed,
        (Pending | Ready | Approved, T::Cancel) => Cancelled,
        (Cancelled, _) => {
            return Err("the run is cancelled: nothing more can be done with it".into());
        }
        (s @ (Requested | Running | Completed), T::Cancel) => {
            return Err(format!(
                "the run is {s}: bills were already requested, so it can no longer be cancelled"
            ));
        }
        (s @ (Requested | Running | Completed), T::Ready | T::Approve | T::Reopen | T::Request) => {
            return Err(format!(
                "the run is {s}: bills were already requested and the run is locked"
            ));
        }
        (Approved, T::Ready) => return Err("the run is already approved".into()),
        (Ready, T::Ready) => return Err("the run is already ready".into()),
        (Approved, T::Approve) => return Err("the run is already approved".into()),
        (Pending, T::Reopen) => return Err("the run is already pending".into()),
        (Completed, T::StartProduction) => {
            return Err("the run is completed: every invoice is produced".into());
        }
        (s, T::StartProduction) => {
            return Err(format!(
                "the run is {s}: request bills first (billrun request RUN)"
            ));
        }
        (s, T::Complete) => {
            return Err(format!("the run is {s}, not running: nothing to complete"));
        }
    };
    Ok(to)
}

impl serde::Serialize for RunStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A run's dates must be consistent: the due date not before the invoice
/// date, the cutoff not after it (charges up to the cutoff must be known when
/// invoicing). The message names the dates.
pub fn check_dates(
    invoice: Option<NaiveDate>,
    cutoff: Option<NaiveDate>,
    due: Option<NaiveDate>,
) -> Result<(), String> {
    if let (Some(i), Some(d)) = (invoice, due)
        && d < i
    {
        return Err(format!("due date {d} is before the invoice date {i}"));
    }
    if let (Some(i), Some(c)) = (invoice, cutoff)
        && c > i
    {
        return Err(format!(
            "cutoff {c} is after the invoice date {i}: charges up to the cutoff must be known when invoicing"
        ));
    }
    Ok(())
}

/// The name of a new run: the one given (not blank), else the cutoff month
/// (`2026-11`, prefixed with the cycle unless it is `monthly`), else
/// `run-` and the creation time `stamp`.
pub fn run_name(
    given: Option<&str>,
    cycle: &str,
    cutoff: Option<NaiveDate>,
    stamp: &str,
) -> Result<String, String> {
    Ok(match given {
        Some(n) if n.trim().is_empty() => return Err("--name must not be empty".into()),
        Some(n) => n.to_string(),
        None => match cutoff {
            Some(c) if cycle == "monthly" => c.format("%Y-%m").to_string(),
            Some(c) => format!("{cycle}-{}", c.format("%Y-%m")),
            None => format!("run-{stamp}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunStatus::*;
    use Transition as T;

    /// Every (status, transition) pair: the allowed ones and their targets.
    #[test]
    fn every_transition_allowed_or_refused() {
        let allowed = [
            (Pending, T::Ready, Ready),
            (Pending, T::Approve, Approved),
            (Ready, T::Approve, Approved),
            (Ready, T::Reopen, Pending),
            (Approved, T::Reopen, Pending),
            (Pending, T::Request, Requested),
            (Ready, T::Request, Requested),
            (Approved, T::Request, Requested),
            (Requested, T::StartProduction, Running),
            (Running, T::StartProduction, Running),
            (Running, T::Complete, Completed),
            (Pending, T::Cancel, Cancelled),
            (Ready, T::Cancel, Cancelled),
            (Approved, T::Cancel, Cancelled),
        ];
        let all_t = [
            T::Ready,
            T::Approve,
            T::Reopen,
            T::Request,
            T::StartProduction,
            T::Complete,
            T::Cancel,
        ];
        for from in RunStatus::ALL {
            for t in all_t {
                let expect = allowed
                    .iter()
                    .find(|(f, tt, _)| *f == from && *tt == t)
                    .map(|x| x.2);
                match (apply(from, t), expect) {
                    (Ok(to), Some(e)) => assert_eq!(to, e, "{from} {t:?}"),
                    (Err(msg), None) => assert!(!msg.is_empty()),
                    (got, want) => panic!("{from} {t:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn locked_run_refuses_with_reason() {
        let e = apply(Completed, T::Request).unwrap_err();
        assert!(e.contains("locked"), "{e}");
        assert!(Requested.is_locked() && !Approved.is_locked());
        assert_eq!("running".parse::<RunStatus>().unwrap(), Running);
    }

    #[test]
    fn run_names_and_dates() {
        let d = |s: &str| s.parse::<NaiveDate>().ok();
        assert_eq!(
            run_name(None, "monthly", d("2026-11-30"), "x").unwrap(),
            "2026-11"
        );
        assert_eq!(
            run_name(None, "weekly", d("2026-11-30"), "x").unwrap(),
            "weekly-2026-11"
        );
        assert_eq!(run_name(None, "monthly", None, "T").unwrap(), "run-T");
        assert!(run_name(Some(" "), "monthly", None, "T").is_err());
        assert!(check_dates(d("2026-12-01"), d("2026-11-30"), d("2026-12-15")).is_ok());
        assert!(check_dates(d("2026-12-01"), None, d("2026-11-15")).is_err());
        assert!(check_dates(d("2026-11-01"), d("2026-11-30"), None).is_err());
    }
}
