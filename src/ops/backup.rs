//! Backup: preflight → stop Structr, stop Neo4j → archive every component into a new
//! generation → start Neo4j, start Structr → publish. Whatever fails after the first
//! stop, the services are started again and the partial generation is removed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use chrono::Utc;

use super::event::{archive_progress, Event, Sink, Step};
use super::preflight::{self, Estimate};
use super::window::{start_steps, stop_steps, Closing, Window};
use super::{refuse_if_interrupted, Context, OpError};
use crate::repo::archive;
use crate::repo::file_index;
use crate::repo::generation::{self, Component, Manifest, Timings, FORMAT_VERSION};
use crate::repo::lock;

#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    pub label: String,
}

#[derive(Debug)]
pub struct Outcome {
    pub manifest: Manifest,
    pub closing: Closing,
}

pub fn run(ctx: &Context, opts: &BackupOptions, on: Sink) -> Result<Outcome, OpError> {
    ctx.repo.create()?;
    let lock = lock::acquire(&ctx.repo.root, "backup")?;
    if let Some(stale) = &lock.stale_holder {
        on(Event::Warning(format!(
            "took over a stale repository lock ({stale})"
        )));
    }
    refuse_if_interrupted(&ctx.repo)?;
    for p in ctx.repo.clean_leftovers()? {
        on(Event::Info(format!(
            "removed the leftover of an interrupted run: {}",
            p.display()
        )));
    }
    // Decided before anything stops: the sources and the repository must share a
    // file system that clones files.
    let reflink = ctx.reflink
        && ctx
            .inst
            .components
            .iter()
            .all(|c| crate::repo::clone::possible(&c.path, &ctx.repo.root));
    on(Event::Plan(plan_steps(ctx, reflink)));
    let estimate = preflight_checks(ctx, on)?;
    if reflink {
        on(Event::Info("the repository shares a reflink file system with the sources: they are cloned while the services are stopped and compressed after they run again".into()));
    }

    let started = Instant::now();
    let created = Utc::now();
    let id = ctx.repo.new_id(created);
    let partial = ctx.repo.create_partial(&id)?;
    let clone_dir = partial.join(".clone");
    let mut window = Window::new(ctx.inst, &ctx.repo.root, "backup");
    let copy_started = Instant::now();
    let staged = window.stop_all(on).and_then(|()| {
        guarded(|| match reflink {
            true => clone_components(ctx, &clone_dir, on).map(Staged::Cloned),
            false => copy_components(ctx, &partial, &estimate, None, "", on).map(Staged::Archived),
        })
    });
    let closing = window.close(on);
    // With a clone, the services are running again: compress it now.
    let copied = staged.and_then(|s| match s {
        Staged::Archived(c) => Ok(c),
        Staged::Cloned(dirs) => {
            let r = copy_components(ctx, &partial, &estimate, Some(&dirs), "", on);
            let _ = std::fs::remove_dir_all(&clone_dir);
            r
        }
    });
    let copy_secs = copy_started.elapsed().as_secs_f64();

    let components = match copied {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            let aftermath = format!("{} No generation was written.", closing.aftermath());
            return Err(OpError::in_window(
                &e,
                &aftermath,
                ctx.cancel.is_cancelled(),
            ));
        }
    };
    let timings = Timings {
        downtime_secs: window.downtime().as_secs_f64(),
        total_secs: started.elapsed().as_secs_f64(),
        stop_secs: 0.0,
        copy_secs,
        start_secs: 0.0,
    };
    let manifest = new_manifest(ctx, &id, created, &opts.label, components, timings);
    on(Event::Started(Step::Publish));
    let t = Instant::now();
    publish(ctx, &partial, &manifest)?;
    on(Event::Finished(Step::Publish, t.elapsed()));
    drop(lock);
    if !closing.all_running() {
        return Err(OpError::failed(format!(
            "generation {id} was written, but: {}",
            closing.aftermath()
        )));
    }
    Ok(Outcome { manifest, closing })
}

/// What the services' downtime covered: the archives themselves, or clones to
/// compress once the services run again.
enum Staged {
    Archived(Vec<Component>),
    Cloned(Vec<std::path::PathBuf>),
}

