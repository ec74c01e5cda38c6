//! The restic kind's copier: every component (and the generation's runbook) in
//! one incremental `restic backup`, the generation is the snapshot, its
//! manifest in the snapshot's tags. With a mirror (rsync or reflink), the
//! window only updates it and restic reads it after the start, bound over the
//! installation's own paths; without one, restic reads while stopped.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::copier::{Copier, Finished, Head, Shape};
use super::mirror::Mirror;
use crate::cancel::Cancel;
use crate::ops::archiving::new_manifest;
use crate::ops::event::{Event, Sink, Step};
use crate::ops::preflight::{self, SourceSize};
use crate::ops::restic::{all_components, components_of, snapshot, unique_id, write_runbook};
use crate::ops::{app_export, lock_store, refuse_if_interrupted, state, Context, OpError};
use crate::repo::lock::Lock;
use crate::repo::manifest::{Manifest, Timings};
use crate::repo::restic::{tags, BackupSummary, Restic};

pub struct ResticCopier<'r> {
    r: &'r Restic,
    locks: Vec<Lock>,
    sources: Vec<SourceSize>,
    existing: Vec<String>,
    /// The manifest as tagged on the snapshot (timings added after the window).
    manifest: Option<Manifest>,
    runbook: PathBuf,
    /// The application export's folder, one more path of the snapshot.
    app_dir: Option<PathBuf>,
    summary: Option<BackupSummary>,
    /// The staged copy restic reads after the start, when there is one.
    mirror: Option<Mirror>,
    /// Whether `restic backup` ran (a failed one may leave a snapshot behind).
    tried: bool,
}

impl<'r> ResticCopier<'r> {
    pub fn new(r: &'r Restic) -> Self {
        ResticCopier {
            r,
            locks: Vec::new(),
            sources: Vec::new(),
            existing: Vec::new(),
            manifest: None,
            runbook: PathBuf::new(),
            app_dir: None,
            summary: None,
            mirror: None,
            tried: false,
        }
    }

    /// `restic backup` of every component as one snapshot, from `staged` copies
    /// bound over the installation's paths when given.
    fn snapshot(
        &mut self,
        ctx: &Context,
        staged: &[(PathBuf, PathBuf)],
        on: Sink,
    ) -> Result<(), OpError> {
        let m = self
            .manifest
            .as_ref()
            .ok_or_else(|| OpError::failed("internal error: no manifest was prepared"))?;
        self.tried = true;
        let total = self.sources.iter().map(|s| s.bytes).sum();
        let step = Step::Copy(all_components(ctx.inst));
        self.summary = Some(snapshot(
            ctx,
            self.r,
            m,
            (&self.runbook, staged),
            &step,
            total,
            on,
        )?);
        Ok(())
    }

    fn remove_app_dir(&mut self) {
        if let Some(dir) = self.app_dir.take() {
            let _ = app_export::remove_if_there(&dir);
        }
    }
}

