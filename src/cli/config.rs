//! `billrun config set|get|list`.

use super::output::{self, Ctx};
use crate::ops;
use crate::store::{Store, audit::Actor, settings};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Set a setting (validated).
    Set { key: String, value: String },
    /// Print a setting's effective value.
    Get { key: String },
    /// Every setting with its value (defaults marked).
    List,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Set { key, value } => {
            let r = ops::config::set(store, actor, &ops::config::SetOptions { key, value })?;
            ctx.say(&format!("{} = {}", r.key, r.value));
            if ctx.json {
                output::print_json(&r)?;
            }
        }
        Cmd::Get { key } => {
            let v = settings::get(&store.conn, &key)?;
            if ctx.json {
                output::print_json(&serde_json::json!({ "key": key, "value": v }))?;
            } else {
                crate::outln!("{}", v.unwrap_or_default());
            }
        }
        Cmd::List => {
            let rows = settings::list(&store.conn)?;
            let prefix = crate::store::collect::idempotency_prefix(&store.conn)?;
            if ctx.json {
                let mut m: serde_json::Map<String, serde_json::Value> = rows
                    .iter()
                    .map(|(k, v, _)| (k.to_string(), serde_json::json!(v)))
                    .collect();
                m.insert("idempotency_prefix".into(), serde_json::json!(prefix));
                output::print_json(&m)?;
            } else {
                let mut t = ctx.table(&["key", "value", "", "meaning"]);
                for (k, v, explicit) in rows {
                    let help = crate::domain::settings::find(k)
                        .map(|k| k.help)
                        .unwrap_or("");
                    t.add_row(vec![
                        k.to_string(),
                        v.unwrap_or_default(),
                        if explicit { "" } else { "default" }.into(),
                        help.into(),
                    ]);
                }
                t.add_row(vec![
                    "idempotency_prefix".into(),
                    prefix,
                    "database".into(),
                    "Random, fixed when the database was created; starts every gateway \
                     idempotency key (not settable)"
                        .into(),
                ]);
                output::print_table(ctx, &t)?;
            }
        }
    }
    Ok(())
}
