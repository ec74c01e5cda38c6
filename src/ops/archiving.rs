//! Archiving the installation's components into a new generation: the preflight
//! before anything stops, the copy itself, the manifest and the publication. Used by
//! backup and by the safety backup a restore takes.

use crate::repo::files;
use crate::repo::manifest;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use chrono::Utc;

use super::event::{archive_progress, Event, Sink, Step};
use super::preflight::{self, Estimate};
use super::runbook;
use super::{Context, OpError};
use crate::repo::archive;
use crate::repo::file_index;
use crate::repo::generation::Repo;
use crate::repo::manifest::{Component, Manifest, Timings, FORMAT_VERSION};

pub fn preflight_checks(ctx: &Context, repo: &Repo, on: Sink) -> Result<Estimate, OpError> {
    on(Event::Started(Step::Preflight));
    let t = Instant::now();
    let result = (|| -> Result<Estimate, OpError> {
        preflight::check_repo_outside(&repo.root, &ctx.inst.components)?;
        let (list, _) = repo.list()?;
        // Safety backups record no downtime of their own; estimate from a real backup.
        let last = list.iter().find(|m| m.timings.downtime_secs > 0.0);
        let estimate = preflight::estimate(&ctx.inst.components, &repo.root, last)?;
        for w in preflight::boundary_warnings(&estimate.sources, &ctx.inst.components) {
            on(Event::Warning(w));
        }
        estimate.check_space(&repo.root)?;
        Ok(estimate)
    })();
    match &result {
        Ok(e) => {
            let downtime = e
                .expected_downtime
                .map_or("unknown (first backup)".into(), crate::units::duration);
            on(Event::Info(format!(
                "{} in {} files to copy; {} free in the repository; expected downtime {}",
                crate::units::bytes(e.total_bytes),
                e.sources.iter().map(|s| s.files).sum::<u64>(),
                crate::units::bytes(e.free_bytes),
                downtime
            )));
            on(Event::Finished(Step::Preflight, t.elapsed()));
        }
        Err(err) => on(Event::Failed(Step::Preflight, err.to_string())),
    }
    result
}

/// Runs `f`, turning a panic into an error so the window is still closed.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, OpError>) -> Result<T, OpError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(OpError::failed(
            "internal error (a worker panicked) while copying",
        ))
    })
}

/// Archives every component of the installation into `dir` (reading `read_from`
/// instead of the live folders when given). A non-empty `purpose` reports the
/// steps as a restore's safety backup instead of a plain copy.
pub fn copy_components(
    ctx: &Context,
    dir: &Path,
    estimate: &Estimate,
    read_from: Option<&[std::path::PathBuf]>,
    purpose: &str,
    on: Sink,
) -> Result<Vec<Component>, OpError> {
    let mut out = Vec::new();
    for (i, c) in ctx.inst.components.iter().enumerate() {
        // A clone is read in place of the live folder; the manifest names the live one.
        let src = read_from.and_then(|r| r.get(i)).unwrap_or(&c.path);
        if ctx.cancel.is_cancelled() {
            return Err(OpError::Cancelled {
                detail: crate::ops::error::STOPPED.into(),
            });
        }
        let step = if purpose.is_empty() {
            Step::Copy(c.name.clone())
        } else {
            Step::SafetyBackup(c.name.clone())
        };
        let total = estimate
            .sources
            .iter()
            .find(|s| s.name == c.name)
            .map_or(0, |s| s.bytes);
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let archive_name = format!("{}.tar.zst", c.name);
        let index_name = format!("{}.files", c.name);
        let result = archive::write_archive(
            src,
            &dir.join(&archive_name),
            &ctx.archive,
            &ctx.cancel,
            &mut archive_progress(&step, total, on),
        );
        let summary = match result {
            Ok(s) => s,
            Err(e) => {
                on(Event::Failed(step, e.to_string()));
                return Err(e.into());
            }
        };
        let index_path = dir.join(&index_name);
        file_index::write_index(&index_path, &summary.index).map_err(|e| {
            OpError::failed(format!(
                "cannot write the file index {}: {e}",
                index_path.display()
            ))
        })?;
        on(Event::Finished(step, t.elapsed()));
        out.push(Component {
            name: c.name.clone(),
            role: c.role.clone(),
            source: c.path.clone(),
            archive: archive_name,
            index: index_name,
            files: summary.files,
            entries: summary.entries,
            bytes: summary.bytes,
            archive_size: summary.archive_size,
            sha256: summary.sha256,
        });
    }
    Ok(out)
}

