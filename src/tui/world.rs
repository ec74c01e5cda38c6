//! The world the wizard acts on: the installation, the repository, and the
//! threads that do the slow work (jobs, facts, services, schedule, kept folders,
//! browsing). `perform` carries out an `Effect`; the loop in `mod.rs` reads what
//! the threads report.

use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app::{App, Data, Effect, PruneRow, ScheduleFacts, Timer};
use super::failure::Failed;
use super::recovery::Offer;
use super::{browse, browse_tasks, facts, kept, panics, report};
use crate::cancel::Cancel;
use crate::install::schedule;
use crate::install::{detect, Installation};
use crate::ops::backup::BackupOptions;
use crate::ops::restore::RestoreOptions;
use crate::ops::{self, Context, Event};
use crate::repo::manifest::Manifest;
use crate::repo::retention::Policy;
use crate::repo::store::Store;
use crate::units;

pub(super) enum Msg {
    Event(Event),
    Done(Result<String, Failed>),
}

/// A job thread that ended without telling its result (it cannot panic past
/// `panics::caught`, so this is a thread that never ran or was torn down).
pub(super) const ENDED_SILENTLY: &str =
    "internal error: the job ended without reporting its result";

/// Facts gathered on a thread (see `facts`); the error of a panic while measuring.
pub(super) enum Facts {
    Plan(Result<facts::Plan, String>),
    Restore(Result<Vec<String>, String>),
}

/// The world the wizard acts on: the installation, the repository and the job.
pub struct World {
    pub(super) inst: Result<Arc<Installation>, String>,
    pub(super) store: Store,
    pub(super) config: crate::config::Config,
    pub(super) policy: Policy,
    pub(super) job: Option<(Cancel, Receiver<Msg>)>,
    pub(super) facts: Option<Receiver<Facts>>,
    /// The schedule being gathered, and when that began.
    pub(super) schedule: Option<Receiver<ScheduleFacts>>,
    pub(super) schedule_asked: Option<Instant>,
    /// A schedule change being made.
    pub(super) schedule_change: Option<Receiver<Result<String, String>>>,
    /// Whether each service runs, as last asked (on a thread, every few seconds).
    pub(super) services_seen: ServiceStates,
    pub(super) services: Option<Receiver<ServiceStates>>,
    pub(super) services_asked: Option<Instant>,
    /// The folders restores kept, being looked for and measured.
    pub(super) kept: Option<Receiver<kept::KeptMsg>>,
    /// The repository's and the off-site targets' listings, made on a thread
    /// (restic and rclone answer in seconds, a remote one in more).
    pub(super) listing: Option<Receiver<Listing>>,
    pub(super) listing_asked: Option<Instant>,
    /// The restic repository's generations as last listed (the archive kind's
    /// manifests are read directly: that is fast).
    pub(super) generations_seen: Option<Vec<Manifest>>,
    pub(super) offsite_seen: Vec<super::app::OffsiteState>,
    /// A pin or a prune plan under way.
    pub(super) quick: Option<Receiver<Quick>>,
    /// A browse's threads: its listing (with mtimes) and its comparison.
    pub(super) browse: Vec<(Cancel, Receiver<browse::BrowseMsg>)>,
    /// The disaster recovery's thread and the source it opened.
    pub(super) recovery: super::recovery_tasks::RecoveryWorld,
}

/// What a quick thread found (see `World::quick`).
pub(super) enum Quick {
    Pinned(Result<String, String>),
    PrunePlan(Result<Vec<PruneRow>, String>),
}

/// What a listing thread found.
pub(super) struct Listing {
    pub(super) generations: Option<Vec<Manifest>>,
    pub(super) offsite: Vec<super::app::OffsiteState>,
}

/// Why a generation's files cannot be browsed.
const NO_BROWSE: &str =
    "a restic repository keeps the file indexes inside its snapshots: browse them with `restic ls`";

/// Each service's name and whether it runs (None: the question failed).
pub(super) type ServiceStates = Vec<(String, Option<bool>)>;

/// How often Home asks whether the services run (one may die while we look).
pub(super) const SERVICES_EVERY: Duration = Duration::from_secs(3);

