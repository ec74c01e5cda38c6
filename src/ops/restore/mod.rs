//! Restore: verify the generation before anything is stopped → stop both services →
//! (safety backup of the current state) → extract each component into a staging
//! folder beside its target, checking every file's sha256 → fsync → swap by rename,
//! keeping the old folder as `<target>.pre-restore-<id>` → start both. Any failure
//! before the swap leaves the installation as it was; a failure during the swap
//! rolls back. Nothing is reported done before it is on disk.

mod options;
mod place;
mod prepare;
mod safety;
mod steps;
mod verified;

use std::fs;
use std::path::{Path, PathBuf};

use super::archiving::guarded;
use super::compat::Checks;
use super::event::{Event, Sink, Step};
use super::source::{Check, Source};
use super::window::{self, Closing, Window};
use super::{compat, lock_store, parallel, refuse_if_interrupted, state, Context, OpError};
use crate::repo::generation::Repo;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

pub use options::RestoreOptions;
pub use place::{placements, what_is_lost};
pub use prepare::{plan, prepare_installation, RestorePlan, Target};
pub use safety::SAFETY_LABEL;
pub use verified::verify_first;

use super::placement::Placement;
pub use super::verify::Verified;

#[derive(Debug)]
pub struct Outcome {
    pub restored: Manifest,
    pub safety: Option<Manifest>,
    pub placements: Vec<Placement>,
    pub closing: Closing,
    /// Services that were stopped before the restore (a fresh server): left so.
    pub left_stopped: Vec<String>,
}

/// The one restore both faces run: from the repository, or from `from` (another
/// repository, a copied folder, an off-site target of either kind). A safety
/// backup always goes into the repository (`ctx.store`), whatever `from` is: a
/// copied folder or a mounted disk is where the generation comes from, not where
/// the current state is kept.
pub fn run(
    ctx: &Context,
    from: Option<&Store>,
    id: &str,
    opts: &RestoreOptions,
    on: Sink,
) -> Result<Outcome, OpError> {
    run_verified(ctx, from, id, opts, None, on)
}

