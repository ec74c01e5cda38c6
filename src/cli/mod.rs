//! The non-interactive face: one function per command, output as text or `--json`.

mod app;
pub mod args;
mod backup;
pub mod confirm;
mod copy;
mod delete;
mod demo;
mod detect;
mod drill;
pub mod env;
pub mod generate;
mod init;
mod json;
mod list;
pub mod output;
mod pin;
mod prune;
mod recover;
pub mod render;
mod restore;
mod schedule;
mod show;
mod verify;
mod wizard;

use crate::errln;
use crate::ops;
use args::Command;
use env::{resolved, Result};
pub use env::{Env, Failure};

/// A monitored command (see `crate::notify`) is watched from start to end: status
/// file, metrics, pings, webhook, mail. None of that changes the result.
fn watched(env: &Env) -> Result<()> {
    let Some((operation, id)) = monitored(env) else {
        return dispatch(env);
    };
    // The installation as this command finds it: its last runs are its own.
    let what = crate::notify::What {
        operation,
        id,
        installation: env.installation().ok().map(|i| i.key()),
    };
    crate::notify::watched(
        &env.config,
        env.reading(),
        what,
        &mut |w| errln!("warning: {w}"),
        || dispatch(env),
    )
}

/// The operations a monitor must hear of, and the generation each names.
fn monitored(env: &Env) -> Option<(&'static str, Option<String>)> {
    match &env.cli.command {
        Some(Command::Backup { .. }) => Some(("backup", None)),
        Some(Command::Restore { id, .. }) => Some(("restore", Some(resolved(env, id)))),
        Some(Command::Verify { id, .. }) => Some(("verify", id.as_ref().map(|i| resolved(env, i)))),
        Some(Command::Drill { id }) => Some(("drill", id.as_ref().map(|i| resolved(env, i)))),
        // A dry run changes nothing and is no run to monitor.
        Some(Command::Prune(args)) if !args.dry_run => Some(("prune", None)),
        Some(Command::Recover) => Some(("recover", None)),
        _ => None,
    }
}

/// Runs the command; messages name it as the user ran it.
pub fn run(env: &Env) -> Result<()> {
    if !matches!(env.cli.command, Some(Command::Recover)) {
        for record in ops::journal::interrupted_any() {
            errln!("WARNING: {}", env.hint(&record.describe()));
        }
    }
    watched(env).map_err(|f| Failure {
        message: env.hint(&f.message),
        ..f
    })
}

/// restic's and borg's words that are not ours (their `check` and `snapshots`
/// are aliases): one line naming what does it here.
fn foreign_hint(c: &Command) -> &'static str {
    match c {
        Command::Forget(_) => "`forget` is restic's word: here `structr-backup prune` deletes what the retention policy does not keep (see `prune --dry-run` first), and `structr-backup delete ID` deletes one generation",
        Command::Create(_) => "`create` is borg's word: here `structr-backup backup` makes a generation (and `structr-backup init` creates the repository)",
        Command::Extract(_) => "`extract` is borg's word: here `structr-backup restore ID` puts a generation back in place, and `structr-backup restore ID --only NAME --to DIR` unpacks one part of it into a folder",
        Command::Compact(_) => "`compact` is borg's word: here `structr-backup prune` and `delete` free the space at once; there is nothing to compact",
        _ => "",
    }
}

fn dispatch(env: &Env) -> Result<()> {
    match &env.cli.command {
        None => wizard::no_command(env),
        Some(Command::Backup { .. } | Command::Init | Command::Recover)
            if env.cli.from.is_some() =>
        {
            Err(Failure::usage(
                "--from names where to read from; backup, init and recover work on the repository",
            ))
        }
        Some(Command::Backup { label, snapshot }) => backup::backup(env, label, *snapshot),
        Some(Command::Init) => init::init(env),
        Some(Command::Copy { id, to }) => copy::copy(env, id, to),
        Some(Command::List) => list::list(env),
        Some(Command::Show { id, runbook }) => match runbook {
            true => show::show_runbook(env, id),
            false => show::show(env, id),
        },
        Some(Command::Verify { id, all, deep }) => verify::verify(env, id.as_deref(), *all, *deep),
        Some(Command::Drill { id }) => drill::drill(env, id.as_deref().unwrap_or("latest")),
        Some(Command::Restore {
            id,
            only: Some(name),
            to: Some(dir),
            ..
        }) => app::unpack(env, id, name, dir),
        Some(Command::Restore {
            id,
            no_safety_backup,
            ..
        }) => restore::restore(env, id, !no_safety_backup),
        Some(Command::ExportApp { git, to }) => app::export_app(env, git.as_deref(), to.as_deref()),
        Some(Command::Prune(args)) => prune::prune(env, args),
        Some(Command::Pin { id }) => pin::pin(env, id, true),
        Some(Command::Unpin { id }) => pin::pin(env, id, false),
        Some(Command::Delete { id }) => delete::delete(env, id),
        Some(Command::Recover) => recover::recover(env),
        Some(Command::Detect) => detect::detect_cmd(env),
        Some(Command::Demo { clean, store_mb }) => demo::demo(env, *clean, *store_mb),
        Some(Command::Schedule(args)) => schedule::schedule(env, args),
        Some(Command::GenerateAssets { out }) => generate::run(out),
        Some(
            c @ (Command::Forget(_)
            | Command::Create(_)
            | Command::Extract(_)
            | Command::Compact(_)),
        ) => Err(Failure::usage(foreign_hint(c))),
    }
}