/// How often the off-site targets (and a restic repository) are listed afresh.
pub(super) const LISTING_EVERY: Duration = Duration::from_secs(60);

/// How often Home's schedule line is gathered afresh (a timer run may have ended).
pub(super) const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

impl World {
    pub fn new(config: &crate::config::Config, store: Store) -> Result<Self, String> {
        let policy = crate::repo::retention::Policy::from_config(&config.retention)
            .map_err(|e| e.to_string())?;
        let inst = detect::detect(config)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Ok(World::from_parts(inst, store, config.clone(), policy))
    }

    /// A world with no job, no facts gathered and nothing asked yet.
    pub(super) fn from_parts(
        inst: Result<Arc<Installation>, String>,
        store: Store,
        config: crate::config::Config,
        policy: Policy,
    ) -> Self {
        World {
            inst,
            store,
            config,
            policy,
            job: None,
            facts: None,
            schedule: None,
            schedule_asked: None,
            schedule_change: None,
            services_seen: Vec::new(),
            services: None,
            services_asked: None,
            kept: None,
            quick: None,
            listing: None,
            listing_asked: None,
            generations_seen: None,
            offsite_seen: Vec::new(),
            browse: Vec::new(),
            recovery: Default::default(),
        }
    }

    /// What the home screen shows, read afresh.
    pub fn data(&self) -> Data {
        let list = match &self.store {
            Store::Archive(repo) => repo.list().map(|(l, _)| l).unwrap_or_default(),
            _ => self.generations_seen.clone().unwrap_or_default(),
        };
        let mut d = Data {
            offsite: self.offsite_seen.clone(),
            policy: self.policy.to_string(),
            repo: self.store.location().to_string(),
            browsable: matches!(self.store, Store::Archive(_)),
            free_bytes: self.store.local_folder().and_then(|f| {
                ops::preflight::free_space(f.ancestors().find(|p| p.exists()).unwrap_or(f)).ok()
            }),
            generations: list,
            interrupted: match &self.inst {
                Ok(inst) => ops::journal::interrupted(inst),
                Err(_) => ops::journal::interrupted_any().into_iter().next(),
            },
            ..Data::default()
        };
        match &self.inst {
            Ok(inst) => {
                d.kind = inst.kind.to_string();
                d.host = inst.host.clone();
                d.components = inst.components.clone();
                // As last seen by the services thread: no systemctl or docker
                // call on the UI thread, however slow they answer.
                d.services = match self.services_seen.is_empty() {
                    false => self.services_seen.clone(),
                    true => inst
                        .services
                        .iter()
                        .map(|s| (s.name().to_string(), None))
                        .collect(),
                };
                d.notes = inst.notes.clone();
                // The configured repository's own answer: a restic one not yet
                // listed is not taken for an empty one.
                let no_generation = match &self.store {
                    Store::Archive(_) => d.generations.is_empty(),
                    _ => self.generations_seen.as_ref().is_some_and(|g| g.is_empty()),
                };
                let offsite = self.config.offsite.iter().map(|o| o.name.clone()).collect();
                d.recovery = Offer::of(&inst.components, no_generation, offsite);
            }
            Err(e) => {
                d.detect_error = Some(e.clone());
                d.kind = "none".into();
                d.host = crate::sys::hostname();
            }
        }
        d
    }

    /// `spawn` for a run the monitors hear of, as the CLI's runs (see `report`).
    pub(super) fn spawn_watched(
        &mut self,
        watch: report::Watch,
        work: impl FnOnce(&Context, &mut dyn FnMut(Event)) -> Result<String, Failed> + Send + 'static,
    ) {
        let (config, store) = (self.config.clone(), self.store.clone());
        self.spawn(move |ctx, on| report::watched(&config, &store, watch, on, |on| work(ctx, on)));
    }

    pub(super) fn spawn(
        &mut self,
        work: impl FnOnce(&Context, &mut dyn FnMut(Event)) -> Result<String, Failed> + Send + 'static,
    ) {
        let inst = match &self.inst {
            Ok(i) => i.clone(),
            Err(_) => return,
        };
        let cancel = Cancel::new();
        let ctx_cancel = cancel.clone();
        let (store, config) = (self.store.clone(), self.config.clone());
        let rx = job_thread(move |on| {
            let ctx = Context::new(&config, &inst, store, ctx_cancel);
            work(&ctx, on)
        });
        self.job = Some((cancel, rx));
    }