/// `run`, told that the caller already verified the generation (`verified`).
/// A failed verification refuses at once; a passed one stands in for the
/// restore's own check as long as the generation is unchanged since (archive
/// kind: no file it lists was written after; restic: `restic check` covers the
/// repository and every file is checked again on extraction).
pub fn run_verified(
    ctx: &Context,
    from: Option<&Store>,
    id: &str,
    opts: &RestoreOptions,
    verified: Option<Verified>,
    on: Sink,
) -> Result<Outcome, OpError> {
    if verified.is_some_and(|v| !v.ok) {
        return Err(OpError::Verify(format!(
            "the verification of {id} failed. Restore refused; nothing was stopped or changed"
        )));
    }
    let _installation = state::lock_installation(ctx.inst, "restore")?;
    let from = fetched(ctx, from, id, on)?;
    let lock = lock_store(from, "restore")?;
    if let Some(stale) = lock.as_ref().and_then(|l| l.stale_holder.as_ref()) {
        on(Event::Warning(format!(
            "took over a stale repository lock ({stale})"
        )));
    }
    refuse_if_interrupted(ctx.inst)?;
    let (manifest, checks) = installable(ctx, from, id, on)?;
    let found_stopped = window::found_stopped(ctx.inst);
    let checked_before = verified.is_some_and(|v| verified::still_stands(from, &manifest, v, on));
    let mut steps = steps::planned(ctx, from, &manifest, opts, &found_stopped);
    if checked_before {
        steps.retain(|s| !matches!(s, Step::Verify(_)));
    }
    on(Event::Plan(steps));
    if !found_stopped.is_empty() {
        on(Event::Warning(format!(
            "already stopped: {}. It is left stopped after the restore",
            found_stopped.join(", ")
        )));
    }

    // Everything that can refuse does so before a service is touched.
    let refused = |e: OpError| match e {
        OpError::Verify(d) => OpError::Verify(format!(
            "{d}. Restore refused; nothing was stopped or changed"
        )),
        other => other,
    };
    let source = Source::open(
        from,
        &manifest,
        match checked_before {
            true => Check::AlreadyVerified,
            false => Check::Whole,
        },
        &format!("`structr-backup restore {id} --from NAME` fetches it first"),
        &ctx.cancel,
        on,
    )
    .map_err(refused)?;
    let sizes = source.sizes(&manifest);
    let placements = placements(ctx, &manifest)?;
    let safety = safety::Safety::prepare(ctx, from, opts, on)?;
    make_parents(&placements, on)?;
    safety::check_target_space(&placements, &sizes, safety.space())?;
    remove_old_staging(&placements)?;

    let mut window = Window::new(ctx.inst, "restore");
    let mut taken = None;
    let checked = match source.archive_dir() {
        Some(dir) => Some(dir.to_path_buf()),
        None => trusted_folder(from)?,
    };
    let result = window.stop_all(on).and_then(|()| {
        guarded(|| {
            // The services are down now: what is read must still be what was checked.
            recheck(from, &source, &checked)?;
            taken = safety.take(ctx, &manifest.id, on)?;
            extract_all(ctx, &source, &manifest, &placements, &checks, on)?;
            recheck(from, &source, &checked)?;
            steps::swap_all(&placements, window.journal(), on)?;
            // When each was kept, for its age: its mtime is the original's.
            let kept: Vec<&Path> = placements.iter().map(|p| p.kept.as_path()).collect();
            if let Err(e) = super::kept::record(ctx.inst, &kept) {
                on(Event::Warning(e));
            }
            Ok(())
        })
    });
    if result.is_err() {
        for p in &placements {
            let _ = fs::remove_dir_all(&p.staging);
        }
    }
    let closing = window.close(on);
    let left_stopped = window.found_stopped().to_vec();
    drop(lock);
    if let Err(e) = result {
        let mut aftermath = closing.aftermath();
        aftermath.push_str(" The installation was left as it was before the restore.");
        if let Some(s) = &taken {
            aftermath.push_str(&format!(" (A safety backup {} was taken.)", s.id));
        }
        return Err(OpError::in_window(
            &e,
            &aftermath,
            ctx.cancel.is_cancelled(),
        ));
    }
    if !closing.all_running() {
        return Err(OpError::failed(format!(
            "generation {id} was restored, but: {}",
            closing.aftermath()
        )));
    }
    Ok(Outcome {
        restored: manifest,
        safety: taken,
        placements,
        closing,
        left_stopped,
    })
}

/// Where the generation is read from: `from`, or the repository. A generation on
/// an rclone target is fetched into the repository (and checked there) first; the
/// restore then reads it like any local one.
fn fetched<'a>(
    ctx: &'a Context,
    from: Option<&'a Store>,
    id: &str,
    on: Sink,
) -> Result<&'a Store, OpError> {
    match (from, &ctx.store) {
        (Some(Store::Rclone(r)), Store::Archive(local)) => {
            super::offsite::fetch(r, local, id, &ctx.cancel, on)?;
            on(Event::Info(format!(
                "fetched {id} from {} into {} and checked it against its SHA256SUMS",
                r.location(),
                local.root.display()
            )));
            Ok(&ctx.store)
        }
        (Some(Store::Rclone(r)), _) => Err(OpError::Refused(format!(
            "{} holds archive-kind generations, and this repository is a restic one: \
             restore from it with an archive-kind config. Nothing was stopped",
            r.location()
        ))),
        (from, _) => Ok(from.unwrap_or(&ctx.store)),
    }
}

