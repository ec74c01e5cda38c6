//! The archive kind's copier: the components archived (tar + zstd, sha256) into a
//! new generation folder. Where the archives are read from is the staging: the
//! live folders while the services are stopped, or a point-in-time copy taken
//! while they are stopped (a mirror updated with the changed files, by rsync
//! or reflink clones; LVM snapshots) and archived after they run again, so the
//! downtime covers only the mirror's update or the snapshot.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::copier::{Copier, Finished, Head, Shape};
pub use super::staging::Staging;
use crate::ops::archiving::{begin_backup, copy_components, new_manifest, preflight_checks};
use crate::ops::event::{Sink, Step};
use crate::ops::preflight::Estimate;
use crate::ops::{app_export, Context, OpError};
use crate::repo::generation::Repo;
use crate::repo::lock::Lock;
use crate::repo::manifest::{Component, Manifest};

pub struct ArchiveCopier<'r> {
    repo: &'r Repo,
    staging: Staging,
    locks: Option<(Lock, Lock)>,
    estimate: Option<Estimate>,
    partial: Option<PathBuf>,
    app: Option<Component>,
    /// The staged copies, one per component, once taken.
    staged: Option<Vec<PathBuf>>,
    components: Vec<Component>,
}

impl<'r> ArchiveCopier<'r> {
    pub fn new(repo: &'r Repo, staging: Staging) -> Self {
        ArchiveCopier {
            repo,
            staging,
            locks: None,
            estimate: None,
            partial: None,
            app: None,
            staged: None,
            components: Vec::new(),
        }
    }

    fn partial(&self) -> Result<&PathBuf, OpError> {
        self.partial
            .as_ref()
            .ok_or_else(|| OpError::failed("internal error: no generation folder was made"))
    }

    /// Archives every component into the generation folder, from the staged copy
    /// when there is one.
    fn archive(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        let estimate = self
            .estimate
            .as_ref()
            .ok_or_else(|| OpError::failed("internal error: no preflight estimate"))?;
        let partial = self.partial()?;
        self.components = copy_components(ctx, partial, estimate, self.staged.as_deref(), "", on)?;
        Ok(())
    }
}

impl Copier for ArchiveCopier<'_> {
    fn begin(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        self.locks = Some(begin_backup(ctx, self.repo, on)?);
        Ok(())
    }

    fn shape(&mut self, ctx: &Context) -> Result<Shape, OpError> {
        // Decided after the locks (`begin`) and before anything stops.
        if matches!(self.staging, Staging::Direct) {
            self.staging = super::staging::choose(ctx)?;
        }
        let names = || ctx.inst.components.iter().map(|c| c.name.clone());
        let copies: Vec<Step> = names().map(Step::Copy).collect();
        let (while_stopped, after_start) = match &mut self.staging {
            Staging::Direct => (copies, vec![]),
            Staging::Lvm(lvm) => (lvm.plan(ctx)?, copies),
            Staging::Mirror(m) => (names().map(|n| m.step(&n)).collect(), copies),
        };
        Ok(Shape {
            while_stopped,
            after_start,
            last: Step::Publish,
            app_export: true,
            offsite: true,
        })
    }

    fn preflight(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        self.estimate = Some(preflight_checks(ctx, self.repo, on)?);
        if let Staging::Mirror(m) = &self.staging {
            m.prepare(on)?;
            if let Some(e) = &self.estimate {
                let repo = (self.repo.root.as_path(), e.needed_bytes);
                super::staging::check_mirror_space(m, e.total_bytes, Some(repo), on)?;
            }
        }
        Ok(())
    }

    fn new_id(&self, created: DateTime<Utc>) -> String {
        self.repo.new_id(created)
    }

    fn prepare(&mut self, ctx: &Context, head: &Head, on: Sink) -> Result<(), OpError> {
        let partial = self.repo.create_partial(&head.id)?;
        self.partial = Some(partial.clone());
        if let Staging::Lvm(lvm) = &mut self.staging {
            lvm.name_snapshots(&head.id);
        }
        // While Structr still runs: its application export needs it up.
        self.app = app_export::archive_into(ctx, &head.id, &partial, on);
        Ok(())
    }

    fn while_stopped(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        match &mut self.staging {
            Staging::Direct => self.archive(ctx, on),
            Staging::Lvm(lvm) => lvm.take(on),
            Staging::Mirror(m) => {
                self.staged = Some(m.update(ctx, on)?);
                Ok(())
            }
        }
    }

    fn after_start(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        match &mut self.staging {
            Staging::Direct => Ok(()),
            Staging::Mirror(m) => {
                // Sealed first: the mirror matches the sources' state in the window.
                m.seal()?;
                self.archive(ctx, on)
            }
            Staging::Lvm(lvm) => {
                let read = lvm.mount(ctx);
                let r = read.and_then(|dirs| {
                    self.staged = Some(dirs);
                    self.archive(ctx, on)
                });
                if let Staging::Lvm(lvm) = &mut self.staging {
                    lvm.release(on);
                }
                r
            }
        }
    }

    fn publish(
        &mut self,
        ctx: &Context,
        head: &Head,
        run: Finished,
        on: Sink,
    ) -> Result<Manifest, OpError> {
        let estimate = self
            .estimate
            .as_ref()
            .ok_or_else(|| OpError::failed("internal error: no preflight estimate"))?;
        let mut components = std::mem::take(&mut self.components);
        components.extend(self.app.take());
        let mut manifest = new_manifest(
            ctx,
            &head.id,
            head.created,
            head.label,
            components,
            &estimate.sources,
            run.timings,
        );
        manifest.services_already_stopped = run.services_already_stopped;
        manifest.neo4j_kernel = run.neo4j_kernel;
        if let Staging::Lvm(lvm) = &self.staging {
            manifest.snapshot_backup = Some(lvm.record());
        }
        let partial = self.partial()?.clone();
        crate::ops::archiving::publish_generation(ctx, self.repo, &partial, &manifest, on)?;
        self.partial = None;
        Ok(manifest)
    }

    fn abort(&mut self, on: Sink) {
        if let Staging::Lvm(lvm) = &mut self.staging {
            lvm.release(on);
        }
        if let Some(p) = self.partial.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}
