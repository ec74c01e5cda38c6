//! Carrying out an `Effect` in the world: each becomes a task (see `tasks`),
//! a job for what changes the machine or the repository, a quick one for a
//! question. The answers come back through `answers`.

use std::time::Duration;

use super::app::App;
use super::browse::BrowseMsg;
use super::browse_tasks;
use super::failure::Failed;
use super::prune::PruneRow;
use super::report;
use super::state::Effect;
use super::world::{Answer, Kind, World};
use crate::install::schedule;
use crate::ops::backup::BackupOptions;
use crate::ops::restore::RestoreOptions;
use crate::ops::{self, prune::SnapshotDeletion};
use crate::repo::store::Store;
use crate::units;

/// Why a generation's files cannot be browsed.
const NO_BROWSE: &str =
    "a restic repository keeps the file indexes inside its snapshots: browse them with `restic ls`";

impl World {
    pub(super) fn perform(&mut self, app: &mut App, effect: Effect) {
        match effect {
            Effect::None | Effect::Quit => {}
            e @ (Effect::OpenRecoverySource(_)
            | Effect::RecoveryPlan(_)
            | Effect::StartRecovery(_)
            | Effect::VerifyBeforeRecovery(_)
            | Effect::RecoveryCheck { .. }) => self.perform_recovery(app, e),
            Effect::ReloadRepo => self.look_at_repo(true),
            Effect::Refresh => {
                app.set_data(self.data());
                self.look_at_repo(true);
                self.gather_schedule();
                self.gather_listing();
                self.gather_kept(app);
            }
            Effect::FindKept => self.gather_kept(app),
            Effect::Browse(id) => {
                self.forget_browse();
                // The file indexes are files of an archive repository; a restic
                // repository keeps them inside its snapshots.
                let Store::Archive(repo) = &self.store else {
                    app.on_browse(BrowseMsg::Listed(Err(NO_BROWSE.into())));
                    return;
                };
                let repo = repo.clone();
                self.tasks.start(
                    Kind::BrowseList,
                    move |tell| {
                        let send = |m| tell.send(Answer::Browse(m));
                        Answer::Browse(browse_tasks::listing(&repo, &id, tell.cancel(), &send))
                    },
                    |e| Answer::Browse(BrowseMsg::Failed(e)),
                );
            }
            Effect::Compare(id) => {
                let (Ok(inst), Store::Archive(repo)) = (&self.inst, &self.store) else {
                    let why = match &self.inst {
                        Err(_) => "no installation to compare with",
                        Ok(_) => NO_BROWSE,
                    };
                    app.on_browse(BrowseMsg::Compared(Err(why.into())));
                    return;
                };
                let (inst, repo) = (inst.clone(), repo.clone());
                self.tasks.start(
                    Kind::BrowseCompare,
                    move |tell| {
                        let send = |m| tell.send(Answer::Browse(m));
                        let found = browse_tasks::compare(&inst, &repo, &id, tell.cancel(), &send);
                        Answer::Browse(BrowseMsg::Compared(found))
                    },
                    |e| Answer::Browse(BrowseMsg::Compared(Err(e))),
                );
            }
            Effect::RemoveKept(path) => self.spawn(move |ctx, on| {
                let gone = ops::kept::remove(ctx.inst, &path, &ctx.cancel, on)?;
                Ok(format!(
                    "Removed {} ({} in {} files).",
                    path.display(),
                    units::bytes(gone.bytes),
                    gone.files
                ))
            }),
            Effect::RefreshSchedule => self.gather_schedule(),
            Effect::Schedule(change) => self.tasks.start(
                Kind::ScheduleChange,
                move |_| {
                    Answer::ScheduleChanged(
                        schedule::apply(change)
                            .map(|lines| lines.join("; "))
                            .map_err(|e| e.to_string()),
                    )
                },
                |e| Answer::ScheduleChanged(Err(e)),
            ),
            Effect::PlanBackup => {
                app.data.plan.clear();
                app.data.plan_bytes = None;
                let config = self.config.clone();
                self.gather(Answer::Plan, move |inst, store| {
                    let mut plan = super::facts::backup_plan(inst, store);
                    // How short the window is: what it copies (the staging).
                    let ctx = ops::Context::new(&config, inst, store.clone(), Default::default());
                    plan.lines.push(ops::backup::describe_window(&ctx));
                    plan
                });
            }
            Effect::StartBackup { label } => {
                self.spawn_watched(watch("backup", None), move |ctx, on| {
                    let out = ops::backup::run(ctx, &BackupOptions { label }, on)?;
                    let m = &out.manifest;
                    Ok(format!(
                        "Generation {} written: {} → {}. Downtime {}.",
                        m.id,
                        units::bytes(m.total_bytes()),
                        units::bytes(m.total_archive_size()),
                        units::duration(Duration::from_secs_f64(m.timings.downtime_secs))
                    ))
                })
            }
            Effect::VerifyBeforeRestore(id) => self.verify_before_restore(id),
            Effect::Verify { id, deep } => self.verify(id, deep),
            // Verified before the typed id: the restore does not verify again.
            Effect::StartRestore(id) => {
                let verified = self.take_verified(&id);
                self.spawn_watched(watch("restore", Some(&id)), move |ctx, on| {
                let out = ops::restore::run_verified(ctx, None, &id, &RestoreOptions { safety_backup: true }, verified, on)?;
                let kept: Vec<String> = out.placements.iter().map(|p| p.kept.display().to_string()).collect();
                Ok(format!(
                    "Generation {} restored; services running. Safety backup: {}. Previous folders kept at {} (delete them when satisfied).",
                    out.restored.id,
                    out.safety.as_ref().map_or("none".into(), |s| s.id.clone()),
                    kept.join(", ")
                ))
            })
            }
            Effect::TogglePin(id) => {
                // restic pins by retagging its snapshot: seconds, not for the UI thread.
                let store = self.store.clone();
                app.status = Some(format!("changing the pin of {id}…"));
                self.quick(
                    app,
                    move || {
                        Answer::Pinned(
                            ops::pin::toggle(&store, &id)
                                .map_err(|e| e.to_string())
                                .map(|m| {
                                    format!(
                                        "{} {}",
                                        m.id,
                                        if m.pinned {
                                            "pinned: never pruned"
                                        } else {
                                            "unpinned"
                                        }
                                    )
                                }),
                        )
                    },
                    |e| Answer::Pinned(Err(e)),
                );
            }
            Effect::Delete(id) => {
                let repo = self.store.clone();
                self.spawn(move |ctx, on| {
                    ops::prune::delete(&repo, &id, &SnapshotDeletion::of(&ctx.snapshot), on)?;
                    Ok(format!("{id} deleted."))
                })
            }
            Effect::PlanPrune => {
                let (store, policy) = (self.store.clone(), self.policy.clone());
                app.status = Some("working out what the retention policy keeps…".into());
                self.quick(
                    app,
                    move || {
                        Answer::PrunePlan(
                            ops::prune::plan(&store, &policy)
                                .map_err(|e| e.to_string())
                                .map(|rows| {
                                    rows.iter()
                                        .map(|r| PruneRow {
                                            id: r.manifest.id.clone(),
                                            created: r
                                                .manifest
                                                .created_at
                                                .with_timezone(&chrono::Local)
                                                .format("%Y-%m-%d %H:%M")
                                                .to_string(),
                                            keep: r.decision.keep,
                                            reasons: r
                                                .decision
                                                .reasons
                                                .iter()
                                                .map(|x| x.to_string())
                                                .collect::<Vec<_>>()
                                                .join(", "),
                                            size: r.manifest.total_archive_size(),
                                            label: r.manifest.label.clone(),
                                        })
                                        .collect()
                                }),
                        )
                    },
                    |e| Answer::PrunePlan(Err(e)),
                );
            }
            Effect::StartPrune => {
                let (repo, policy) = (self.store.clone(), self.policy.clone());
                self.spawn_watched(watch("prune", None), move |ctx, on| {
                    let rows =
                        ops::prune::run(&repo, &policy, &SnapshotDeletion::of(&ctx.snapshot), on)?;
                    Ok(format!(
                        "{} generation(s) deleted.",
                        rows.iter().filter(|r| !r.decision.keep).count()
                    ))
                })
            }
            Effect::Recover => {
                let scratch = self.config.drill.scratch.clone();
                self.spawn_watched(watch("recover", None), move |ctx, on| {
                    let out = ops::recover::run(ctx, &scratch, on)?;
                    Ok(match out.record {
                        Some(r) => format!("Started {} again.", r.stopped.join(", ")),
                        None => "Nothing to recover.".into(),
                    })
                })
            }
            Effect::StartStopped => {
                let scratch = self.config.drill.scratch.clone();
                self.spawn_watched(watch("recover", None), move |ctx, on| {
                    let out = ops::recover::run_starting(ctx, &scratch, true, on)?;
                    let mut started = out.record.map(|r| r.stopped).unwrap_or_default();
                    started.extend(out.started);
                    Ok(match started.is_empty() {
                        true => "Nothing was stopped: every service runs.".into(),
                        false => format!("Started {} again.", started.join(", ")),
                    })
                })
            }
            Effect::CancelJob => self.tasks.cancel(Kind::Job),
        }
    }

