//! The restic kind's parts of the procedures: the incremental cold backup (stop →
//! `restic backup` of every component as one snapshot → start), the safety backup,
//! the check before a restore, and the extraction of a component into its staging
//! folder. The window, the swap, the journal and the rollback are the same as for
//! the archive kind (see backup.rs and restore.rs).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::app_export;
use super::archiving::{guarded, new_manifest};
use super::event::{Event, Sink, Step};
use super::placement::Placement;
use super::preflight::{self, SourceSize};
use super::runbook;
use super::swap;
use super::window::{self, start_steps, stop_steps, Closing, Window};
use super::{lock_store, refuse_if_interrupted, state, Context, OpError};
use crate::cancel::Cancel;
use crate::ids::id_for;
use crate::repo::manifest::{Component, Manifest, Timings};
use crate::repo::owners::OwnerMap;
use crate::repo::restic::{tags, Restic, ResticError};

/// What restic copies in one snapshot, for step names: `neo4j-data + structr (restic)`.
pub fn all_components(inst: &crate::install::Installation) -> String {
    let names: Vec<&str> = inst.components.iter().map(|c| c.name.as_str()).collect();
    format!("{} (restic)", names.join(" + "))
}

pub fn backup(
    ctx: &Context,
    r: &Restic,
    label: &str,
    on: Sink,
) -> Result<(Manifest, Closing), OpError> {
    let _installation = state::lock_installation(ctx.inst, "backup")?;
    lock_store(&ctx.store, "backup")?;
    refuse_if_interrupted(ctx.inst)?;
    let found_stopped = window::found_stopped(ctx.inst);
    let step = Step::Copy(all_components(ctx.inst));
    let mut plan = vec![Step::Preflight];
    plan.extend(app_export::plan_step(ctx));
    plan.extend(stop_steps(ctx.inst));
    plan.push(step.clone());
    plan.extend(start_steps(ctx.inst, &found_stopped));
    plan.push(Step::Retag);
    plan.extend(super::offsite::steps(ctx));
    on(Event::Plan(plan));
    if !found_stopped.is_empty() {
        on(Event::Warning(format!(
            "already stopped: {}. The copy is taken with it stopped, and it is left stopped afterwards",
            found_stopped.join(", ")
        )));
    }
    let (sources, existing) = preflight_checks(ctx, r, on)?;

    let started = Instant::now();
    let created = Utc::now();
    let id = unique_id(created, &existing);
    let mut components = components_of(ctx, &sources);
    // While Structr still runs; its folder is one more path of the same snapshot.
    let app = app_export::take_for_snapshot(ctx, &id, on);
    let app_dir = app.as_ref().map(|c| c.source.clone());
    if let Err(e) = super::refuse_if_cancelled(&ctx.cancel) {
        if let Some(dir) = &app_dir {
            let _ = app_export::remove_if_there(dir);
        }
        return Err(e);
    }
    components.extend(app);
    let mut manifest = new_manifest(
        ctx,
        &id,
        created,
        label,
        components,
        &sources,
        Timings::default(),
    );
    manifest.services_already_stopped = found_stopped;
    let total: u64 = sources.iter().map(|s| s.bytes).sum();

    // Written before anything stops: a failure here costs no downtime.
    let runbook = write_runbook(ctx, &manifest)?;
    let mut window = Window::new(ctx.inst, "backup");
    let copy_started = Instant::now();
    let copied = window
        .stop_all(on)
        .and_then(|()| guarded(|| snapshot(ctx, r, &manifest, &runbook, &step, total, on)));
    let closing = window.close(on);
    let copy_secs = copy_started.elapsed().as_secs_f64();
    if let Some(dir) = &app_dir {
        let _ = app_export::remove_if_there(dir);
    }
    let summary = match copied {
        Ok(s) => s,
        Err(e) => {
            // restic writes the snapshot last; one that exists after a failure
            // (some files unreadable, exit 3) is incomplete and must not be a generation.
            forget_incomplete(r, &id, on);
            let aftermath = format!("{} No generation was written.", closing.aftermath());
            return Err(OpError::in_window(
                &e,
                &aftermath,
                ctx.cancel.is_cancelled(),
            ));
        }
    };
    manifest.timings = window.timings(started, copy_secs);
    manifest.added_bytes = Some(summary.data_added);
    manifest.snapshot = Some(summary.snapshot_id.clone());
    on(Event::Info(format!(
        "restic read {} new and {} changed files, skipped {} unchanged; the repository grew by {}",
        summary.files_new,
        summary.files_changed,
        summary.files_unmodified,
        crate::units::bytes(summary.data_added)
    )));
    // The timings are known only now: they join the snapshot's tags.
    on(Event::Started(Step::Retag));
    let t = Instant::now();
    let extra = [
        tags::timings_tag(&manifest.timings),
        tags::added_tag(summary.data_added),
    ];
    match r.retag(&summary.snapshot_id, &extra, &[]) {
        Ok(()) => {
            // restic wrote the snapshot anew under another id.
            if let Some(s) = ctx.store.manifest(&id).ok().and_then(|m| m.snapshot) {
                manifest.snapshot = Some(s);
            }
            on(Event::Finished(Step::Retag, t.elapsed()))
        }
        Err(e) => on(Event::Warning(format!(
            "generation {id} was written, but its timings could not be added to the snapshot: {e}"
        ))),
    }
    if !closing.all_running() {
        return Err(OpError::failed(format!(
            "generation {id} was written, but: {}",
            closing.aftermath()
        )));
    }
    Ok((manifest, closing))
}

