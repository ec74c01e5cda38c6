//! The world the wizard acts on: the installation, the repository, and the
//! tasks that do the slow work (jobs, facts, services, schedule, kept folders,
//! browsing, the disaster recovery), all run by one `Tasks` runner whose answers
//! the loop in `mod.rs` drains (`answers`). `effects` carries out an `Effect`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::browse::BrowseMsg;
use super::data::{Data, Offer, OffsiteState, ScheduleFacts};
use super::facts;
use super::failure::Failed;
use super::kept::KeptMsg;
use super::marker::{Look, Marker};
use super::prune::PruneRow;
use super::recovery::RecoveryMsg;
use super::report;
use super::tasks::{self, Tasks};
use crate::install::{detect, Installation};
use crate::ops::{self, Context, Event};
use crate::repo::manifest::Manifest;
use crate::repo::retention::Policy;
use crate::repo::store::Store;

/// What a task is for; one of each kind runs at a time (see `tasks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A backup, restore, verification, prune, delete, recover or removal.
    Job,
    /// The backup plan's or a restore confirmation's facts (see `facts`).
    Facts,
    Schedule,
    ScheduleChange,
    Services,
    Kept,
    Listing,
    /// The look at the configured repository (see `freshness`).
    Repo,
    /// The look at the disaster recovery's opened source, while its picker shows.
    RecoverySource,
    /// A pin or a prune plan.
    Quick,
    BrowseList,
    BrowseCompare,
    Recovery,
}

impl tasks::Kind for Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Facts => "facts",
            Kind::Schedule => "schedule",
            Kind::ScheduleChange => "schedule-change",
            Kind::Services => "services",
            Kind::Kept => "kept",
            Kind::Listing => "listing",
            Kind::Repo => "repository",
            Kind::RecoverySource => "recovery-source",
            Kind::Quick => "quick",
            Kind::BrowseList => "browse",
            Kind::BrowseCompare => "compare",
            Kind::Recovery => "recovery",
        }
    }
}

/// What the tasks answer.
pub(super) enum Answer {
    /// A job's event, and its end.
    Event(Event),
    Done(Result<String, Failed>),
    /// Facts measured (see `facts`), or the error of a panic while measuring.
    Plan(Result<facts::Plan, String>),
    RestoreFacts(Result<Vec<String>, String>),
    Schedule(ScheduleFacts),
    ScheduleChanged(Result<String, String>),
    Services(ServiceStates),
    Kept(KeptMsg),
    Listing(Listing),
    Repo(Look),
    /// A look at the recovery source: its marker, and its new listing when it changed.
    Source(Option<(Marker, Option<super::recovery::Opened>)>),
    Pinned(Result<String, String>),
    PrunePlan(Result<Vec<PruneRow>, String>),
    Browse(BrowseMsg),
    Recovery(RecoveryMsg),
    /// The installation detected afresh (a recovery made a fresh Compose
    /// project's containers), and what the task found with it.
    Detected(Result<Arc<Installation>, String>, RecoveryMsg),
}

/// The world the wizard acts on: the installation, the repository and the tasks.
pub struct World {
    pub(super) inst: Result<Arc<Installation>, String>,
    pub(super) store: Store,
    pub(super) config: crate::config::Config,
    pub(super) policy: Policy,
    /// Everything slow, the job included.
    pub(super) tasks: Tasks<Kind, Answer>,
    /// When the schedule was last asked for.
    pub(super) schedule_asked: Option<Instant>,
    /// Whether each service runs, as last asked (every few seconds).
    pub(super) services_seen: ServiceStates,
    pub(super) services_asked: Option<Instant>,
    /// When the off-site targets' listings were last asked for (rclone and
    /// restic answer in seconds, a remote one in more).
    pub(super) listing_asked: Option<Instant>,
    /// The repository's generations as last listed on a task (see `freshness`);
    /// None until the first listing came.
    pub(super) generations_seen: Option<Vec<Manifest>>,
    /// The repository's change marker when it was last listed, and when it
    /// was last looked at.
    pub(super) repo_seen: Option<Marker>,
    pub(super) repo_checked: Option<Instant>,
    /// The same for the disaster recovery's opened source.
    pub(super) source_seen: Option<Marker>,
    pub(super) source_checked: Option<Instant>,
    pub(super) offsite_seen: Vec<OffsiteState>,
    /// The source the disaster recovery opened; the restore reads from it.
    pub(super) recovery_from: Option<Store>,
    /// Where the planned recovery keeps the folders it replaces (for the checklist).
    pub(super) recovery_kept: Vec<std::path::PathBuf>,
    /// The verification before a restore that runs now: its generation and
    /// when it began.
    pub(super) verifying: Option<(String, chrono::DateTime<chrono::Utc>)>,
    /// The last one that passed: the restore of that generation is told so and
    /// does not verify again (see `ops::restore::run_verified`).
    pub(super) restore_verified: Option<(String, ops::restore::Verified)>,
}

