use std::process::ExitCode;

use clap::Parser;
use structr_backup::cancel::Cancel;
use structr_backup::cli::{self, args::Cli, Env};

fn main() -> ExitCode {
    // `structr-backup standin ...` runs the stand-in services (used by the demo),
    // so one binary is all a demo needs.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "standin") {
        return ExitCode::from(structr_backup::standin::main(args[1..].to_vec()) as u8);
    }
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