/// The generation's manifest with only what goes into the installation (an
/// application export is not restored), refused when this installation cannot
/// take it; the compatibility checks' notes are said.
fn installable(
    ctx: &Context,
    from: &Store,
    id: &str,
    on: Sink,
) -> Result<(Manifest, Checks), OpError> {
    let mut manifest = from.manifest(id)?;
    if manifest
        .components
        .iter()
        .any(|c| !super::app_export::goes_into_installation(c))
    {
        on(Event::Info(super::app_export::NOT_RESTORED.into()));
    }
    manifest
        .components
        .retain(super::app_export::goes_into_installation);
    let checks = compat::check(ctx.inst, &manifest);
    if let Some(r) = checks.refusals.first() {
        return Err(OpError::Refused(format!("{r}. Nothing was stopped")));
    }
    for line in checks.plan_lines() {
        on(Event::Info(line));
    }
    Ok((manifest, checks))
}

/// Folders above a target that does not exist yet are made before anything stops
/// (owner-only is not needed here: they are the installation's own, like
/// /var/lib/neo4j).
fn make_parents(placements: &[Placement], on: Sink) -> Result<(), OpError> {
    for p in placements {
        if let Some(parent) = p.target.parent().filter(|d| !d.exists()) {
            fs::create_dir_all(parent).map_err(|e| {
                OpError::Refused(format!("cannot create {}: {e}", parent.display()))
            })?;
            on(Event::Info(format!(
                "created the missing folder {}",
                parent.display()
            )));
        }
    }
    Ok(())
}

/// A staging folder left by an earlier restore that did not finish.
fn remove_old_staging(placements: &[Placement]) -> Result<(), OpError> {
    for p in placements.iter().filter(|p| p.staging.exists()) {
        fs::remove_dir_all(&p.staging).map_err(|e| {
            OpError::Refused(format!(
                "cannot remove the old staging folder {}: {e}",
                p.staging.display()
            ))
        })?;
    }
    Ok(())
}

/// Extracts every component beside its target. Components are independent: an
/// archive's are extracted at once, as many cores as there are; restic restores
/// one snapshot path after the other.
fn extract_all(
    ctx: &Context,
    source: &Source,
    manifest: &Manifest,
    placements: &[Placement],
    checks: &Checks,
    on: Sink,
) -> Result<(), OpError> {
    let owners = checks.owner_map();
    match source {
        Source::Archive { .. } => {
            let jobs: Vec<_> = placements.iter().zip(&manifest.components).collect();
            parallel::each(&jobs, &ctx.cancel, on, |(p, c), cancel, on| {
                source.extract(manifest, c, p, &owners, cancel, on)
            })
            .map(drop)
        }
        Source::Restic(_) => {
            for (p, c) in placements.iter().zip(&manifest.components) {
                source.extract(manifest, c, p, &owners, &ctx.cancel, on)?;
            }
            Ok(())
        }
    }
}

/// A local restic repository's folder, resolved once every component of its path
/// was found to be root's or ours (None: a remote one, which restic authenticates).
fn trusted_folder(from: &Store) -> Result<Option<PathBuf>, OpError> {
    match from.local_folder() {
        Some(folder) => Ok(Some(Repo::new(folder).check_trusted()?)),
        None => Ok(None),
    }
}

/// Checks again, right before the generation is read with the services stopped
/// and right before the swap, that its folder is still the trusted one found
/// before anything stopped (no other user can change it; this catches the rest).
fn recheck(from: &Store, source: &Source, checked: &Option<PathBuf>) -> Result<(), OpError> {
    let now = match source.archive_dir() {
        Some(dir) => {
            let id = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let root = dir.parent().unwrap_or(Path::new("/"));
            Some(Repo::new(root).trusted_generation(id)?)
        }
        None => trusted_folder(from)?,
    };
    if &now != checked {
        return Err(OpError::failed(format!(
            "the repository changed while the services were stopped: it was {}, it is now {}; nothing was restored from it",
            checked.as_deref().unwrap_or(Path::new("?")).display(),
            now.as_deref().unwrap_or(Path::new("?")).display()
        )));
    }
    Ok(())
}
