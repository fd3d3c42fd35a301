//! `config set`: validate and store one setting (audited). Works even when
//! another stored setting no longer parses, so that it can be fixed: it
//! does not load the typed `Settings`.

use crate::error::Result;
use crate::store::{Store, audit::Actor, settings};
use serde::Serialize;

/// One setting to store.
#[derive(Debug, Clone)]
pub struct SetOptions {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetReport {
    pub key: String,
    /// The value stored (normalised by the catalogue's validator).
    pub value: String,
}

pub fn set(store: &mut Store, actor: &Actor, opts: &SetOptions) -> Result<SetReport> {
    let tx = store.write()?;
    let value = settings::set(&tx, actor, &opts.key, &opts.value)?;
    tx.commit()?;
    Ok(SetReport {
        key: opts.key.clone(),
        value,
    })
}
