//! One-off charges and credits (docs/rating.md#one-off-charges-and-credits): adding one (checked against the
//! account and its services) and removing one not billed yet.

use super::Clock;
use crate::domain::{csvfile, payments::parse_amount_minor, rating::normalise_number};
use crate::error::{Error, Result, bad_input};
use crate::store::audit::Actor;
use crate::store::{Store, charges};
use serde::Serialize;

pub use crate::store::charges::Charge;

/// A charge as the operator typed it.
#[derive(Debug, Clone)]
pub struct AddOptions {
    pub account: String,
    /// Ex-tax, at most two decimals; negative for a credit.
    pub amount: String,
    /// Printed on the invoice line.
    pub description: String,
    /// The service it is for (must belong to the account).
    pub service: Option<String>,
    /// YYYY-MM-DD; today when `None`.
    pub date: Option<String>,
}

/// The charge added.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub id: i64,
    /// What was added (parsed and normalised).
    #[serde(skip)]
    pub new: charges::NewCharge,
    /// As stored.
    pub charge: Option<Charge>,
    /// The run that would have billed it is already locked: `(name,
    /// cutoff)`; the charge waits for the next run.
    pub locked_run: Option<(String, String)>,
}

fn bad(flag: &str, e: String) -> Error {
    bad_input(format!("{flag}: {e}"))
}

/// Add a charge (or a credit); billed by the first run whose cutoff is on or
/// after its date.
pub fn add(
    store: &mut Store,
    actor: &Actor,
    opts: &AddOptions,
    clock: &dyn Clock,
) -> Result<Added> {
    let amount_minor = parse_amount_minor(&opts.amount).map_err(|e| bad("--amount", e))?;
    if amount_minor == 0 {
        return Err(bad("--amount", "a charge of 0.00 bills nothing".into()));
    }
    let description = opts.description.trim().to_string();
    if description.is_empty() {
        return Err(bad("--description", "must not be empty".into()));
    }
    csvfile::control_free(&description).map_err(|e| bad("--description", e))?;
    let date = match &opts.date {
        Some(d) => csvfile::date(d.trim()).map_err(|e| bad("--date", e))?,
        None => clock.today(),
    };
    let service = match &opts.service {
        Some(s) => {
            let n = normalise_number(s);
            if n.is_empty() {
                return Err(bad("--service", format!("'{s}' has no digits")));
            }
            Some(n)
        }
        None => None,
    };
    let c = charges::NewCharge {
        account: opts.account.trim().to_string(),
        service,
        date,
        description,
        amount_minor,
        source: "manual".into(),
    };
    let now = clock.stamp();
    let tx = store.write()?;
    let id = charges::add(&tx, actor, &c, &now)?;
    let locked_run = charges::locked_run_covering(&tx, &c.account, c.date)?;
    let charge = charges::get(&tx, id)?;
    tx.commit()?;
    Ok(Added {
        id,
        new: c,
        charge,
        locked_run,
    })
}

/// Remove a charge no invoice has billed (a billed one is refused: credit it
/// instead). Returns the charge removed.
pub fn remove(store: &mut Store, actor: &Actor, id: i64) -> Result<Charge> {
    let tx = store.write()?;
    let c = charges::remove(&tx, actor, id)?;
    tx.commit()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::FixedClock;

    #[test]
    fn adds_a_charge_dated_today_and_removes_it() {
        let mut s = Store::memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO customers (account, name, delivery, payment_method, created_at)
                 VALUES ('A1', 'One', 'print', 'manual', 'x');",
            )
            .unwrap();
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let o = AddOptions {
            account: " A1 ".into(),
            amount: "-10.00".into(),
            description: " Goodwill ".into(),
            service: None,
            date: None,
        };
        let a = add(&mut s, &Actor::test(), &o, &clock).unwrap();
        let c = a.charge.unwrap();
        assert_eq!(c.date.to_string(), "2026-12-02", "today by the clock");
        assert_eq!((c.account.as_str(), c.amount_minor), ("A1", -1000));
        assert_eq!(c.description, "Goodwill");
        assert_eq!(a.locked_run, None);

        let zero = AddOptions {
            amount: "0".into(),
            ..o.clone()
        };
        let e = add(&mut s, &Actor::test(), &zero, &clock).unwrap_err();
        assert!(e.to_string().starts_with("--amount"), "{e}");
        let newline = AddOptions {
            description: "Goodwill\r\nBcc: x".into(),
            ..o.clone()
        };
        let e = add(&mut s, &Actor::test(), &newline, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            e.to_string()
                .starts_with("--description: contains the control character U+000D"),
            "{e}"
        );

        assert_eq!(remove(&mut s, &Actor::test(), a.id).unwrap().id, a.id);
        assert_eq!(
            remove(&mut s, &Actor::test(), a.id)
                .unwrap_err()
                .exit_code(),
            4
        );
    }
}