fn plan_steps(ctx: &Context, reflink: bool) -> Vec<Step> {
    let inst = ctx.inst;
    let copies: Vec<Step> = inst
        .components
        .iter()
        .map(|c| Step::Copy(c.name.clone()))
        .collect();
    let clones: Vec<Step> = inst
        .components
        .iter()
        .map(|c| Step::Clone(c.name.clone()))
        .collect();
    let mut steps = vec![Step::Preflight];
    steps.extend(stop_steps(inst));
    // With reflinks only the clone happens while stopped; compression follows the starts.
    let (stopped, after) = if reflink {
        (clones, copies)
    } else {
        (copies, vec![])
    };
    steps.extend(stopped);
    steps.extend(start_steps(inst));
    steps.extend(after);
    steps.push(Step::Publish);
    steps
}

/// Clones every component into `dir/<name>` (reflinks: metadata time only).
fn clone_components(
    ctx: &Context,
    dir: &Path,
    on: Sink,
) -> Result<Vec<std::path::PathBuf>, OpError> {
    let mut out = Vec::new();
    for c in &ctx.inst.components {
        let step = Step::Clone(c.name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::failed(format!("cannot create {}: {e}", dir.display())))?;
        let dest = dir.join(&c.name);
        match crate::repo::clone::clone_tree(&c.path, &dest, &ctx.cancel) {
            Ok(warnings) => warnings.into_iter().for_each(|w| on(Event::Warning(w))),
            Err(crate::repo::clone::CloneError::Cancelled) => {
                return Err(OpError::Cancelled {
                    detail: "the operation was cancelled".into(),
                })
            }
            Err(e) => {
                on(Event::Failed(step, e.to_string()));
                return Err(OpError::failed(e.to_string()));
            }
        }
        on(Event::Finished(step, t.elapsed()));
        out.push(dest);
    }
    Ok(out)
}

pub(crate) fn preflight_checks(ctx: &Context, on: Sink) -> Result<Estimate, OpError> {
    on(Event::Started(Step::Preflight));
    let t = Instant::now();
    let result = (|| -> Result<Estimate, OpError> {
        preflight::check_repo_outside(&ctx.repo.root, &ctx.inst.components)?;
        let (list, _) = ctx.repo.list()?;
        // Safety backups record no downtime of their own; estimate from a real backup.
        let last = list.iter().find(|m| m.timings.downtime_secs > 0.0);
        let estimate = preflight::estimate(&ctx.inst.components, &ctx.repo.root, last)?;
        estimate.check_space(&ctx.repo.root)?;
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
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, OpError>) -> Result<T, OpError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(OpError::failed(
            "internal error (a worker panicked) while copying",
        ))
    })
}

/// Archives every component of the installation into `dir` (reading `read_from`
/// instead of the live folders when given). A non-empty `purpose` reports the
/// steps as a restore's safety backup instead of a plain copy.
pub(crate) fn copy_components(
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
                detail: "the operation was cancelled".into(),
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

pub(crate) fn new_manifest(
    ctx: &Context,
    id: &str,
    created: chrono::DateTime<Utc>,
    label: &str,
    components: Vec<Component>,
    timings: Timings,
) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        id: id.to_string(),
        created_at: created,
        host: ctx.inst.host.clone(),
        installation: ctx.inst.kind.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        label: label.to_string(),
        pinned: false,
        last_verified: None,
        timings,
        versions: ctx.inst.versions.clone(),
        components,
    }
}

/// Writes the manifest and `SHA256SUMS` (archives from the streaming hash, index
/// files hashed now: they are small) and renames `.partial` into place.
pub(crate) fn publish(ctx: &Context, partial: &Path, m: &Manifest) -> Result<(), OpError> {
    let mut sums = Vec::new();
    for c in &m.components {
        sums.push((c.sha256.clone(), c.archive.clone()));
        let index_hash = archive::sha256_file(&partial.join(&c.index), &ctx.cancel, &mut |_| {})?;
        sums.push((index_hash, c.index.clone()));
    }
    generation::write_sums(partial, &sums)?;
    generation::write_manifest(partial, m)?;
    ctx.repo.publish(partial, &m.id)?;
    Ok(())
}
