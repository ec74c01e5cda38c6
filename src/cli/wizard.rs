//! No command: the wizard at a terminal that can draw it, the help otherwise.

use std::io::IsTerminal;

use super::args::Cli;
use super::env::{Env, Failure, Result};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::errln;
use crate::ops::exit::Exit;
use crate::repo::store::Store;

pub(super) fn no_command(env: &Env) -> Result<()> {
    use clap::CommandFactory;
    if interactive() {
        return wizard(&env.config, env.store.clone(), &env.cancel);
    }
    errln!("{}", Cli::command().render_help());
    let why = if std::io::stdout().is_terminal() && dumb_terminal() {
        "no command given; the wizard needs a terminal with cursor addressing (TERM is dumb or unset): use the commands above"
    } else {
        "no command given (the wizard needs a terminal)"
    };
    Err(Failure::usage(why))
}

/// A person at a terminal that can draw the wizard: `TERM=dumb` (or none) has no
/// cursor addressing, and a full screen there would be garbage.
pub(super) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal() && !dumb_terminal()
}

pub(super) fn dumb_terminal() -> bool {
    std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb")
}

/// Opens the full-screen wizard.
pub(super) fn wizard(config: &Config, store: Store, cancel: &Cancel) -> Result<()> {
    let world = crate::tui::World::new(config, store).map_err(|e| Failure {
        exit: Exit::Failed,
        message: e,
    })?;
    crate::tui::run(world, cancel).map_err(|e| Failure {
        exit: Exit::Failed,
        message: format!("the wizard ended: {e}"),
    })
}