impl Copier for ResticCopier<'_> {
    fn begin(&mut self, ctx: &Context, _on: Sink) -> Result<(), OpError> {
        self.locks
            .push(state::lock_installation(ctx.inst, "backup")?);
        self.locks.extend(lock_store(&ctx.store, "backup")?);
        refuse_if_interrupted(ctx.inst)
    }

    fn shape(&mut self, ctx: &Context) -> Result<Shape, OpError> {
        self.mirror = super::staging::choose_for_restic(ctx)?;
        let copy = vec![Step::Copy(all_components(ctx.inst))];
        let (while_stopped, after_start) = match &self.mirror {
            None => (copy, vec![]),
            Some(m) => {
                let names = ctx.inst.components.iter().map(|c| m.step(&c.name));
                (names.collect(), copy)
            }
        };
        Ok(Shape {
            while_stopped,
            after_start,
            last: Step::Retag,
            app_export: true,
            offsite: true,
        })
    }

    fn preflight(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        (self.sources, self.existing) = preflight_checks(ctx, self.r, on)?;
        if let Some(m) = &self.mirror {
            m.prepare(on)?;
            let total = self.sources.iter().map(|s| s.bytes).sum();
            super::staging::check_mirror_space(m, total, None, on)?;
        }
        Ok(())
    }

    fn new_id(&self, created: DateTime<Utc>) -> String {
        unique_id(created, &self.existing)
    }

    fn prepare(&mut self, ctx: &Context, head: &Head, on: Sink) -> Result<(), OpError> {
        let mut components = components_of(ctx, &self.sources);
        // While Structr still runs; its folder is one more path of the same snapshot.
        let app = app_export::take_for_snapshot(ctx, &head.id, on);
        self.app_dir = app.as_ref().map(|c| c.source.clone());
        components.extend(app);
        let mut manifest = new_manifest(
            ctx,
            &head.id,
            head.created,
            head.label,
            components,
            &self.sources,
            Timings::default(),
        );
        manifest.services_already_stopped = crate::ops::window::found_stopped(ctx.inst);
        // Written before anything stops: a failure here costs no downtime.
        self.runbook = write_runbook(ctx, &manifest)?;
        self.manifest = Some(manifest);
        Ok(())
    }

    fn while_stopped(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        match &self.mirror {
            Some(m) => m.update(ctx, on).map(|_| ()),
            None => self.snapshot(ctx, &[], on),
        }
    }

    fn after_start(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        let binds: Option<Vec<(PathBuf, PathBuf)>> = match &self.mirror {
            Some(m) => {
                // Sealed first: the mirror matches the sources' state in the window.
                m.seal()?;
                let pairs = ctx.inst.components.iter();
                Some(pairs.map(|c| (m.dir_of(&c.name), c.path.clone())).collect())
            }
            None => None,
        };
        let r = match binds {
            Some(binds) => self.snapshot(ctx, &binds, on),
            None => Ok(()),
        };
        self.remove_app_dir();
        r
    }

    fn publish(
        &mut self,
        ctx: &Context,
        head: &Head,
        run: Finished,
        on: Sink,
    ) -> Result<Manifest, OpError> {
        let (Some(mut manifest), Some(summary)) = (self.manifest.take(), self.summary.take())
        else {
            return Err(OpError::failed("internal error: no snapshot was taken"));
        };
        manifest.timings = run.timings;
        manifest.services_already_stopped = run.services_already_stopped;
        manifest.neo4j_kernel = run.neo4j_kernel;
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
        let extra: Vec<String> = [
            tags::timings_tag(&manifest.timings),
            tags::added_tag(summary.data_added),
        ]
        .into_iter()
        .chain(tags::kernel_tags(&manifest.neo4j_kernel))
        .collect();
        match self.r.retag(&summary.snapshot_id, &extra, &[]) {
            Ok(()) => {
                // restic wrote the snapshot anew under another id.
                if let Some(s) = ctx.store.manifest(&head.id).ok().and_then(|m| m.snapshot) {
                    manifest.snapshot = Some(s);
                }
                on(Event::Finished(Step::Retag, t.elapsed()))
            }
            Err(e) => on(Event::Warning(format!(
                "generation {} was written, but its timings could not be added to the snapshot: {e}",
                head.id
            ))),
        }
        Ok(manifest)
    }

    fn abort(&mut self, on: Sink) {
        self.remove_app_dir();
        // restic writes the snapshot last; one that exists after a failure
        // (some files unreadable, exit 3) is incomplete and must not be a generation.
        if let Some(m) = self.manifest.as_ref().filter(|_| self.tried) {
            forget_incomplete(self.r, &m.id, on);
        }
    }
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
        crate::ops::restic_locks::check_locks(r, crate::ops::restic_locks::LockNeed::Shared)?;
        if let Some(w) = crate::ops::restic_locks::password_file_warning(r) {
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
