//! `billrun completions SHELL` (the generated files are also in completions/).

use clap::CommandFactory;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub shell: clap_complete::Shell,
}

pub fn exec(a: &Args) -> anyhow::Result<ExitCode> {
    let mut cmd = super::Cli::command();
    // Generated in memory, then written like every other output: clap_complete
    // panics when its writer fails (`completions bash | head -1`).
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "billrun", &mut buf);
    crate::out!("{}", String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
