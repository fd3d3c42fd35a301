//! `billrun completions SHELL` (the generated files are also in completions/).

use clap::CommandFactory;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub shell: clap_complete::Shell,
}

pub fn exec(a: &Args) -> anyhow::Result<ExitCode> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "billrun", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