/// Before anything stops: the repository exists and opens, it lies outside the
/// installation, and every component can be read.
fn preflight_checks(
    ctx: &Context,
    r: &Restic,
    on: Sink,
) -> Result<(Vec<SourceSize>, Vec<String>), OpError> {
    on(Event::Started(Step::Preflight));
    let t = Instant::now();
    let result = (|| -> Result<(Vec<SourceSize>, Vec<String>), OpError> {
        if let Some(folder) = r.local_folder() {
            preflight::check_repo_outside(folder, &ctx.inst.components)?;
        }
        if !r.exists()? {
            return Err(OpError::Refused(format!(
                "there is no restic repository at {}; create it with `structr-backup init`. Nothing was stopped",
                r.location
            )));
        }
        super::restic_locks::check_locks(r, super::restic_locks::LockNeed::Shared)?;
        if let Some(w) = super::restic_locks::password_file_warning(r) {
            on(Event::Warning(w));
        }
        let existing = ctx.store.list()?.0.into_iter().map(|m| m.id).collect();
        let sources = preflight::measure(&ctx.inst.components)?;
        for w in preflight::boundary_warnings(&sources, &ctx.inst.components) {
            on(Event::Warning(w));
        }
        Ok((sources, existing))
    })();
    match &result {
        Ok((sources, _)) => {
            on(Event::Info(format!(
                "{} in {} files; restic reads only the files changed since the last snapshot",
                crate::units::bytes(sources.iter().map(|s| s.bytes).sum()),
                sources.iter().map(|s| s.files).sum::<u64>()
            )));
            on(Event::Finished(Step::Preflight, t.elapsed()));
        }
        Err(e) => on(Event::Failed(Step::Preflight, e.to_string())),
    }
    result
}

fn unique_id(created: DateTime<Utc>, existing: &[String]) -> String {
    let base = id_for(created);
    if !existing.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !existing.contains(id))
        .unwrap_or(base)
}

fn components_of(ctx: &Context, sources: &[SourceSize]) -> Vec<Component> {
    ctx.inst
        .components
        .iter()
        .map(|c| {
            let s = sources.iter().find(|s| s.name == c.name);
            Component {
                name: c.name.clone(),
                role: c.role.clone(),
                source: c.path.clone(),
                archive: String::new(),
                index: String::new(),
                files: s.map_or(0, |s| s.files),
                entries: s.map_or(0, |s| s.files),
                bytes: s.map_or(0, |s| s.bytes),
                archive_size: 0,
                sha256: String::new(),
            }
        })
        .collect()
}

