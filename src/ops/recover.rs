//! Recovery after an interrupted run (killed, power loss): put back folders a restore
//! was swapping, start the services the journal lists as stopped by us, and remove
//! leftovers (staging folders beside the targets, unfinished generations, copies
//! interrupted drills left in the drill's scratch folder). It acts
//! only on paths derived from the configured installation: a journal entry naming
//! anything else is ignored with a warning. Everything it does, it says.

use std::fs;
use std::path::{Path, PathBuf};

use super::event::{Event, Sink};
use super::journal::{self, Journal};
use super::swap;
use super::window::{Closing, Window};
use super::{lock_repo, state, Context, OpError};

#[derive(Debug)]
pub struct Outcome {
    /// None when no interrupted run had left services stopped.
    pub record: Option<journal::Record>,
    pub closing: Closing,
    /// Folders and files removed (staging folders, unfinished generations).
    pub removed: Vec<PathBuf>,
    /// Services found stopped (not by us) and started on request.
    pub started: Vec<String>,
}

/// `drill_scratch`: the `[drill] scratch` folder, where a killed drill leaves its copy.
pub fn run(ctx: &Context, drill_scratch: &Path, on: Sink) -> Result<Outcome, OpError> {
    run_starting(ctx, drill_scratch, false, on)
}

/// `run`; with `start_stopped` it also starts the services found stopped that
/// no run of ours stopped (by hand, after a crash), in order and health-checked
/// as at the end of a backup (the wizard's "start" on Home). They are recorded
/// in the journal before their start, so an interrupted start is recovered too.
pub fn run_starting(
    ctx: &Context,
    drill_scratch: &Path,
    start_stopped: bool,
    on: Sink,
) -> Result<Outcome, OpError> {
    let _installation = state::lock_installation(ctx.inst, "recover")?;
    let record = journal::interrupted(ctx.inst);
    let mut closing = Closing::default();
    let mut started = Vec::new();
    if let Some(record) = &record {
        on(Event::Info(record.describe()));
        let mut j = Journal::resume(ctx.inst, record.clone());
        put_back_swaps(ctx, record, on)?;
        if !record.swaps.is_empty() {
            j.set_swaps(Vec::new())?;
        }
        let mut window = Window::resume(ctx.inst, j);
        closing = window.close(on);
    }
    if start_stopped && closing.all_running() {
        let down = super::window::found_stopped(ctx.inst);
        if !down.is_empty() {
            on(Event::Info(format!(
                "starting {}: found stopped",
                down.join(", ")
            )));
            let mut j = Journal::begin(ctx.inst, "start");
            for name in &down {
                j.mark_stopping(name)?;
            }
            let more = Window::resume(ctx.inst, j).close(on);
            closing.still_down.extend(more.still_down);
            closing.unhealthy.extend(more.unhealthy);
            started = down;
        }
    }
    let mut removed = remove_staging(ctx, on);
    if let crate::repo::store::Store::Restic(r) = &ctx.store {
        remove_stale_restic_locks(r, on);
    }
    removed.extend(super::drill::remove_leftovers(drill_scratch, ctx.inst, on));
    // Snapshots an interrupted LVM backup left: they fill up as the volume changes.
    if ctx.snapshot.lvm {
        removed.extend(super::snapshot::remove_leftovers(on));
    }
    // Unfinished generations are removed only from a repository nobody else can
    // write into; services come first, so an untrusted repository is a warning here.
    // (A restic repository has none: restic writes a snapshot last.)
    let archive = ctx.store.archive();
    match archive.map(|repo| lock_repo(repo, "recover").map(|l| (repo, l))) {
        None => {}
        Some(Ok((repo, _lock))) => {
            for p in repo.clean_leftovers()? {
                on(Event::Info(format!(
                    "removed the unfinished generation {}",
                    p.display()
                )));
                removed.push(p);
            }
        }
        Some(Err(e)) => on(Event::Warning(format!(
            "unfinished generations were not looked for: {e}"
        ))),
    }
    if !closing.all_running() {
        return Err(OpError::failed(closing.aftermath()));
    }
    Ok(Outcome {
        record,
        closing,
        removed,
        started,
    })
}

