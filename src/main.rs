use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Backstop: a `println!` meeting a closed pipe panics with this message;
    // a reader that went away is not a failure (`status | grep -q`).
    let default_hook = std::panic::take_hook();
    #[allow(clippy::exit, reason = "a panic hook cannot return an ExitCode")]
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info)
    }));
    let cli = billrun::cli::Cli::parse();
    let result = billrun::cli::run(cli);
    if let Some(e) = billrun::cli::output::finish_stdout() {
        billrun::errln!("error: cannot write to standard output: {e}");
        return ExitCode::from(5);
    }
    match result {
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
            billrun::errln!("{prefix} {err:#}");
            ExitCode::from(code)
        }
    }
}