    /// Runs a quick question or change of the repository (a pin, the prune plan)
    /// as a task; one at a time (a second is refused with a word why).
    fn quick(
        &mut self,
        app: &mut App,
        work: impl FnOnce() -> Answer + Send + 'static,
        failed: fn(String) -> Answer,
    ) {
        if self.tasks.running(Kind::Quick) {
            app.status = Some("the last change is still being made: try again in a moment".into());
            return;
        }
        self.tasks.start(Kind::Quick, move |_| work(), failed);
    }

    /// Stops a browse's tasks (it was left, or another opened).
    pub(super) fn forget_browse(&mut self) {
        self.tasks.forget(Kind::BrowseList);
        self.tasks.forget(Kind::BrowseCompare);
    }

    /// The verification before a restore's typed confirmation; when it began is
    /// kept for the restore (see `World::restore_verified`).
    fn verify_before_restore(&mut self, id: String) {
        self.verifying = Some((id.clone(), chrono::Utc::now()));
        self.verify(id, false)
    }

    pub(super) fn verify(&mut self, id: String, deep: bool) {
        let repo = self.store.clone();
        self.spawn_watched(watch("verify", Some(&id)), move |ctx, on| {
            let reports =
                ops::verify::run(&repo, std::slice::from_ref(&id), deep, &ctx.cancel, on)?;
            match reports.into_iter().next() {
                Some(r) if r.ok => Ok(format!(
                    "{id} is intact ({} verification).",
                    if deep { "deep" } else { "quick" }
                )),
                Some(r) => Err(Failed::damaged(&id, r.problems)),
                None => Err(Failed::from(format!("{id} was not verified"))),
            }
        });
    }
}

/// What the monitors hear a wizard run as (the CLI's names).
pub(super) fn watch(operation: &'static str, id: Option<&str>) -> report::Watch {
    report::Watch {
        operation,
        id: id.map(str::to_string),
    }
}