    /// Ends the running job, if any, without a screen: cancels it (a cancelled
    /// backup or restore starts the services it stopped) and waits for its end.
    pub(super) fn settle(&mut self) -> Option<Result<String, Failed>> {
        let (cancel, rx) = self.job.take()?;
        cancel.cancel();
        loop {
            match rx.recv() {
                Ok(Msg::Event(_)) => continue,
                Ok(Msg::Done(r)) => return Some(r),
                Err(_) => return Some(Err(Failed::from(ENDED_SILENTLY.to_string()))),
            }
        }
    }

    pub(super) fn perform(&mut self, app: &mut App, effect: Effect) {
        match effect {
            Effect::None | Effect::Quit => {}
            e @ (Effect::OpenRecoverySource(_)
            | Effect::RecoveryPlan(_)
            | Effect::StartRecovery(_)
            | Effect::RecoveryCheck { .. }) => self.perform_recovery(app, e),
            Effect::Refresh => {
                app.set_data(self.data());
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
                    app.on_browse(browse::BrowseMsg::Listed(Err(NO_BROWSE.into())));
                    return;
                };
                let cancel = Cancel::new();
                if let Some(rx) = browse_tasks::list(repo.clone(), id, cancel.clone()) {
                    self.browse.push((cancel, rx));
                }
            }
            Effect::Compare(id) => {
                let (Ok(inst), Store::Archive(repo)) = (&self.inst, &self.store) else {
                    let why = match &self.inst {
                        Err(_) => "no installation to compare with",
                        Ok(_) => NO_BROWSE,
                    };
                    app.on_browse(browse::BrowseMsg::Compared(Err(why.into())));
                    return;
                };
                let cancel = Cancel::new();
                let started =
                    browse_tasks::compare(inst.clone(), repo.clone(), id, cancel.clone());
                if let Some(rx) = started {
                    self.browse.push((cancel, rx));
                }
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
            Effect::Schedule(change) => {
                let (tx, rx) = mpsc::channel();
                let started = std::thread::Builder::new()
                    .name("wizard-schedule".into())
                    .spawn(move || {
                        let done = panics::caught(|| {
                            schedule::apply(change)
                                .map(|lines| lines.join("; "))
                                .map_err(|e| e.to_string())
                        });
                        let _ = tx.send(done);
                    });
                match started {
                    Ok(_) => self.schedule_change = Some(rx),
                    Err(e) => {
                        let effect = app.schedule_done(Err(format!("cannot start: {e}")));
                        self.perform(app, effect);
                    }
                }
            }
            Effect::PlanBackup => {
                app.data.plan.clear();
                app.data.plan_bytes = None;
                self.gather(Facts::Plan, facts::backup_plan);
            }
            Effect::StartBackup { label } => self.spawn_watched(watch("backup", None), move |ctx, on| {
                let out = ops::backup::run(ctx, &BackupOptions { label }, on)?;
                let m = &out.manifest;
                Ok(format!(
                    "Generation {} written: {} → {}. Downtime {}.",
                    m.id,
                    units::bytes(m.total_bytes()),
                    units::bytes(m.total_archive_size()),
                    units::duration(Duration::from_secs_f64(m.timings.downtime_secs))
                ))
            }),
            Effect::VerifyBeforeRestore(id) => self.verify(id, false),
            Effect::Verify { id, deep } => self.verify(id, deep),
            Effect::StartRestore(id) => self.spawn_watched(watch("restore", Some(&id)), move |ctx, on| {
                let out = ops::restore::run(ctx, None, &id, &RestoreOptions { safety_backup: true }, on)?;
                let kept: Vec<String> = out.placements.iter().map(|p| p.kept.display().to_string()).collect();
                Ok(format!(
                    "Generation {} restored; services running. Safety backup: {}. Previous folders kept at {} (delete them when satisfied).",
                    out.restored.id,
                    out.safety.as_ref().map_or("none".into(), |s| s.id.clone()),
                    kept.join(", ")
                ))
            }),
            Effect::TogglePin(id) => {
                // restic pins by retagging its snapshot: seconds, not for the UI thread.
                let store = self.store.clone();
                app.status = Some(format!("changing the pin of {id}…"));
                self.quick(app, move || {
                    Quick::Pinned(ops::pin::toggle(&store, &id).map_err(|e| e.to_string()).map(|m| {
                        format!("{} {}", m.id, if m.pinned { "pinned: never pruned" } else { "unpinned" })
                    }))
                });
            }
            Effect::Delete(id) => {
                let repo = self.store.clone();
                self.spawn(move |ctx, on| {
                    ops::prune::delete(&repo, &id, &ops::prune::SnapshotDeletion::of(&ctx.snapshot), on)?;
                    Ok(format!("{id} deleted."))
                })
            }
            Effect::PlanPrune => {
                let (store, policy) = (self.store.clone(), self.policy.clone());
                app.status = Some("working out what the retention policy keeps…".into());
                self.quick(app, move || {
                    Quick::PrunePlan(ops::prune::plan(&store, &policy).map_err(|e| e.to_string()).map(|rows| {
                        rows.iter()
                            .map(|r| PruneRow {
                                id: r.manifest.id.clone(),
                                created: r.manifest.created_at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string(),
                                keep: r.decision.keep,
                                reasons: r.decision.reasons.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                                size: r.manifest.total_archive_size(),
                                label: r.manifest.label.clone(),
                            })
                            .collect()
                    }))
                });
            }
            Effect::StartPrune => {
                let (repo, policy) = (self.store.clone(), self.policy.clone());
                self.spawn_watched(watch("prune", None), move |ctx, on| {
                    let rows = ops::prune::run(&repo, &policy, &ops::prune::SnapshotDeletion::of(&ctx.snapshot), on)?;
                    Ok(format!("{} generation(s) deleted.", rows.iter().filter(|r| !r.decision.keep).count()))
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
            Effect::CancelJob => {
                if let Some((cancel, _)) = &self.job {
                    cancel.cancel();
                }
            }
        }
    }

    /// Gathers facts on a thread; `drain` hands them to the app as `kind`. A
    /// panic while measuring becomes the one fact shown, not an endless "measuring".
    pub(super) fn gather<T: Send + 'static>(
        &mut self,
        kind: fn(Result<T, String>) -> Facts,
        work: impl FnOnce(&Installation, &Store) -> T + Send + 'static,
    ) {
        let Ok(inst) = &self.inst else { return };
        let (inst, repo) = (inst.clone(), self.store.clone());
        let (tx, rx) = mpsc::channel();
        let measured = std::thread::Builder::new()
            .name("wizard-facts".into())
            .spawn(move || {
                let facts = panics::caught(|| Ok(work(&inst, &repo)));
                let _ = tx.send(kind(facts));
            });
        if measured.is_ok() {
            self.facts = Some(rx);
        }
    }

    /// Runs a quick question or change of the repository (a pin, the prune plan)
    /// on a thread; one at a time (a second is refused with a word why).
    fn quick(&mut self, app: &mut App, work: impl FnOnce() -> Quick + Send + 'static) {
        if self.quick.is_some() {
            app.status = Some("the last change is still being made: try again in a moment".into());
            return;
        }
        let (tx, rx) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("wizard-quick".into())
            .spawn(move || {
                if let Ok(q) = panics::caught::<_, String>(|| Ok(work())) {
                    let _ = tx.send(q);
                }
            });
        if started.is_ok() {
            self.quick = Some(rx);
        }
    }

    /// Stops a browse's threads (it was left, or another opened).
    pub(super) fn forget_browse(&mut self) {
        for (cancel, _) in self.browse.drain(..) {
            cancel.cancel();
        }
    }

    /// Looks for the folders restores kept and measures them, on a thread. A
    /// look still measuring is dropped for a fresh one (a folder may be gone);
    /// its thread stops at its next report.
    pub(super) fn gather_kept(&mut self, app: &mut App) {
        match &self.inst {
            Ok(inst) => self.kept = kept::gather(inst.clone()),
            // No installation, no targets to look beside.
            Err(_) => app.set_kept(Vec::new()),
        }
    }

    /// Asks every service whether it runs, on a thread; one round at a time.
    pub(super) fn gather_services(&mut self) {
        let Ok(inst) = &self.inst else { return };
        if self.services.is_some() {
            return;
        }
        let inst = inst.clone();
        let (tx, rx) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("wizard-services".into())
            .spawn(move || {
                let states = panics::caught::<_, String>(|| {
                    Ok(inst
                        .services
                        .iter()
                        .map(|s| (s.name().to_string(), s.is_running().ok()))
                        .collect())
                })
                .unwrap_or_default();
                let _ = tx.send(states);
            });
        if started.is_ok() {
            self.services = Some(rx);
            self.services_asked = Some(Instant::now());
        }
    }

    /// Lists the off-site targets (and a restic repository) on a thread; one
    /// listing at a time.
    pub(super) fn gather_listing(&mut self) {
        if self.listing.is_some() {
            return;
        }
        let restic = !matches!(self.store, Store::Archive(_));
        if !restic && self.config.offsite.is_empty() {
            return;
        }
        let store = self.store.clone();
        let targets: Vec<(String, Store)> = self
            .config
            .offsite
            .iter()
            .map(|o| (o.name.clone(), Store::offsite(&self.config, o)))
            .collect();
        let (tx, rx) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("wizard-listing".into())
            .spawn(move || {
                let listing = panics::caught::<_, String>(|| {
                    let generations =
                        restic.then(|| store.list().map(|(l, _)| l).unwrap_or_default());
                    let offsite = targets
                        .iter()
                        .map(|(name, t)| super::app::OffsiteState {
                            name: name.clone(),
                            location: t.location().to_string(),
                            ids: t
                                .list()
                                .map(|(l, _)| l.into_iter().map(|m| m.id).collect())
                                .map_err(|e| e.to_string()),
                        })
                        .collect();
                    Ok(Listing {
                        generations,
                        offsite,
                    })
                });
                if let Ok(l) = listing {
                    let _ = tx.send(l);
                }
            });
        if started.is_ok() {
            self.listing = Some(rx);
            self.listing_asked = Some(Instant::now());
        }
    }

    /// Asks systemd about the timer and reads the last run, on a thread; one at
    /// a time (a slow systemctl must not pile up threads).
    pub(super) fn gather_schedule(&mut self) {
        if self.schedule.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("wizard-schedule".into())
            .spawn(move || {
                let timer = panics::caught(|| {
                    Ok(match schedule::status() {
                        Ok(s) => Timer::Known(s),
                        Err(schedule::ScheduleError::NotInstalled) => Timer::NotInstalled,
                        Err(e) => Timer::Unavailable(e.to_string()),
                    })
                })
                .unwrap_or_else(Timer::Unavailable);
                let file = ops::state::state_dir().join(schedule::LAST_RUN_FILE);
                let _ = tx.send(ScheduleFacts {
                    timer,
                    last: schedule::read_last_run(&file),
                });
            });
        if started.is_ok() {
            self.schedule = Some(rx);
            self.schedule_asked = Some(Instant::now());
        }
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
fn watch(operation: &'static str, id: Option<&str>) -> report::Watch {
    report::Watch {
        operation,
        id: id.map(str::to_string),
    }
}

/// Runs a job on its own thread. Whatever the job does (fail, panic), the
/// receiver ends with one `Done`; a thread that cannot start reports that instead.
pub(super) fn job_thread(
    work: impl FnOnce(&mut dyn FnMut(Event)) -> Result<String, Failed> + Send + 'static,
) -> Receiver<Msg> {
    let (tx, rx) = mpsc::channel();
    let job_tx = tx.clone();
    let started = std::thread::Builder::new()
        .name("wizard-job".into())
        .spawn(move || {
            let result = panics::caught(|| {
                work(&mut |e| {
                    let _ = job_tx.send(Msg::Event(e));
                })
            });
            let _ = job_tx.send(Msg::Done(result));
        });
    if let Err(e) = started {
        let _ = tx.send(Msg::Done(Err(Failed::from(format!(
            "cannot start the job: {e}"
        )))));
    }
    rx
}
