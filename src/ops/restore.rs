//! Restore: verify the generation before anything is stopped → stop both services →
//! (safety backup of the current state) → extract each component into a staging
//! folder beside its target, checking every file's sha256 → swap by rename, keeping
//! the old folder as `<target>.pre-restore-<id>` → start both. Any failure before
//! the swap leaves the installation as it was; a failure during the swap rolls back.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::backup::{copy_components, guarded, new_manifest, preflight_checks, publish};
use super::event::{archive_progress, Event, Sink, Step};
use super::journal::Swap;
use super::window::{start_steps, stop_steps, Closing, Window};
use super::{parallel, refuse_if_interrupted, verify, Context, OpError};
use crate::install::ComponentSpec;
use crate::repo::archive;
use crate::repo::file_index::{self, IndexEntry};
use crate::repo::generation::{Component, Manifest, Timings};
use crate::repo::lock;

pub const SAFETY_LABEL: &str = "pre-restore";

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    pub safety_backup: bool,
}

/// One component of the generation and where it goes on this machine.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Placement {
    pub name: String,
    pub target: PathBuf,
    pub staging: PathBuf,
    pub kept: PathBuf,
    pub bytes: u64,
    pub files: u64,
}

#[derive(Debug)]
pub struct Outcome {
    pub restored: Manifest,
    pub safety: Option<Manifest>,
    pub placements: Vec<Placement>,
    pub closing: Closing,
}

/// Where each component of `m` would go, checked against this installation and
/// the file systems. No side effects: used for confirmation screens too.
pub fn placements(ctx: &Context, m: &Manifest) -> Result<Vec<Placement>, OpError> {
    let mut out = Vec::new();
    for c in &m.components {
        let spec = target_for(ctx, c)?;
        let target = spec.path.clone();
        let parent = target.parent().filter(|p| p.is_dir()).ok_or_else(|| {
            OpError::Refused(format!(
                "cannot restore {} to {}: its parent folder does not exist",
                c.name,
                target.display()
            ))
        })?;
        if is_mount_point(&target) {
            return Err(OpError::Refused(format!(
                "{} is a mount point, so it cannot be swapped by rename; restore it by hand (see the README, manual restore)",
                target.display()
            )));
        }
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Placement {
            name: c.name.clone(),
            staging: parent.join(format!(".{file_name}.restore-{}", m.id)),
            kept: free_name(&PathBuf::from(format!(
                "{}.pre-restore-{}",
                target.display(),
                m.id
            ))),
            target,
            bytes: c.bytes,
            files: c.files,
        });
    }
    Ok(out)
}

fn target_for<'a>(ctx: &'a Context, c: &Component) -> Result<&'a ComponentSpec, OpError> {
    ctx.inst
        .component(&c.name)
        .or_else(|| ctx.inst.components.iter().find(|s| s.role == c.role))
        .ok_or_else(|| {
            OpError::Refused(format!(
                "the generation holds {} ({}) but this installation has no place for it",
                c.name, c.role
            ))
        })
}

fn is_mount_point(path: &Path) -> bool {
    match (fs::metadata(path), path.parent().map(fs::metadata)) {
        (Ok(p), Some(Ok(parent))) => p.dev() != parent.dev(),
        _ => false,
    }
}

