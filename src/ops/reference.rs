//! Reference data imports (customers, services, plans, tariffs): all or
//! nothing. The whole file is validated first and every problem reported;
//! then one transaction writes every row.

use crate::domain::csvfile::{self, Problem};
use crate::domain::reference;
use crate::domain::settings::Settings;
use crate::error::{Error, Result};
use crate::store::{Store, audit::Actor, reference as refstore};
use serde::Serialize;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customers,
    Services,
    Plans,
    Tariffs,
    /// Inclusive allowances of plans (`domain::allowance`).
    Allowances,
}

/// One file to import.
#[derive(Debug, Clone)]
pub struct Import {
    pub kind: Kind,
    /// The file's name as the operator gave it (in every problem reported).
    pub label: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub file: String,
    pub inserted: u64,
    pub updated: u64,
}

fn refused(problems: Vec<Problem>) -> Error {
    Error::BadInput(csvfile::report(
        &problems,
        "Fix the file and import it again.",
    ))
}

/// Validate the whole file against what is known, then upsert its rows.
pub fn import(
    store: &mut Store,
    actor: &Actor,
    opts: &Import,
    settings: &Settings,
) -> Result<Imported> {
    let (label, bytes) = (opts.label.as_str(), opts.bytes.as_slice());
    let tx = store.write()?;
    let n = match opts.kind {
        Kind::Customers => {
            let known = refstore::known(&tx)?;
            let rows = reference::parse_customers(label, bytes, &known, &settings.dd.format)
                .map_err(refused)?;
            refstore::upsert_customers(&tx, actor, label, &rows)?
        }
        Kind::Services => {
            let known = refstore::known(&tx)?;
            let rows = reference::parse_services(label, bytes, &known).map_err(refused)?;
            refstore::upsert_services(&tx, actor, label, &rows)?
        }
        Kind::Plans => {
            let known = refstore::known(&tx)?;
            let rows = reference::parse_plans(label, bytes, &known).map_err(refused)?;
            refstore::upsert_plans(&tx, actor, label, &rows)?
        }
        Kind::Tariffs => {
            let rows = reference::parse_tariffs(label, bytes).map_err(refused)?;
            refstore::upsert_tariffs(&tx, actor, label, &rows)?
        }
        Kind::Allowances => {
            let known = refstore::known(&tx)?;
            let rows = crate::domain::allowance::parse_allowances(label, bytes, &known.plans)
                .map_err(refused)?;
            crate::store::allowances::upsert(&tx, actor, label, &rows)?
        }
    };
    tx.commit()?;
    Ok(Imported {
        file: opts.label.clone(),
        inserted: n.inserted,
        updated: n.updated,
    })
}
