//! Backup: preflight → stop Structr, stop Neo4j → archive every component into a new
//! generation → start Neo4j, start Structr → publish. Whatever fails after the first
//! stop, the services are started again and the partial generation is removed.
//! Services found stopped stay stopped; the manifest says so.

use std::path::Path;
use std::time::Instant;

use chrono::Utc;

use super::app_export;
use super::archiving::{
    begin_backup, copy_components, guarded, new_manifest, preflight_checks, publish_backup,
};
use super::event::{Event, Sink, Step};
use super::offsite;
use super::window::{self, start_steps, stop_steps, Closing, Window};
use super::{Context, OpError};
use crate::repo::generation::Repo;
use crate::repo::manifest::{Component, Manifest};
use crate::repo::store::Store;

#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    pub label: String,
}

#[derive(Debug)]
pub struct Outcome {
    pub manifest: Manifest,
    pub closing: Closing,
    /// One result per `[[offsite]]` target, in config order.
    pub offsite: Vec<offsite::Copied>,
}

/// Backs up into the configured repository, then copies the new generation to
/// each off-site target (the services already run again by then).
pub fn run(ctx: &Context, opts: &BackupOptions, on: Sink) -> Result<Outcome, OpError> {
    let (manifest, closing) = match &ctx.store {
        Store::Archive(repo) if ctx.snapshot_run => {
            super::snapshot::run(ctx, repo, &opts.label, on)?
        }
        Store::Restic(r) if ctx.snapshot_run => {
            return Err(OpError::Refused(format!(
                "snapshot backups are recorded in an archive-kind repository; {} is a restic repository. Run a cold backup (without --snapshot)",
                r.location
            )))
        }
        Store::Archive(repo) => run_archive(ctx, repo, opts, on)?,
        Store::Restic(r) => super::restic::backup(ctx, r, &opts.label, on)?,
        Store::Rclone(r) => {
            return Err(OpError::Refused(format!(
            "{} is an off-site target; backups are written into the repository and copied there",
            r.location()
        )))
        }
    };
    // A snapshot kept by a hypervisor has nothing here to copy off-site.
    let offsite = ctx
        .offsite
        .iter()
        .filter(|_| !manifest.is_external_snapshot())
        .map(|(name, to)| offsite::copy(&ctx.store, name, to, &manifest, &ctx.cancel, on))
        .collect();
    Ok(Outcome {
        manifest,
        closing,
        offsite,
    })
}

fn run_archive(
    ctx: &Context,
    repo: &Repo,
    opts: &BackupOptions,
    on: Sink,
) -> Result<(Manifest, Closing), OpError> {
    let (_installation, lock) = begin_backup(ctx, repo, on)?;
    // Decided before anything stops: the sources and the repository must share a
    // file system that clones files.
    let reflink = ctx.reflink
        && ctx
            .inst
            .components
            .iter()
            .all(|c| crate::repo::clone::possible(&c.path, &repo.root));
    let found_stopped = window::found_stopped(ctx.inst);
    on(Event::Plan(plan_steps(ctx, reflink, &found_stopped)));
    if !found_stopped.is_empty() {
        on(Event::Warning(format!(
            "already stopped: {}. The copy is taken with it stopped, and it is left stopped afterwards",
            found_stopped.join(", ")
        )));
    }
    let estimate = preflight_checks(ctx, repo, on)?;
    if reflink {
        on(Event::Info("the repository shares a reflink file system with the sources: they are cloned while the services are stopped and compressed after they run again".into()));
    }

    let started = Instant::now();
    let created = Utc::now();
    let id = repo.new_id(created);
    let partial = repo.create_partial(&id)?;
    // While Structr still runs: its application export needs it up.
    let app = app_export::archive_into(ctx, &id, &partial, on);
    if let Err(e) = super::refuse_if_cancelled(&ctx.cancel) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    let clone_dir = partial.join(".clone");
    let mut window = Window::new(ctx.inst, "backup");
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
        Ok(mut c) => {
            c.extend(app);
            c
        }
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
    let timings = window.timings(started, copy_secs);
    let mut manifest = new_manifest(
        ctx,
        &id,
        created,
        &opts.label,
        components,
        &estimate.sources,
        timings,
    );
    manifest.services_already_stopped = window.found_stopped().to_vec();
    let done = publish_backup(ctx, repo, &partial, manifest, closing, on);
    drop(lock);
    done
}

/// What the services' downtime covered: the archives themselves, or clones to
/// compress once the services run again.
enum Staged {
    Archived(Vec<Component>),
    Cloned(Vec<std::path::PathBuf>),
}

fn plan_steps(ctx: &Context, reflink: bool, found_stopped: &[String]) -> Vec<Step> {
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
    steps.extend(app_export::plan_step(ctx));
    steps.extend(stop_steps(inst));
    // With reflinks only the clone happens while stopped; compression follows the starts.
    let (stopped, after) = if reflink {
        (clones, copies)
    } else {
        (copies, vec![])
    };
    steps.extend(stopped);
    steps.extend(start_steps(inst, found_stopped));
    steps.extend(after);
    steps.push(Step::Publish);
    steps.extend(offsite::steps(ctx));
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
                    detail: crate::ops::error::STOPPED.into(),
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