/// `path`, or `path.2`, `path.3`, ... whichever does not exist yet.
fn free_name(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

pub fn run(ctx: &Context, id: &str, opts: &RestoreOptions, on: Sink) -> Result<Outcome, OpError> {
    let lock = lock::acquire(&ctx.repo.root, "restore")?;
    if let Some(stale) = &lock.stale_holder {
        on(Event::Warning(format!(
            "took over a stale repository lock ({stale})"
        )));
    }
    refuse_if_interrupted(&ctx.repo)?;
    let manifest = ctx.repo.manifest(id)?;
    on(Event::Plan(plan_steps(ctx, &manifest, opts)));

    // Everything that can refuse does so before a service is touched.
    let dir = ctx.repo.path_of(id);
    verify::quick(&dir, &manifest, &ctx.cancel, on).map_err(|e| match e {
        OpError::Verify(d) => OpError::Verify(format!(
            "{d}. Restore refused; nothing was stopped or changed"
        )),
        other => other,
    })?;
    let placements = placements(ctx, &manifest)?;
    let indexes = read_indexes(&dir, &manifest)?;
    check_target_space(&placements)?;
    let estimate = if opts.safety_backup {
        Some(preflight_checks(ctx, on)?)
    } else {
        None
    };
    for p in &placements {
        if p.staging.exists() {
            fs::remove_dir_all(&p.staging).map_err(|e| {
                OpError::Refused(format!(
                    "cannot remove the old staging folder {}: {e}",
                    p.staging.display()
                ))
            })?;
        }
    }

    let mut window = Window::new(ctx.inst, &ctx.repo.root, "restore");
    let mut safety = None;
    let result = window.stop_all(on).and_then(|()| {
        guarded(|| {
            if let Some(estimate) = &estimate {
                safety = Some(safety_backup(ctx, estimate, on)?);
            }
            // Components are independent: extract them at once, as many cores as there are.
            let jobs: Vec<_> = placements
                .iter()
                .zip(&manifest.components)
                .zip(&indexes)
                .collect();
            parallel::each(&jobs, &ctx.cancel, on, |((p, c), index), cancel, on| {
                extract(cancel, &dir, c, p, index, on)
            })?;
            swap_all(&placements, window.journal(), on)
        })
    });
    if result.is_err() {
        for p in &placements {
            let _ = fs::remove_dir_all(&p.staging);
        }
    }
    let closing = window.close(on);
    drop(lock);
    if let Err(e) = result {
        let mut aftermath = closing.aftermath();
        aftermath.push_str(" The installation was left as it was before the restore.");
        if let Some(s) = &safety {
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
        safety,
        placements,
        closing,
    })
}

fn plan_steps(ctx: &Context, m: &Manifest, opts: &RestoreOptions) -> Vec<Step> {
    let mut steps: Vec<Step> = m
        .components
        .iter()
        .flat_map(|c| {
            [
                Step::Verify(c.archive.clone()),
                Step::Verify(c.index.clone()),
            ]
        })
        .collect();
    if opts.safety_backup {
        steps.push(Step::Preflight);
    }
    steps.extend(stop_steps(ctx.inst));
    if opts.safety_backup {
        steps.extend(
            ctx.inst
                .components
                .iter()
                .map(|c| Step::SafetyBackup(c.name.clone())),
        );
    }
    steps.extend(m.components.iter().map(|c| Step::Extract(c.name.clone())));
    steps.extend(m.components.iter().map(|c| Step::Swap(c.name.clone())));
    steps.extend(start_steps(ctx.inst));
    steps
}

fn read_indexes(dir: &Path, m: &Manifest) -> Result<Vec<Vec<IndexEntry>>, OpError> {
    m.components
        .iter()
        .map(|c| {
            file_index::read_index(&dir.join(&c.index)).map_err(|e| {
                OpError::Verify(format!(
                    "{}: {e}. Restore refused; nothing was changed",
                    c.index
                ))
            })
        })
        .collect()
}

/// The old folder stays until the user removes it, so the new copy needs room beside it.
fn check_target_space(placements: &[Placement]) -> Result<(), OpError> {
    for p in placements {
        let parent = p.staging.parent().unwrap_or(Path::new("/"));
        let free = super::preflight::free_space(parent)?;
        let dev = fs::metadata(parent).map(|m| m.dev()).ok();
        let needed: u64 = placements
            .iter()
            .filter(|q| {
                fs::metadata(q.staging.parent().unwrap_or(Path::new("/")))
                    .map(|m| m.dev())
                    .ok()
                    == dev
            })
            .map(|q| q.bytes + (q.files + 1) * 4096)
            .sum();
        if free < needed {
            return Err(OpError::Refused(format!(
                "not enough free space beside {} for the restored copy: {} needed, {} free. Nothing was stopped",
                p.target.display(),
                crate::units::bytes(needed),
                crate::units::bytes(free)
            )));
        }
    }
    Ok(())
}

fn safety_backup(
    ctx: &Context,
    estimate: &super::preflight::Estimate,
    on: Sink,
) -> Result<Manifest, OpError> {
    let created = chrono::Utc::now();
    let id = ctx.repo.new_id(created);
    let partial = ctx.repo.create_partial(&id)?;
    let result =
        copy_components(ctx, &partial, estimate, None, SAFETY_LABEL, on).and_then(|components| {
            let m = new_manifest(
                ctx,
                &id,
                created,
                SAFETY_LABEL,
                components,
                Timings::default(),
            );
            publish(ctx, &partial, &m)?;
            Ok(m)
        });
    match result {
        Ok(m) => {
            on(Event::Info(format!(
                "safety backup written as generation {}",
                m.id
            )));
            Ok(m)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            Err(OpError::failed(format!("the safety backup failed: {e}")))
        }
    }
}

fn extract(
    cancel: &crate::cancel::Cancel,
    dir: &Path,
    c: &Component,
    p: &Placement,
    index: &[IndexEntry],
    on: Sink,
) -> Result<(), OpError> {
    let step = Step::Extract(c.name.clone());
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let result = archive::extract_archive(
        &dir.join(&c.archive),
        &p.staging,
        index,
        cancel,
        &mut archive_progress(&step, c.bytes, on),
    );
    match result {
        Ok(_) => {
            on(Event::Finished(step, t.elapsed()));
            Ok(())
        }
        Err(e) => {
            on(Event::Failed(step, e.to_string()));
            Err(e.into())
        }
    }
}

/// Renames every target aside and every staging folder into place, recording the
/// plan in the journal first. On a failure, the renames done so far are undone.
fn swap_all(
    placements: &[Placement],
    journal: &mut super::journal::Journal,
    on: Sink,
) -> Result<(), OpError> {
    let swaps = placements
        .iter()
        .map(|p| Swap {
            target: p.target.clone(),
            kept: p.kept.clone(),
        })
        .collect();
    journal.set_swaps(swaps)?;
    let mut done: Vec<&Placement> = Vec::new();
    for p in placements {
        let step = Step::Swap(p.name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        match swap_one(p) {
            Ok(()) => {
                done.push(p);
                on(Event::Finished(step, t.elapsed()));
            }
            Err(e) => {
                on(Event::Failed(step, e.clone()));
                for q in done.iter().rev() {
                    if let Err(r) = unswap_one(q) {
                        on(Event::Warning(r));
                    }
                }
                journal.set_swaps(Vec::new())?;
                return Err(OpError::failed(e));
            }
        }
    }
    journal.set_swaps(Vec::new())?;
    Ok(())
}

fn swap_one(p: &Placement) -> Result<(), String> {
    let had_target = p.target.exists();
    if had_target {
        fs::rename(&p.target, &p.kept).map_err(|e| {
            format!(
                "cannot move {} aside to {}: {e}",
                p.target.display(),
                p.kept.display()
            )
        })?;
    }
    if let Err(e) = fs::rename(&p.staging, &p.target) {
        if had_target {
            let _ = fs::rename(&p.kept, &p.target);
        }
        return Err(format!(
            "cannot move the restored copy into {}: {e}",
            p.target.display()
        ));
    }
    Ok(())
}

/// Puts the previous folder back (used on rollback and by `recover`).
pub fn unswap_one(p: &Placement) -> Result<(), String> {
    undo_swap(&p.target, &p.kept, &p.staging)
}

/// If `kept` exists, the swap of `target` happened (fully or half): move whatever is
/// at `target` to `discard` and `kept` back to `target`.
pub fn undo_swap(target: &Path, kept: &Path, discard: &Path) -> Result<(), String> {
    if !kept.exists() {
        return Ok(());
    }
    if target.exists() {
        fs::rename(target, discard)
            .map_err(|e| format!("cannot move {} aside: {e}", target.display()))?;
    }
    fs::rename(kept, target).map_err(|e| {
        format!(
            "cannot put {} back to {}: {e}",
            kept.display(),
            target.display()
        )
    })?;
    let _ = fs::remove_dir_all(discard);
    Ok(())
}
