use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = billrun::cli::Cli::parse();
    match billrun::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (e.g. `billrun runs | head`) is not a failure.
            if let Some(io) = err.root_cause().downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            let code = billrun::cli::output::exit_code(&err);
            let color = std::io::stderr().is_terminal() && billrun::cli::output::color_allowed();
            let prefix = if color {
                "\x1b[1;31merror:\x1b[0m"
            } else {
                "error:"
            };
            eprintln!("{prefix} {err:#}");
            ExitCode::from(code)
        }
    }
}
