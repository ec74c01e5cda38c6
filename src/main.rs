use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use structr_backup::cancel::Cancel;
use structr_backup::cli::args::{Cli, Command};
use structr_backup::cli::output::{self, Priority};
use structr_backup::cli::{self, Env};
use structr_backup::ops::exit::Exit;
use structr_backup::{errln, errln_at};

fn main() -> ExitCode {
    // `structr-backup standin ...` runs the stand-in services (used by the demo),
    // so one binary is all a demo needs.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "standin") {
        return ExitCode::from(structr_backup::standin::main(args[1..].to_vec()) as u8);
    }
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // With --json a script reads stdout: a usage error is a JSON document too.
        Err(e) if e.use_stderr() && args.iter().any(|a| a == "--json") => {
            let said = e.to_string();
            let first = said.lines().next().unwrap_or("usage error");
            let f = cli::Failure::usage(first.trim_start_matches("error: ").to_string());
            errln!("{e}");
            f.print_json();
            output::flush();
            return Exit::Usage.into();
        }
        Err(e) => e.exit(),
    };
    // Readable panic reports; our own errors are printed below with their exit codes.
    install_panic_report();
    if let Err(message) = absolute_paths(&mut cli) {
        errln!("error: {message}");
        return Exit::Usage.into();
    }
    // Ctrl-C, SIGTERM and a lost terminal cancel the operation; the operation
    // itself then starts the services it stopped before we exit. SIGPIPE stays
    // ignored (Rust's default): a closed pipe must not kill a run with services
    // down; writes report EPIPE instead, which `cli::output` swallows.
    // Packaging runs this on a build machine: no config is read, none is needed.
    if let Some(Command::GenerateAssets { out }) = &cli.command {
        return match cli::generate::run(out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                errln_at!(Priority::Error, "error: {}", f.message);
                f.exit.into()
            }
        };
    }
    let cancel = Cancel::new();
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(sig, cancel.flag()) {
            errln!("error: cannot install the signal handler: {e}");
            return Exit::Failed.into();
        }
    }
    let json = cli.json;
    let result = Env::load(cli, cancel).and_then(|env| cli::run(&env));
    output::flush();
    let code = match result {
        // A reader that closed the pipe (`| head`) is no failure; a stdout that
        // could not take the output (a full disk) is, or a script would trust a
        // truncated listing.
        Ok(()) => match output::stdout_failure() {
            None => Exit::Ok,
            Some(e) => {
                errln!(
                    "error: the command finished, but its output could not be written to stdout: {e}; \
                     run it again with stdout going where there is room"
                );
                Exit::Failed
            }
        },
        Err(f) => {
            errln_at!(Priority::Error, "error: {}", f.message);
            if json && !output::printed_json() {
                f.print_json();
                output::flush();
            }
            f.exit
        }
    };
    code.into()
}

/// color-eyre's panic report, plain unless a person at a terminal may want
/// colours (<https://no-color.org>: a set, non-empty NO_COLOR means none).
fn install_panic_report() {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mut hooks = color_eyre::config::HookBuilder::new();
    if no_color || !std::io::stderr().is_terminal() {
        hooks = hooks.theme(color_eyre::config::Theme::new());
    }
    let Ok((panic_hook, eyre_hook)) = hooks.try_into_hooks() else {
        return;
    };
    let _ = eyre_hook.install();
    // color-eyre's own panic hook prints with eprintln!, which panics again on a
    // closed stderr and aborts the process, skipping the unwinding that starts
    // stopped services; this one cannot fail.
    std::panic::set_hook(Box::new(move |info| {
        errln_at!(Priority::Error, "{}", panic_hook.panic_report(info));
    }));
}

/// Paths typed on the command line mean what they meant in the shell they were
/// typed in: made absolute once here, nothing later depends on the working folder.
/// (Paths in the config file must be absolute already; see `config::validate`.)
fn absolute_paths(cli: &mut Cli) -> Result<(), String> {
    for (flag, path) in [
        ("--config", &mut cli.config),
        ("--repo", &mut cli.repo),
        ("--compose-file", &mut cli.compose_file),
    ] {
        if let Some(p) = path.as_mut() {
            *p = std::path::absolute(&*p).map_err(|e| {
                format!(
                    "{flag} {:?}: cannot make it an absolute path: {e}; give the absolute path",
                    p.display().to_string()
                )
            })?;
        }
    }
    Ok(())
}
