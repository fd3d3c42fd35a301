//! Settings storage. Values are validated by `domain::settings` before they
//! get here; reads fall back to the catalogue's defaults.

use super::audit::{self, Actor};
use crate::domain::settings::{self, KEYS};
use crate::error::{Result, bad_input};
use rusqlite::{Connection, OptionalExtension, params};

/// The effective value of a known key (stored, else default).
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    let k = settings::find(key).ok_or_else(|| bad_input(format!("unknown setting '{key}'")))?;
    let v: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.or(k.default.map(String::from)).filter(|s| !s.is_empty()))
}

/// Every setting, typed, read in one query (stored values over defaults).
pub fn load(conn: &Connection) -> Result<settings::Settings> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings")?;
    let stored: std::collections::HashMap<String, String> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    settings::Settings::from_stored(|k| stored.get(k).cloned()).map_err(crate::error::precondition)
}

/// Validate and store; returns the stored (normalised) value.
pub fn set(conn: &Connection, actor: &Actor, key: &str, value: &str) -> Result<String> {
    let v = settings::validate(key, value).map_err(bad_input)?;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, v],
    )?;
    audit::log(conn, actor, None, "config set", &format!("{key} = {v}"))?;
    Ok(v)
}

/// Every key with its effective value and whether it was set explicitly.
pub fn list(conn: &Connection) -> Result<Vec<(&'static str, Option<String>, bool)>> {
    let mut out = Vec::new();
    for k in KEYS {
        let stored: Option<String> = conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [k.name], |r| {
                r.get(0)
            })
            .optional()?;
        let explicit = stored.is_some();
        out.push((k.name, stored.or(k.default.map(String::from)), explicit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn set_validates_and_get_falls_back_to_default() {
        let s = Store::memory().unwrap();
        assert_eq!(get(&s.conn, "tax.rate").unwrap().as_deref(), Some("0.20"));
        set(&s.conn, &Actor::test(), "tax.rate", "0.10").unwrap();
        assert_eq!(get(&s.conn, "tax.rate").unwrap().as_deref(), Some("0.10"));
        assert!(set(&s.conn, &Actor::test(), "tax.rate", "ten").is_err());
        assert!(get(&s.conn, "nope").is_err());
        assert_eq!(get(&s.conn, "dd.sun").unwrap(), None);
    }
}
