//! `billrun errors [RUN] [--kind K] [--detail]`, `errors resolve ID…`,
//! `errors ignore ID…`, `errors rerate` (docs/rating.md).

use super::output::{self, Ctx};
use super::stream;
use crate::domain::billing_errors::{self as be, ErrorRow, KindSummary};
use crate::domain::money;
use crate::domain::rating::ErrorKind;
use crate::error::Error;
use crate::ops::SystemClock;
use crate::ops::errors::{self as op, Close};
use crate::store::{Store, audit::Actor, cdrs, settings};
use clap::Subcommand;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Only errors dated on or before this run's cutoff (id or name).
    pub run: Option<String>,
    /// Only this kind: malformed, duplicate, unknown_service, service_inactive,
    /// no_rate, fee_unknown_service, fee_unknown_code.
    #[arg(long)]
    pub kind: Option<String>,
    /// List the errors one by one (the drill-down).
    #[arg(long)]
    pub detail: bool,
    /// With --detail/--json: resolved and ignored errors too.
    #[arg(long)]
    pub all: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Mark errors resolved (handled); the CDR stays unbilled unless re-rated.
    Resolve {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Mark errors ignored (accepted as not billable).
    Ignore {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Re-rate every open error's CDR against today's reference data and
    /// resolve those that now rate.
    Rerate,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, a: Args) -> anyhow::Result<()> {
    match a.cmd {
        Some(Cmd::Resolve { ids }) => close(ctx, store, actor, &ids, Close::Resolved),
        Some(Cmd::Ignore { ids }) => close(ctx, store, actor, &ids, Close::Ignored),
        Some(Cmd::Rerate) => rerate(ctx, store, actor),
        None => report(ctx, store, a),
    }
}

fn close(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    ids: &[i64],
    how: Close,
) -> anyhow::Result<()> {
    let r = op::close(store, actor, ids, how, &SystemClock)?;
    ctx.say(&format!("{} billing errors {}", r.count, r.state));
    if ctx.json {
        output::print_json(&r)?;
    }
    Ok(())
}

fn rerate(ctx: &Ctx, store: &mut Store, actor: &Actor) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let op::Rerate { cdrs: r, fees } = op::rerate(
        store,
        actor,
        &settings,
        &SystemClock,
        &super::progress::Bar::new(ctx),
    )?;
    if fees.resolved + fees.still_open > 0 {
        ctx.say(&format!(
            "fee errors re-matched: {} now match, {} still open",
            fees.resolved, fees.still_open
        ));
    }
    ctx.say(&format!(
        "{} open errors re-rated: {} now rate ({}), {} still open",
        r.checked,
        r.resolved,
        money::fmt_minor(r.charge_minor),
        r.still_open + r.changed.len() as u64
    ));
    for (old, new, kind) in &r.changed {
        ctx.say(&format!(
            "  error {old} now fails a later check: new error {new} ({kind})"
        ));
    }
    if ctx.json {
        output::print_json(&r)?;
    }
    Ok(())
}

fn summary_json(s: &KindSummary) -> serde_json::Value {
    serde_json::json!({
        "kind": s.kind.as_str(), "open": s.open, "resolved": s.resolved, "ignored": s.ignored,
        "carrier_cost": be::cost(s), "distinct": s.distinct,
        "distinct_of": be::distinct_label(s.kind),
    })
}

fn error_json(r: &ErrorRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "kind": r.kind.as_str(), "state": r.state, "service": r.service,
        "destination": r.destination, "start": r.start, "file": r.file, "line": r.line,
        "detail": r.detail, "carrier_cost": money::fmt(r.carrier_cost),
    })
}

const DETAIL_HEADER: [&str; 9] = [
    "id",
    "kind",
    "state",
    "service",
    "destination",
    "start",
    "file:line",
    "cost",
    "detail",
];

fn detail_cells(r: &ErrorRow) -> Vec<String> {
    vec![
        r.id.to_string(),
        r.kind.as_str().to_string(),
        r.state.clone(),
        r.service.clone().unwrap_or_default(),
        r.destination.clone().unwrap_or_default(),
        r.start.clone().unwrap_or_default(),
        format!("{}:{}", r.file.as_deref().unwrap_or("?"), r.line),
        money::fmt(r.carrier_cost),
        r.detail.clone(),
    ]
}

/// The summary, then (JSON, or text with --detail) the errors streamed as
/// they are read: nothing holds them all.
fn report(ctx: &Ctx, store: &Store, a: Args) -> anyhow::Result<()> {
    let kind = a
        .kind
        .as_deref()
        .map(|k| k.parse::<ErrorKind>().map_err(Error::Usage))
        .transpose()?;
    let opts = op::ReportOptions { run: a.run, kind };
    let rep = op::report(store, &opts)?;
    if ctx.json {
        let mut j = stream::Json::object();
        j.field(
            "summary",
            &rep.summary.iter().map(summary_json).collect::<Vec<_>>(),
        )?;
        j.begin_array("errors")?;
        let mut failed = None;
        op::each(store, &rep, a.all, |r| {
            if failed.is_none()
                && let Err(e) = j.item(&error_json(&r))
            {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        j.end_array();
        j.field("suggestions", &rep.suggestions)?;
        j.end_object();
        return Ok(());
    }
    let summary = &rep.summary;
    if summary.is_empty() {
        ctx.say("no billing errors");
        return Ok(());
    }
    let mut t = ctx.table(&[
        "kind",
        "open",
        "carrier cost",
        "distinct",
        "resolved",
        "ignored",
    ]);
    for s in summary {
        let open = if s.open > 0 {
            ctx.red(&s.open.to_string())
        } else {
            ctx.green("0")
        };
        t.add_row(vec![
            s.kind.as_str().to_string(),
            open,
            be::cost(s),
            format!("{} {}", s.distinct, be::distinct_label(s.kind)),
            s.resolved.to_string(),
            s.ignored.to_string(),
        ]);
    }
    output::print_table(ctx, &t)?;
    let with: Vec<_> = rep
        .suggestions
        .iter()
        .filter(|s| !s.suggest.is_empty())
        .collect();
    if !with.is_empty() {
        crate::outln!("Suggestions (unknown services that look like known ones):");
        for s in with {
            crate::outln!(
                "  {} ({} CDRs): did you mean {}? (the same number in another national/international form)",
                s.service,
                s.cdrs,
                s.suggest.join(" or ")
            );
        }
    }
    if a.detail {
        // Two passes: the column widths, then the rows.
        let mut widths = stream::Widths::of(&DETAIL_HEADER);
        op::each(store, &rep, a.all, |r| widths.fit(&detail_cells(&r)))?;
        let t = stream::Table::start(&DETAIL_HEADER, &widths);
        op::each(store, &rep, a.all, |r| t.row(&detail_cells(&r)))?;
        t.finish();
    } else if let Some(top) = summary.iter().find(|s| s.open > 0) {
        ctx.say(&format!(
            "Drill down: billrun errors --kind {} --detail; then fix reference data and billrun errors rerate, or billrun errors resolve|ignore ID…",
            top.kind
        ));
    }
    Ok(())
}

/// The ids of the open errors of these kinds (for the demo's scripted
/// operator, who would read them off `errors --detail`).
pub fn open_ids(db: &std::path::Path, kinds: &[&str]) -> anyhow::Result<Vec<String>> {
    let store = super::open(db)?;
    Ok(cdrs::list_errors(&store.conn, None, None, false)?
        .into_iter()
        .filter(|r| kinds.contains(&r.kind.as_str()))
        .map(|r| r.id.to_string())
        .collect())
}