/// What a listing of the off-site targets found.
pub(super) struct Listing {
    pub(super) offsite: Vec<OffsiteState>,
}

/// Each service's name and whether it runs (None: the question failed).
pub(super) type ServiceStates = Vec<(String, Option<bool>)>;

/// How often Home asks whether the services run (one may die while we look).
pub(super) const SERVICES_EVERY: Duration = Duration::from_secs(3);

/// How often the off-site targets are listed afresh.
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

    /// A world with no task running and nothing asked yet.
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
            tasks: Tasks::default(),
            schedule_asked: None,
            services_seen: Vec::new(),
            services_asked: None,
            listing_asked: None,
            generations_seen: None,
            repo_seen: None,
            repo_checked: None,
            source_seen: None,
            source_checked: None,
            offsite_seen: Vec::new(),
            recovery_from: None,
            recovery_kept: Vec::new(),
            verifying: None,
            restore_verified: None,
        }
    }

    /// What the home screen shows, read afresh.
    pub fn data(&self) -> Data {
        // As last listed on a task: the UI thread never reads the repository.
        let list = self.generations_seen.clone().unwrap_or_default();
        let mut d = Data {
            offsite: self.offsite_seen.clone(),
            policy: self.policy.to_string(),
            repo: self.store.location().to_string(),
            browsable: matches!(self.store, Store::Archive(_)),
            free_bytes: self.store.local_folder().and_then(|f| {
                ops::preflight::free_space(f.ancestors().find(|p| p.exists()).unwrap_or(f)).ok()
            }),
            generations: list,
            listed: self.generations_seen.is_some(),
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
                // As last seen by the services task: no systemctl or docker
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
                // The configured repository's own answer: one not yet listed is
                // not taken for an empty one.
                let no_generation = self.generations_seen.as_ref().is_some_and(|g| g.is_empty());
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

    /// The passed verification before a restore of `id`, taken (it stands for one restore).
    pub(super) fn take_verified(&mut self, id: &str) -> Option<ops::restore::Verified> {
        self.restore_verified
            .take()
            .filter(|(v, _)| v == id)
            .map(|(_, v)| v)
    }

    /// Whether a job runs (its end not taken in yet).
    pub(super) fn job_running(&self) -> bool {
        self.tasks.running(Kind::Job)
    }

    /// `spawn` for a run the monitors hear of, as the CLI's runs (see `report`).
    pub(super) fn spawn_watched(
        &mut self,
        watch: report::Watch,
        work: impl FnOnce(&Context, &mut dyn FnMut(Event)) -> Result<String, Failed> + Send + 'static,
    ) {
        let (config, store) = (self.config.clone(), self.store.clone());
        let key = self.inst.as_ref().ok().map(|i| i.key());
        self.spawn(move |ctx, on| {
            report::watched(&config, &store, (watch, key), on, |on| work(ctx, on))
        });
    }

    /// Runs a job: its events and then its result reach the job's screen. With
    /// no installation there is nothing to run it on, and it fails at once.
    pub(super) fn spawn(
        &mut self,
        work: impl FnOnce(&Context, &mut dyn FnMut(Event)) -> Result<String, Failed> + Send + 'static,
    ) {
        let inst = match &self.inst {
            Ok(i) => i.clone(),
            Err(e) => return self.fail_job(format!("no installation to run this on: {e}")),
        };
        let (store, config) = (self.store.clone(), self.config.clone());
        self.tasks.start(
            Kind::Job,
            move |tell| {
                let ctx = Context::new(&config, &inst, store, tell.cancel().clone());
                // `caught` here too: a worker's panic behind a failure is told.
                Answer::Done(super::panics::caught(|| {
                    work(&ctx, &mut |e| tell.send(Answer::Event(e)))
                }))
            },
            job_failed,
        );
    }

    /// Answers the job just asked for with a failure: it cannot run, and its
    /// screen must not wait for it.
    pub(super) fn fail_job(&mut self, why: String) {
        let answer = move |_: &tasks::Tell<Kind, Answer>| Answer::Done(Err(Failed::from(why)));
        self.tasks.start(Kind::Job, answer, job_failed);
    }

    /// Ends the running job, if any, without a screen: cancels it (a cancelled
    /// backup or restore starts the services it stopped) and waits for its end.
    pub(super) fn settle(&mut self) -> Option<Result<String, Failed>> {
        self.tasks.cancel(Kind::Job);
        match self.tasks.wait(Kind::Job)? {
            Answer::Done(r) => Some(r),
            _ => Some(Err(Failed::from(
                "internal error: the job ended without its result",
            ))),
        }
    }

    /// Gathers facts on a task; the loop hands them to the app as `kind`. A
    /// panic while measuring becomes the one fact shown, not an endless "measuring".
    pub(super) fn gather<T: Send + 'static>(
        &mut self,
        kind: fn(Result<T, String>) -> Answer,
        work: impl FnOnce(&Installation, &Store) -> T + Send + 'static,
    ) {
        let Ok(inst) = &self.inst else { return };
        let (inst, repo) = (inst.clone(), self.store.clone());
        self.tasks.start(
            Kind::Facts,
            move |_| kind(Ok(work(&inst, &repo))),
            move |e| kind(Err(e)),
        );
    }
}

