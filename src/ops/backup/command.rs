//! The external snapshot copier (`[snapshot] command`): a hypervisor's or
//! cloud's snapshot tool is run while the services are stopped; the generation
//! records it (manifest only, no archives), lists, pins and prunes like any
//! other, and prune runs `delete_command`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::copier::{Copier, Finished, Head, Shape};
use crate::ops::archiving::{begin_backup, new_manifest};
use crate::ops::event::{Event, Sink, Step};
use crate::ops::snapshot::{argv_for, output_tail, run_tool};
use crate::ops::{Context, OpError};
use crate::process;
use crate::repo::files;
use crate::repo::generation::Repo;
use crate::repo::lock::Lock;
use crate::repo::manifest::{Manifest, SnapshotRecord};

pub struct CommandCopier<'r> {
    repo: &'r Repo,
    line: String,
    locks: Option<(Lock, Lock)>,
    argv: Vec<String>,
    /// The step as the plan showed it, before the id was known.
    step: Option<Step>,
    /// What the tool said, once it succeeded.
    taken: Option<SnapshotRecord>,
    partial: Option<PathBuf>,
}

impl<'r> CommandCopier<'r> {
    pub fn new(repo: &'r Repo, line: &str) -> Self {
        CommandCopier {
            repo,
            line: line.to_string(),
            locks: None,
            argv: Vec::new(),
            step: None,
            taken: None,
            partial: None,
        }
    }

    fn shown(&self) -> String {
        process::display(&self.argv)
    }
}

impl Copier for CommandCopier<'_> {
    fn begin(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        self.locks = Some(begin_backup(ctx, self.repo, on)?);
        Ok(())
    }

    fn shape(&mut self, _ctx: &Context) -> Result<Shape, OpError> {
        // `{name}` is shown as written until the id is known.
        self.argv = argv_for(&self.line, "{name}")?;
        let step = Step::Snapshot(self.shown());
        self.step = Some(step.clone());
        Ok(Shape {
            while_stopped: vec![step],
            after_start: vec![],
            last: Step::Publish,
            app_export: false,
            offsite: false,
        })
    }

    fn preflight(&mut self, _ctx: &Context, on: Sink) -> Result<(), OpError> {
        on(Event::Started(Step::Preflight));
        on(Event::Finished(Step::Preflight, Duration::ZERO));
        Ok(())
    }

    fn new_id(&self, created: DateTime<Utc>) -> String {
        self.repo.new_id(created)
    }

    fn prepare(&mut self, _ctx: &Context, head: &Head, _on: Sink) -> Result<(), OpError> {
        self.argv = argv_for(&self.line, &head.id)?;
        Ok(())
    }

    fn while_stopped(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError> {
        let step = self.step.clone().unwrap_or(Step::Snapshot(self.shown()));
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let (shown, out) = run_tool(&self.argv, Duration::from_secs(ctx.snapshot.timeout_secs));
        match out {
            Ok(out) if out.success() => {
                on(Event::Finished(step, t.elapsed()));
                self.taken = Some(SnapshotRecord {
                    method: "command".into(),
                    command: shown,
                    output: output_tail(&out),
                    exit_status: out.status,
                    secs: t.elapsed().as_secs_f64(),
                });
                Ok(())
            }
            Ok(out) => {
                let why = format!(
                    "the snapshot command `{shown}` failed (exit status {}): {}",
                    out.status.map_or("none".into(), |s| s.to_string()),
                    output_tail(&out)
                );
                on(Event::Failed(step, why.clone()));
                Err(OpError::failed(why))
            }
            Err(e) => {
                on(Event::Failed(step, e.clone()));
                Err(OpError::failed(format!("the snapshot command: {e}")))
            }
        }
    }

    fn after_start(&mut self, _ctx: &Context, _on: Sink) -> Result<(), OpError> {
        Ok(())
    }

    fn publish(
        &mut self,
        ctx: &Context,
        head: &Head,
        run: Finished,
        on: Sink,
    ) -> Result<Manifest, OpError> {
        let mut manifest = new_manifest(
            ctx,
            &head.id,
            head.created,
            head.label,
            vec![],
            &[],
            run.timings,
        );
        manifest.services_already_stopped = run.services_already_stopped;
        manifest.neo4j_kernel = run.neo4j_kernel;
        manifest.snapshot_backup = self.taken.take();
        on(Event::Started(Step::Publish));
        let t = Instant::now();
        // Only the manifest: the snapshot itself lives with the tool that took it.
        let partial = self.repo.create_partial(&head.id)?;
        self.partial = Some(partial.clone());
        files::write_manifest(&partial, &manifest)
            .and_then(|()| self.repo.publish(&partial, &head.id).map(|_| ()))
            .map_err(|e| {
                OpError::failed(format!(
                    "the snapshot `{}` was taken, but its generation {} could not be written: {e}",
                    manifest
                        .snapshot_backup
                        .as_ref()
                        .map_or("", |s| s.command.as_str()),
                    head.id
                ))
            })?;
        self.partial = None;
        on(Event::Finished(Step::Publish, t.elapsed()));
        Ok(manifest)
    }

    fn abort(&mut self, _on: Sink) {
        if let Some(p) = self.partial.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}
