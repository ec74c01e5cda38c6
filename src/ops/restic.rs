//! The restic kind's parts of the procedures: one `restic backup` of every
//! component as one snapshot (the cold backup's copier, `backup/restic.rs`, and
//! the restore's safety backup), the check before a restore, and the extraction
//! of a component into its staging folder. The window, the swap, the journal and
//! the rollback are the same as for the archive kind (see backup/ and restore.rs).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::archiving::new_manifest;
use super::event::{Event, Sink, Step};
use super::placement::Placement;
use super::preflight::{self, SourceSize};
use super::runbook;
use super::swap;
use super::{state, Context, OpError};
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

pub fn unique_id(created: DateTime<Utc>, existing: &[String]) -> String {
    let base = id_for(created);
    if !existing.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !existing.contains(id))
        .unwrap_or(base)
}

pub fn components_of(ctx: &Context, sources: &[SourceSize]) -> Vec<Component> {
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
pub fn snapshot(
    ctx: &Context,
    r: &Restic,
    m: &Manifest,
    // The runbook, and the staged copies read in place of the components.
    (runbook, staged): (&Path, &[(PathBuf, PathBuf)]),
    step: &Step,
    total: u64,
    on: Sink,
) -> Result<crate::repo::restic::BackupSummary, OpError> {
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let mut paths: Vec<PathBuf> = m.components.iter().map(|c| c.source.clone()).collect();
    paths.push(runbook.to_path_buf());
    let tags = tags::encode(m);
    let stamp = crate::repo::restic::Stamp {
        tags: &tags,
        host: &m.host,
        time: m.created_at,
    };
    let result = r.backup(&paths, staged, &stamp, &ctx.cancel, &mut |p| {
        on(Event::Progress {
            step: step.clone(),
            done: p.done,
            total: p.total.max(total).max(p.done),
        })
    });
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
pub fn write_runbook(ctx: &Context, m: &Manifest) -> Result<PathBuf, OpError> {
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

/// The safety backup of a restore of generation `restoring`: a snapshot of the
/// current state, taken while the services are stopped (incremental, so it
/// costs only what changed).
pub fn safety_backup(
    ctx: &Context,
    r: &Restic,
    label: &str,
    restoring: &str,
    on: Sink,
) -> Result<Manifest, OpError> {
    let existing: Vec<String> = ctx.store.list()?.0.into_iter().map(|m| m.id).collect();
    let sources = preflight::measure(&ctx.inst.components)?;
    let created = Utc::now();
    let id = unique_id(created, &existing);
    let mut m = new_manifest(
        ctx,
        &id,
        created,
        label,
        components_of(ctx, &sources),
        &sources,
        Timings::default(),
    );
    m.restoring = Some(restoring.to_string());
    let step = Step::SafetyBackup(all_components(ctx.inst));
    let total = sources.iter().map(|s| s.bytes).sum();
    let runbook = write_runbook(ctx, &m)?;
    let summary = snapshot(ctx, r, &m, (&runbook, &[]), &step, total, on)?;
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