pub fn new_manifest(
    ctx: &Context,
    id: &str,
    created: chrono::DateTime<Utc>,
    label: &str,
    components: Vec<Component>,
    sources: &[preflight::SourceSize],
    timings: Timings,
) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        id: id.to_string(),
        created_at: created,
        host: ctx.inst.host.clone(),
        installation: ctx.inst.kind.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        label: crate::text::printable(label, manifest::MAX_LABEL),
        pinned: false,
        last_verified: None,
        last_drill: None,
        timings,
        versions: ctx.inst.versions.clone(),
        neo4j_kernel: Default::default(),
        services_already_stopped: Vec::new(),
        components,
        snapshot: None,
        added_bytes: None,
        snapshot_backup: None,
        restoring: None,
        owners: preflight::owners(sources),
    }
}

/// Writes the runbook, the manifest and `SHA256SUMS` (archives from the streaming
/// hash, index files and the runbook hashed now: they are small) and renames
/// `.partial` into place.
pub fn publish(ctx: &Context, repo: &Repo, partial: &Path, m: &Manifest) -> Result<(), OpError> {
    let mut sums = Vec::new();
    for c in &m.components {
        sums.push((c.sha256.clone(), c.archive.clone()));
        let index_hash = archive::sha256_file(&partial.join(&c.index), &ctx.cancel, &mut |_| {})?;
        sums.push((index_hash, c.index.clone()));
    }
    // Written before SHA256SUMS, so `sha256sum -c` covers the instructions too.
    let text = runbook::render_configured(m, &runbook::Source::of(&ctx.store), &ctx.configured);
    let runbook_path = partial.join(runbook::FILE);
    files::write_file_atomic(&runbook_path, text.as_bytes())?;
    let runbook_hash = archive::sha256_file(&runbook_path, &ctx.cancel, &mut |_| {})?;
    sums.push((runbook_hash, runbook::FILE.to_string()));
    files::write_sums(partial, &sums)?;
    files::write_manifest(partial, m)?;
    repo.publish(partial, &m.id)?;
    Ok(())
}

/// The publish step of an archiving backup: runbook, sums, manifest, and the
/// rename into place.
pub fn publish_generation(
    ctx: &Context,
    repo: &Repo,
    partial: &Path,
    manifest: &Manifest,
    on: Sink,
) -> Result<(), OpError> {
    on(Event::Started(Step::Publish));
    let t = Instant::now();
    publish(ctx, repo, partial, manifest)?;
    on(Event::Finished(Step::Publish, t.elapsed()));
    Ok(())
}

/// Locks and leftovers, as every backup begins.
pub fn begin_backup(
    ctx: &Context,
    repo: &Repo,
    on: Sink,
) -> Result<(crate::repo::lock::Lock, crate::repo::lock::Lock), OpError> {
    let installation = super::state::lock_installation(ctx.inst, "backup")?;
    repo.create()?;
    let lock = super::lock_repo(repo, "backup")?;
    if let Some(stale) = &lock.stale_holder {
        on(Event::Warning(format!(
            "took over a stale repository lock ({stale})"
        )));
    }
    super::refuse_if_interrupted(ctx.inst)?;
    for p in repo.clean_leftovers()? {
        on(Event::Info(format!(
            "removed the leftover of an interrupted run: {}",
            p.display()
        )));
    }
    Ok((installation, lock))
}
