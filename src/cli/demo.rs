//! `billrun demo`: a fresh database from fixtures/, walked through a run.

use super::output::Ctx;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo database and output files.
    #[arg(long, default_value = "demo-out")]
    pub dir: PathBuf,
}

pub fn exec(_ctx: &Ctx, _a: &Args) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
