//! Wholesale fixed fees (docs/rating.md#wholesale-fixed-fees), behind `features.wholesale_fees`:
//! importing a carrier's fee file (each line matched to a service, the rest
//! recorded as fee errors) and registering fee codes.

use super::Clock;
use crate::domain::settings::Settings;
use crate::domain::{csvfile, fees};
use crate::error::{Error, Result, precondition};
use crate::store::audit::Actor;
use crate::store::{Store, fees as feestore};

pub use crate::store::fees::Imported;

/// Wholesale fees are off unless `features.wholesale_fees` is on.
pub fn require_enabled(settings: &Settings) -> Result<()> {
    if settings.wholesale_fees {
        Ok(())
    } else {
        Err(precondition(
            "wholesale fixed fees are off: turn them on with `billrun config set features.wholesale_fees true`",
        ))
    }
}

/// A fee file to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The carrier that sent it.
    pub carrier: String,
    /// The file's name as the operator gave it.
    pub label: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// Import a fee file once (a file already imported is refused): every line
/// valid, or nothing stored.
pub fn import(
    store: &mut Store,
    actor: &Actor,
    opts: &ImportOptions,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<Imported> {
    require_enabled(settings)?;
    let rows = fees::parse(&opts.label, &opts.bytes)
        .map_err(|p| Error::BadInput(csvfile::report(&p, "Fix the file and import it again.")))?;
    let sha = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&opts.bytes))
    };
    let now = clock.stamp();
    let tx = store.write()?;
    let r = feestore::import(
        &tx,
        actor,
        &feestore::FeeFile {
            carrier: &opts.carrier,
            name: &opts.label,
            sha256: &sha,
            imported_at: &now,
        },
        &rows,
    )?;
    tx.commit()?;
    Ok(r)
}

/// Register (or re-describe) a fee code.
pub fn add_code(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    description: &str,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<()> {
    require_enabled(settings)?;
    for (what, text) in [("CODE", code), ("DESCRIPTION", description)] {
        csvfile::control_free(text).map_err(|e| crate::error::bad_input(format!("{what}: {e}")))?;
    }
    let tx = store.write()?;
    feestore::add_code(&tx, actor, code, description, &clock.stamp())?;
    tx.commit()?;
    Ok(())
}
