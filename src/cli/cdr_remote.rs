//! `cdr fetch`: what came in from carriers' remote sources.

use super::output::Ctx;
use crate::ops::cdr_import::Fetched;
use crate::ops::cdr_sources::{CarrierFetch, RemoteFetched};
use serde::Serialize;

/// The JSON of `cdr fetch`: the inbox report, and `remote` per carrier.
#[derive(Serialize)]
pub struct Both<'a> {
    #[serde(flatten)]
    pub inbox: &'a Fetched,
    pub remote: &'a [CarrierFetch],
}

/// Files newly stored from remote sources.
pub fn stored(r: &RemoteFetched) -> usize {
    r.carriers
        .iter()
        .flat_map(|c| &c.files)
        .filter(|f| f.id.is_some())
        .count()
}

pub fn say(ctx: &Ctx, r: &RemoteFetched) {
    for c in &r.carriers {
        if let Some(k) = &c.host_key_pinned {
            ctx.say(&format!(
                "{}: SFTP host key {k} pinned on first use (check it with the carrier)",
                c.carrier
            ));
        }
        for f in &c.files {
            match (f.id, &f.duplicate_of) {
                (Some(id), _) => ctx.say(&format!(
                    "fetched {} from {} ({} bytes): CDR file {id}, pending",
                    f.name, c.carrier, f.bytes
                )),
                (None, Some(d)) => ctx.warn(&format!(
                    "{}: {} holds the same bytes as CDR file {d}; not stored again",
                    c.carrier, f.name
                )),
                (None, None) => {}
            }
        }
        for n in &c.still_writing {
            ctx.say(&format!(
                "{}: {n} changed while downloading (still being written); left for the next fetch",
                c.carrier
            ));
        }
        for n in &c.moved {
            ctx.say(&format!(
                "{}: {n} moved to the remote done directory",
                c.carrier
            ));
        }
        if !c.marked_seen.is_empty() {
            ctx.say(&format!(
                "{}: {} fetched message(s) flagged \\Seen ({})",
                c.carrier,
                c.marked_seen.len(),
                c.marked_seen.join(", ")
            ));
        }
        if let Some(e) = &c.error {
            ctx.warn(&format!("carrier {} not fetched: {e}", c.carrier));
        }
    }
}