/// A restic run killed with -9 leaves its lock, and restic then refuses every
/// `check`, `prune` (and, for an exclusive lock, `backup`): remove the stale ones,
/// as restic itself judges them (`restic unlock` leaves live locks alone).
fn remove_stale_restic_locks(r: &crate::repo::restic::Restic, on: Sink) {
    let now = chrono::Utc::now();
    let host = crate::sys::hostname();
    let stale: Vec<String> = match r.locks() {
        Ok(locks) => {
            let mut stale: Vec<String> = locks
                .read
                .iter()
                .filter(|l| l.is_stale(&host, now))
                .map(|l| l.describe(now))
                .collect();
            // restic unlock judges the ones not read itself (it leaves live ones).
            if locks.unread > 0 {
                stale.push(format!("{} more locks not read", locks.unread));
            }
            stale
        }
        Err(e) => {
            on(Event::Warning(format!(
                "the restic repository's locks were not looked at: {e}"
            )));
            return;
        }
    };
    if stale.is_empty() {
        return;
    }
    match r.unlock() {
        Ok(()) => on(Event::Info(format!(
            "removed stale restic locks (`restic unlock`): {}",
            stale.join("; ")
        ))),
        Err(e) => on(Event::Warning(format!(
            "stale restic locks ({}) could not be removed: {e}",
            stale.join("; ")
        ))),
    }
}

/// Undoes the swaps the journal lists, newest first, for targets of this
/// installation whose kept folder has one of our names.
fn put_back_swaps(ctx: &Context, record: &journal::Record, on: Sink) -> Result<(), OpError> {
    for s in record.swaps.iter().rev() {
        let ours = ctx.inst.components.iter().any(|c| c.path == s.target)
            && swap::is_kept_path(&s.target, &s.kept);
        if !ours {
            on(Event::Warning(format!(
                "ignored a journal entry for {} → {}: not a folder of this installation",
                s.target.display(),
                s.kept.display()
            )));
            continue;
        }
        let moved = swap::undo(&s.target, &s.kept, &swap::discard_path(&s.target))
            .map_err(|e| OpError::failed(e.to_string()))?;
        if moved {
            on(Event::Info(format!(
                "put the previous {} back (from {})",
                s.target.display(),
                s.kept.display()
            )));
        }
    }
    Ok(())
}

/// Removes staging folders of an interrupted restore beside each target (the
/// installation lock is held, so no restore of this installation is running).
fn remove_staging(ctx: &Context, on: Sink) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for c in &ctx.inst.components {
        let Some(parent) = c.path.parent() else {
            continue;
        };
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if !swap::is_staging_name(&c.path, name) && path != swap::discard_path(&c.path) {
                continue;
            }
            // Only real folders: a symlink there is not something we made.
            if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            match fs::remove_dir_all(&path) {
                Ok(()) => {
                    on(Event::Info(format!(
                        "removed {}, left by an interrupted restore",
                        path.display()
                    )));
                    removed.push(path);
                }
                Err(e) => on(Event::Warning(format!(
                    "cannot remove {}: {e}",
                    path.display()
                ))),
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::generation::Repo;
    use crate::repo::store::Store;

    /// A service stopped by hand is left alone by a plain `recover`, and started
    /// (only it) when asked, as the wizard's Home does.
    #[test]
    fn a_service_stopped_by_hand_is_started_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let inst =
            super::super::window::tests::flag_installation(dir.path(), &["structr", "neo4j"]);
        fs::write(dir.path().join("structr.up"), "").unwrap();
        let ctx = Context::preview(&inst, Store::Archive(Repo::new(dir.path().join("repo"))));
        let scratch = dir.path().join("scratch");
        let out = run(&ctx, &scratch, &mut |_| {}).unwrap();
        assert!(out.started.is_empty());
        assert!(!dir.path().join("neo4j.up").exists(), "left as found");
        let mut said = Vec::new();
        let out = run_starting(&ctx, &scratch, true, &mut |e| said.push(e)).unwrap();
        assert_eq!(out.started, ["neo4j"]);
        assert!(dir.path().join("neo4j.up").exists(), "neo4j started");
        assert!(dir.path().join("structr.up").exists());
        assert!(
            said.contains(&Event::Started(crate::ops::Step::Health("neo4j".into()))),
            "health-checked: {said:?}"
        );
        assert!(journal::interrupted(&inst).is_none(), "no journal left");
    }
}
