use std::process::ExitCode;

use clap::Parser;
use structr_backup::cancel::Cancel;
use structr_backup::cli::{self, args::Cli, Env};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Readable panic reports; our own errors are printed below with their exit codes.
    let _ = color_eyre::install();
    // Ctrl-C, SIGTERM and a lost terminal cancel the operation; the operation
    // itself then starts the services it stopped before we exit.
    let cancel = Cancel::new();
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(sig, cancel.flag()) {
            eprintln!("error: cannot install the signal handler: {e}");
            return ExitCode::from(cli::EXIT_FAILED as u8);
        }
    }
    let result = Env::load(cli, cancel).and_then(|env| cli::run(&env));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code as u8)
        }
    }
}