/// A job's end when it panicked or could not start.
fn job_failed(report: String) -> Answer {
    Answer::Done(Err(Failed::from(report)))
}

/// A world on an empty installation (no services) and a repository that is
/// never written: enough to run jobs and facts in tests.
#[cfg(test)]
pub(super) fn test_world() -> World {
    let inst = Installation {
        kind: crate::config::Kind::Custom,
        host: "test".into(),
        components: Vec::new(),
        services: Vec::new(),
        notes: Vec::new(),
        versions: Default::default(),
        stop_timeout: Duration::from_secs(1),
        start_timeout: Duration::from_secs(1),
        maintenance: None,
    };
    World::from_parts(
        Ok(Arc::new(inst)),
        Store::Archive(crate::repo::generation::Repo::new(
            std::env::temp_dir().join("structr-backup-tui-test-unused"),
        )),
        crate::config::Config::default(),
        Policy::default(),
    )
}

/// The next answer of a task of `kind`, skipping the others; fails the test
/// if none comes.
#[cfg(test)]
pub(super) fn next_of(w: &mut World, kind: Kind) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match w.tasks.next() {
            Some((k, a)) if k == kind => return a,
            Some(_) => {}
            None => {
                assert!(Instant::now() < deadline, "no answer from a {kind:?} task");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job's result, skipping its events.
    fn result_of(w: &mut World) -> Result<String, Failed> {
        loop {
            match next_of(w, Kind::Job) {
                Answer::Event(_) => continue,
                Answer::Done(r) => return r,
                _ => panic!("a job answers with events and its end"),
            }
        }
    }

    #[test]
    fn a_panicking_job_is_a_failed_job() {
        let mut w = test_world();
        w.spawn(|_, on| {
            on(Event::Info("about to fail".into()));
            panic!("the archive writer broke");
        });
        let e = result_of(&mut w).expect_err("a panic is a failure").message;
        assert!(e.starts_with("internal error: "), "{e}");
        assert!(e.contains("the archive writer broke"), "{e}");
        assert!(!w.job_running());
    }

    #[test]
    fn a_job_with_no_installation_to_run_on_fails_at_once() {
        let mut w = test_world();
        w.inst = Err("no Structr found".into());
        w.spawn(|_, _| Ok("never runs".into()));
        let e = result_of(&mut w).expect_err("nothing to run on").message;
        assert!(e.contains("no Structr found"), "{e}");
    }

    #[test]
    fn settling_cancels_the_job_and_waits_for_its_end() {
        let mut w = test_world();
        w.spawn(|ctx, on| {
            // A job that only ends when cancelled, like a long copy.
            while !ctx.cancel.is_cancelled() {
                on(Event::Info("copying".into()));
                std::thread::sleep(Duration::from_millis(5));
            }
            Err("cancelled; services started again".into())
        });
        assert_eq!(
            w.settle(),
            Some(Err("cancelled; services started again".into()))
        );
        assert!(!w.job_running());
        assert_eq!(w.settle(), None, "nothing left to settle");
    }

    #[test]
    fn a_panic_while_measuring_is_shown_instead_of_measuring_forever() {
        let mut w = test_world();
        w.gather(Answer::Plan, |_, _| -> facts::Plan {
            panic!("walk failed")
        });
        match next_of(&mut w, Kind::Facts) {
            Answer::Plan(Err(e)) => assert!(e.starts_with("internal error: walk failed"), "{e}"),
            Answer::Plan(Ok(p)) => panic!("measured: {:?}", p.lines),
            _ => panic!("wrong kind"),
        }
    }
}
