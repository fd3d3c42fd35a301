//! `billrun status [RUN] [--all] [--check]`: the next-steps checklist.

use super::output::{self, Ctx};
use crate::domain::checklist::{Stage, State, StepKey};
use crate::ops::status::{RunStatusDoc, StatusOptions};
use crate::ops::{self, SystemClock};
use crate::store::{Store, settings};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id or name (default: the latest open run).
    pub run: Option<String>,
    /// Every open run.
    #[arg(long, conflicts_with = "run")]
    pub all: bool,
    /// Exit 3 when any step needs an operator (for cron and runbooks).
    #[arg(long)]
    pub check: bool,
}

pub fn exec(ctx: &Ctx, store: &Store, a: Args) -> anyhow::Result<ExitCode> {
    let settings = settings::load(&store.conn)?;
    let opts = StatusOptions {
        run: a.run,
        all: a.all,
    };
    let report = ops::status::status(store, &opts, &settings, &SystemClock)?;
    if ctx.json {
        if a.all {
            output::print_json(&report.runs)?;
        } else if let Some(d) = report.runs.first() {
            output::print_json(d)?;
        }
    } else {
        for doc in &report.runs {
            print_text(ctx, doc);
        }
        if a.all && report.runs.is_empty() {
            ctx.say("no open runs");
        }
    }
    Ok(if a.check && report.needs_operator {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(ctx: &Ctx, cl: &RunStatusDoc) {
    let run = &cl.run;
    let s = |d: Option<chrono::NaiveDate>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
    crate::outln!(
        "{}",
        ctx.bold(&format!(
            "Run {} '{}' — {}   invoice date {}, cutoff {}, due {}",
            run.id,
            run.name,
            run.status,
            s(run.invoice_date),
            s(run.cutoff_date),
            s(run.due_date)
        ))
    );
    if cl.banner.unfinished() > 0 {
        crate::outln!("{}", ctx.yellow(&format!("⚠ {}", cl.banner.detail)));
    }
    if cl.run.status.is_cancelled() {
        crate::outln!("{}", ctx.dim("✖ Run cancelled: nothing more to do"));
        return;
    }
    if cl.complete {
        crate::outln!("{}", ctx.green("✔ Run complete"));
        // Failed collections do not hold the run open, but stay visible.
        for st in cl
            .steps
            .iter()
            .filter(|st| st.detail.contains("failed collection"))
        {
            crate::outln!("  {} {}: {}", ctx.yellow("⚠"), st.title, st.detail);
        }
        return;
    }
    let stage_title = if cl.stage == Stage::Pre {
        "Pre-billing steps"
    } else {
        "Post-billing steps"
    };
    crate::outln!("{stage_title}:");
    if cl.stage == Stage::Post {
        crate::outln!("  {} Pre-billing: bills requested", ctx.green("✔"));
    }
    for (i, st) in cl
        .steps
        .iter()
        .filter(|st| st.stage == cl.stage && st.key != StepKey::Complete)
        .enumerate()
    {
        let mark = match st.state {
            State::Done => ctx.green("✔"),
            State::Todo => ctx.yellow("●"),
            State::Blocked => ctx.dim("○"),
            State::Waiting => ctx.yellow("…"),
            State::Skipped => ctx.dim("–"),
        };
        let next = if Some(st.key) == cl.next {
            ctx.bold(" ← next")
        } else {
            String::new()
        };
        crate::outln!(
            "  {mark} {}. {} [{}]{next}",
            i + 1,
            st.title,
            st.state.as_str()
        );
        crate::outln!("       {}", st.detail);
        if let Some(w) = &st.warning {
            crate::outln!("       {}", ctx.yellow(&format!("⚠ {w}")));
        }
        if st.key == StepKey::CheckCdrs && !cl.cdr_carriers.is_empty() {
            print_carriers(ctx, cl);
        }
        if st.key == StepKey::CheckSetup && st.state != State::Done {
            for p in &cl.setup_problems {
                crate::outln!("       - {} {}: {}", p.account, p.name, p.problem);
                crate::outln!("         {}", ctx.dim(&format!("fix: {}", p.fix)));
            }
        }
        if matches!(st.state, State::Todo | State::Waiting) {
            crate::outln!("       {}", ctx.dim(&format!("$ {}", st.command)));
        }
    }
}

/// The Check CDRs step carrier by carrier: files and lines this period
/// against the previous run's period.
fn print_carriers(ctx: &Ctx, cl: &RunStatusDoc) {
    let mut t = ctx.table(&[
        "carrier",
        "this period",
        "previous period",
        "waiting",
        "last fetch",
    ]);
    for c in &cl.cdr_carriers {
        let fetch = cl.carrier_fetches.iter().find(|f| f.carrier == c.carrier);
        let last = match fetch {
            Some(f) => match (&f.at, &f.error) {
                (Some(at), Some(e)) => format!("{at}: failed: {e}"),
                (Some(at), None) => format!("{at}: {} files", f.files.unwrap_or(0)),
                _ => String::new(),
            },
            None => String::new(),
        };
        t.add_row(vec![
            c.carrier.clone(),
            format!("{} files, {} lines", c.files_this, c.lines_this),
            format!("{} files, {} lines", c.files_prev, c.lines_prev),
            c.unprocessed_files.to_string(),
            last,
        ]);
    }
    for line in t.to_string().lines() {
        crate::outln!("       {line}");
    }
}