/// `restic backup` of every component and the generation's runbook as one
/// snapshot tagged with `m`.
fn snapshot(
    ctx: &Context,
    r: &Restic,
    m: &Manifest,
    runbook: &Path,
    step: &Step,
    total: u64,
    on: Sink,
) -> Result<crate::repo::restic::BackupSummary, OpError> {
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let mut paths: Vec<PathBuf> = m.components.iter().map(|c| c.source.clone()).collect();
    paths.push(runbook.to_path_buf());
    let result = r.backup(
        &paths,
        &tags::encode(m),
        &m.host,
        m.created_at,
        &ctx.cancel,
        &mut |p| {
            on(Event::Progress {
                step: step.clone(),
                done: p.done,
                total: p.total.max(total).max(p.done),
            })
        },
    );
    match result {
        Ok(s) => {
            on(Event::Finished(step.clone(), t.elapsed()));
            Ok(s)
        }
        Err(e) => {
            on(Event::Failed(step.clone(), e.to_string()));
            Err(e.into())
        }
    }
}

/// Writes the runbook of `m` where the snapshot picks it up: a fixed file per
/// installation in our private state folder (fixed, so restic sees an unchanged
/// path from one snapshot to the next; private, so nobody else can swap it).
fn write_runbook(ctx: &Context, m: &Manifest) -> Result<PathBuf, OpError> {
    let dir = runbook_dir(ctx.inst);
    state::private_dir(&dir).map_err(OpError::failed)?;
    let path = dir.join(runbook::FILE);
    let text = runbook::render_configured(m, &runbook::Source::of(&ctx.store), &ctx.configured);
    crate::repo::files::write_file_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// The folder whose `RESTORE.md` goes into this installation's snapshots.
pub fn runbook_dir(inst: &crate::install::Installation) -> PathBuf {
    state::state_dir().join(format!("{}.runbook", inst.key()))
}

fn forget_incomplete(r: &Restic, id: &str, on: Sink) {
    let tag = tags::id_tag(id);
    let Ok(snaps) = r.snapshots() else { return };
    let doomed: Vec<String> = snaps
        .into_iter()
        .filter(|s| s.tags.contains(&tag))
        .map(|s| s.id)
        .collect();
    if doomed.is_empty() {
        return;
    }
    // Forget only: a repository-wide prune is the next `prune`'s work, not a failed backup's.
    match r.forget(&doomed, &Cancel::new()) {
        Ok(()) => on(Event::Info(format!(
            "removed the incomplete snapshot of {id}"
        ))),
        Err(e) => on(Event::Warning(format!(
            "the incomplete snapshot of {id} could not be removed ({e}); remove it with `restic forget {}`",
            doomed.join(" ")
        ))),
    }
}

/// The restore's safety backup: a snapshot of the current state, taken while the
/// services are stopped (incremental, so it costs only what changed).
pub fn safety_backup(
    ctx: &Context,
    r: &Restic,
    label: &str,
    on: Sink,
) -> Result<Manifest, OpError> {
    let existing: Vec<String> = ctx.store.list()?.0.into_iter().map(|m| m.id).collect();
    let sources = preflight::measure(&ctx.inst.components)?;
    let created = Utc::now();
    let id = unique_id(created, &existing);
    let m = new_manifest(
        ctx,
        &id,
        created,
        label,
        components_of(ctx, &sources),
        &sources,
        Timings::default(),
    );
    let step = Step::SafetyBackup(all_components(ctx.inst));
    let total = sources.iter().map(|s| s.bytes).sum();
    let runbook = write_runbook(ctx, &m)?;
    let summary = snapshot(ctx, r, &m, &runbook, &step, total, on)?;
    let mut m = m;
    m.snapshot = Some(summary.snapshot_id);
    m.added_bytes = Some(summary.data_added);
    Ok(m)
}

/// The check a restore makes before anything stops: the repository's structure
/// (`restic check`), and the generation's snapshot must be there.
pub fn verify_before_restore(
    r: &Restic,
    m: &Manifest,
    cancel: &Cancel,
    on: Sink,
) -> Result<(), OpError> {
    // A lock left by a killed run is said as such (exit 4), never as damage.
    super::restic_locks::check_locks(r, super::restic_locks::LockNeed::Exclusive)?;
    let step = Step::Verify("restic repository".into());
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let result = match &m.snapshot {
        None => Err(OpError::Verify(format!("{} names no snapshot", m.id))),
        Some(_) => r.check(false, cancel, &mut |_| {}).map_err(|e| match e {
            e @ (ResticError::Cancelled | ResticError::Locked { .. }) => e.into(),
            other => OpError::Verify(other.to_string()),
        }),
    };
    match &result {
        Ok(()) => on(Event::Finished(step, t.elapsed())),
        Err(e) => on(Event::Failed(step, e.to_string())),
    }
    result
}

/// Restores component `c` of `m` into the placement's staging folder: restic
/// writes it under its full path into `.<name>.restic-<id>` beside the target
/// (checking every file with `--verify`), it is moved to the staging name, and
/// the file system is synced before the swap.
pub fn extract(
    r: &Restic,
    m: &Manifest,
    c: &Component,
    p: &Placement,
    owners: &OwnerMap,
    cancel: &Cancel,
    on: Sink,
) -> Result<(), OpError> {
    let step = Step::Extract(c.name.clone());
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let result = (|| -> Result<(), OpError> {
        let snapshot = m
            .snapshot
            .as_deref()
            .ok_or_else(|| OpError::Verify(format!("{} names no snapshot", m.id)))?;
        // Made fresh and exclusively under a name nobody can guess: a predictable
        // one beside a target in a shared folder could be made first, as a link.
        let unpack =
            swap::make_unpack_dir(&p.target, &m.id).map_err(|e| OpError::failed(e.to_string()))?;
        let done = r
            .restore(snapshot, &c.source, &unpack, cancel)
            .map_err(OpError::from);
        let moved = done.and_then(|()| {
            let inner = inside(&unpack, &c.source);
            match fs::symlink_metadata(&inner) {
                Ok(meta) if meta.is_dir() => fs::rename(&inner, &p.staging).map_err(|e| {
                    OpError::failed(format!(
                        "cannot move {} to {}: {e}",
                        inner.display(),
                        p.staging.display()
                    ))
                }),
                _ => Err(OpError::Verify(format!(
                    "the snapshot of {} holds no folder {}",
                    m.id,
                    c.source.display()
                ))),
            }
        });
        let _ = fs::remove_dir_all(&unpack);
        moved?;
        // restic restores owners by number; the names decide on another machine.
        crate::repo::meta::remap_tree(&p.staging, owners).map_err(|e| {
            OpError::failed(format!("cannot give the restored files their owners: {e}"))
        })?;
        crate::repo::archive::sync_file_system(&p.staging)
            .map_err(|e| OpError::failed(format!("cannot sync {}: {e}", p.staging.display())))?;
        on(Event::Progress {
            step: step.clone(),
            done: c.bytes,
            total: c.bytes,
        });
        Ok(())
    })();
    match &result {
        Ok(()) => on(Event::Finished(step, t.elapsed())),
        Err(e) => on(Event::Failed(step, e.to_string())),
    }
    result
}

/// `source` (absolute, from the snapshot) under `dir`, lexically: no `..` can
/// leave `dir` because components are only normal names.
fn inside(dir: &Path, source: &Path) -> PathBuf {
    let mut p = dir.to_path_buf();
    for part in source.components() {
        if let std::path::Component::Normal(n) = part {
            p.push(n);
        }
    }
    p
}
