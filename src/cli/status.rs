//! `billrun status [RUN] [--all] [--check]`: the next-steps checklist.

use super::output::{self, Ctx};
use crate::domain::checklist::{self, Checklist, Stage, State};
use crate::error::bad_input;
use crate::store::{Store, runs, status};
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

/// The document of `status --json`.
pub fn document(store: &Store, run: &runs::Run) -> anyhow::Result<(serde_json::Value, Checklist)> {
    let facts = status::facts(&store.conn, run)?;
    let cl = checklist::compute(&facts);
    let c = &facts.cdr;
    let mut parts = Vec::new();
    for (n, what) in [
        (c.pending_files, "pending"),
        (c.processing_files, "processing"),
        (c.failed_files, "failed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let detail = if parts.is_empty() {
        "no CDR files pending".to_string()
    } else {
        format!("CDR files: {}", parts.join(", "))
    };
    let doc = serde_json::json!({
        "run": super::runs::run_json(store, run)?,
        "banner": {"pending_cdr_files": c.pending_files, "processing_cdr_files": c.processing_files,
                   "failed_cdr_files": c.failed_files, "detail": detail},
        "steps": cl.steps,
        "next": cl.next,
        "complete": cl.complete,
    });
    Ok((doc, cl))
}

fn needs_operator(cl: &Checklist) -> bool {
    cl.steps.iter().any(|s| s.state == State::Todo)
}

pub fn exec(ctx: &Ctx, store: &Store, a: Args) -> anyhow::Result<ExitCode> {
    let selected: Vec<runs::Run> = if a.all {
        runs::list(&store.conn)?
            .into_iter()
            .filter(|r| !is_complete(store, r).unwrap_or(false))
            .collect()
    } else if let Some(key) = &a.run {
        vec![runs::resolve(&store.conn, key)?]
    } else {
        match runs::latest_open(&store.conn)? {
            Some(r) => vec![r],
            None => return Err(bad_input(
                "no billing runs yet: create one with `billrun new --invoice-date D --cutoff D`",
            )
            .into()),
        }
    };
    let mut docs = Vec::new();
    let mut attention = false;
    for r in &selected {
        let (doc, cl) = document(store, r)?;
        attention |= needs_operator(&cl);
        if !ctx.json {
            print_text(ctx, &doc, &cl);
        }
        docs.push(doc);
    }
    if ctx.json {
        if a.all {
            output::print_json(&docs)?;
        } else if let Some(d) = docs.first() {
            output::print_json(d)?;
        }
    } else if a.all && selected.is_empty() {
        ctx.say("no open runs");
    }
    Ok(if a.check && attention {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn is_complete(store: &Store, r: &runs::Run) -> anyhow::Result<bool> {
    Ok(checklist::compute(&status::facts(&store.conn, r)?).complete)
}

fn print_text(ctx: &Ctx, doc: &serde_json::Value, cl: &Checklist) {
    let run = &doc["run"];
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    println!(
        "{}",
        ctx.bold(&format!(
            "Run {} '{}' — {}   invoice date {}, cutoff {}, due {}",
            run["id"],
            s(&run["name"]),
            s(&run["status"]),
            s(&run["invoice_date"]),
            s(&run["cutoff_date"]),
            s(&run["due_date"])
        ))
    );
    let banner = &doc["banner"];
    let pending = banner["pending_cdr_files"].as_u64().unwrap_or(0)
        + banner["processing_cdr_files"].as_u64().unwrap_or(0)
        + banner["failed_cdr_files"].as_u64().unwrap_or(0);
    if pending > 0 {
        println!("{}", ctx.yellow(&format!("⚠ {}", s(&banner["detail"]))));
    }
    if cl.complete {
        println!("{}", ctx.green("✔ Run complete"));
        // Failed collections do not hold the run open, but stay visible.
        for st in cl
            .steps
            .iter()
            .filter(|st| st.detail.contains("failed collection"))
        {
            println!("  {} {}: {}", ctx.yellow("⚠"), st.title, st.detail);
        }
        return;
    }
    let stage_title = if cl.stage == Stage::Pre {
        "Pre-billing steps"
    } else {
        "Post-billing steps"
    };
    println!("{stage_title}:");
    if cl.stage == Stage::Post {
        println!("  {} Pre-billing: bills requested", ctx.green("✔"));
    }
    for (i, st) in cl
        .steps
        .iter()
        .filter(|st| st.stage == cl.stage && st.key != "complete")
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
        println!(
            "  {mark} {}. {} [{}]{next}",
            i + 1,
            st.title,
            st.state.as_str()
        );
        println!("       {}", st.detail);
        if let Some(w) = &st.warning {
            println!("       {}", ctx.yellow(&format!("⚠ {w}")));
        }
        if matches!(st.state, State::Todo | State::Waiting) {
            println!("       {}", ctx.dim(&format!("$ {}", st.command)));
        }
    }
}
