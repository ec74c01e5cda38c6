//! The full-screen wizard. `app` holds the state and its transitions, `view` draws
//! it, and this module runs the loop: terminal events in, engine events from the
//! job thread in, effects carried out through `ops`. No backup logic lives here.

pub mod app;
mod eta;
mod facts;
mod failure;
pub mod keys;
mod panics;
pub mod scroll;
pub mod theme;
pub mod view;

#[cfg(test)]
mod snapshots;

use std::io;
use std::mem::ManuallyDrop;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::terminal::{self as term, EnterAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use ratatui::prelude::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};

use crate::cancel::Cancel;
use crate::install::schedule;
use crate::install::{detect, Installation};
use crate::ops::backup::BackupOptions;
use crate::ops::restore::RestoreOptions;
use crate::ops::{self, Context, Event};
use crate::repo::retention::Policy;
use crate::repo::store::Store;
use crate::units;
use app::{App, Data, Effect, JobKind, PruneRow, ScheduleFacts, Timer};
use failure::Failed;

enum Msg {
    Event(Event),
    Done(Result<String, Failed>),
}

/// A job thread that ended without telling its result (it cannot panic past
/// `panics::caught`, so this is a thread that never ran or was torn down).
const ENDED_SILENTLY: &str = "internal error: the job ended without reporting its result";

/// Facts gathered on a thread (see `facts`); the error of a panic while measuring.
enum Facts {
    Plan(Result<facts::Plan, String>),
    Restore(Result<Vec<String>, String>),
}

/// The world the wizard acts on: the installation, the repository and the job.
pub struct World {
    inst: Result<Arc<Installation>, String>,
    store: Store,
    config: crate::config::Config,
    policy: Policy,
    job: Option<(Cancel, Receiver<Msg>)>,
    facts: Option<Receiver<Facts>>,
    /// The schedule being gathered, and when that began.
    schedule: Option<Receiver<ScheduleFacts>>,
    schedule_asked: Option<Instant>,
    /// A schedule change being made.
    schedule_change: Option<Receiver<Result<String, String>>>,
    /// Whether each service runs, as last asked (on a thread, every few seconds).
    services_seen: ServiceStates,
    services: Option<Receiver<ServiceStates>>,
    services_asked: Option<Instant>,
    /// The repository's and the off-site targets' listings, made on a thread
    /// (restic and rclone answer in seconds, a remote one in more).
    listing: Option<Receiver<Listing>>,
    listing_asked: Option<Instant>,
    /// The restic repository's generations as last listed (the archive kind's
    /// manifests are read directly: that is fast).
    generations_seen: Option<Vec<crate::repo::generation::Manifest>>,
    offsite_seen: Vec<app::OffsiteState>,
}

/// What a listing thread found.
struct Listing {
    generations: Option<Vec<crate::repo::generation::Manifest>>,
    offsite: Vec<app::OffsiteState>,
}

/// Each service's name and whether it runs (None: the question failed).
type ServiceStates = Vec<(String, Option<bool>)>;

/// How often Home asks whether the services run (one may die while we look).
const SERVICES_EVERY: Duration = Duration::from_secs(3);

/// How often the off-site targets (and a restic repository) are listed afresh.
const LISTING_EVERY: Duration = Duration::from_secs(60);

/// How often Home's schedule line is gathered afresh (a timer run may have ended).
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

impl World {
    pub fn new(config: &crate::config::Config, store: Store) -> Result<Self, String> {
        let policy = config.retention.policy().map_err(|e| e.to_string())?;
        let inst = detect::detect(config)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Ok(World::from_parts(inst, store, config.clone(), policy))
    }

    /// A world with no job, no facts gathered and nothing asked yet.
    fn from_parts(
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
            listing: None,
            listing_asked: None,
            generations_seen: None,
            offsite_seen: Vec::new(),
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
            repo: self.store.location(),
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
            }
            Err(e) => {
                d.detect_error = Some(e.clone());
                d.kind = "none".into();
                d.host = crate::repo::lock::hostname();
            }
        }
        d
    }

    fn spawn(
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
    fn settle(&mut self) -> Option<Result<String, Failed>> {
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

    fn perform(&mut self, app: &mut App, effect: Effect) {
        match effect {
            Effect::None | Effect::Quit => {}
            Effect::Refresh => {
                app.set_data(self.data());
                self.gather_schedule();
                self.gather_listing();
            }
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
            Effect::StartBackup { label } => self.spawn(move |ctx, on| {
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
            Effect::StartRestore(id) => self.spawn(move |ctx, on| {
                let out = ops::restore::run(ctx, &id, &RestoreOptions { safety_backup: true }, on)?;
                let kept: Vec<String> = out.placements.iter().map(|p| p.kept.display().to_string()).collect();
                Ok(format!(
                    "Generation {} restored; services running. Safety backup: {}. Previous folders kept at {} (delete them when satisfied).",
                    out.restored.id,
                    out.safety.as_ref().map_or("none".into(), |s| s.id.clone()),
                    kept.join(", ")
                ))
            }),
            Effect::TogglePin(id) => {
                let result = ops::pin::toggle(&self.store, &id).map_err(|e| e.to_string());
                app.status = Some(match result {
                    Ok(m) => format!("{} {}", m.id, if m.pinned { "pinned: never pruned" } else { "unpinned" }),
                    Err(e) => e,
                });
                app.set_data(self.data());
            }
            Effect::Delete(id) => {
                let repo = self.store.clone();
                self.spawn(move |_, _| {
                    ops::prune::delete(&repo, &id)?;
                    Ok(format!("{id} deleted."))
                })
            }
            Effect::PlanPrune => match ops::prune::plan(&self.store, &self.policy) {
                Ok(rows) => app.show_prune_plan(
                    rows.iter()
                        .map(|r| PruneRow {
                            id: r.manifest.id.clone(),
                            created: r.manifest.created_at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string(),
                            keep: r.decision.keep,
                            reasons: r.decision.reasons.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                            size: r.manifest.total_archive_size(),
                            label: r.manifest.label.clone(),
                        })
                        .collect(),
                ),
                Err(e) => app.status = Some(e.to_string()),
            },
            Effect::StartPrune => {
                let (repo, policy) = (self.store.clone(), self.policy.clone());
                self.spawn(move |_, on| {
                    let rows = ops::prune::run(&repo, &policy, on)?;
                    Ok(format!("{} generation(s) deleted.", rows.iter().filter(|r| !r.decision.keep).count()))
                })
            }
            Effect::Recover => self.spawn(|ctx, on| {
                let out = ops::recover::run(ctx, on)?;
                Ok(match out.record {
                    Some(r) => format!("Started {} again.", r.stopped.join(", ")),
                    None => "Nothing to recover.".into(),
                })
            }),
            Effect::CancelJob => {
                if let Some((cancel, _)) = &self.job {
                    cancel.cancel();
                }
            }
        }
    }

    /// Gathers facts on a thread; `drain` hands them to the app as `kind`. A
    /// panic while measuring becomes the one fact shown, not an endless "measuring".
    fn gather<T: Send + 'static>(
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

    /// Asks every service whether it runs, on a thread; one round at a time.
    fn gather_services(&mut self) {
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
    fn gather_listing(&mut self) {
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
                        .map(|(name, t)| app::OffsiteState {
                            name: name.clone(),
                            location: t.location(),
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
    fn gather_schedule(&mut self) {
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

    fn verify(&mut self, id: String, deep: bool) {
        let repo = self.store.clone();
        self.spawn(move |ctx, on| {
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

/// Runs a job on its own thread. Whatever the job does (fail, panic), the
/// receiver ends with one `Done`; a thread that cannot start reports that instead.
fn job_thread(
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

/// Runs the wizard until the user quits. SIGTERM/SIGHUP (`stop`) cancel a running
/// job and end the wizard once its services are back. Whatever ends the screen
/// (a lost terminal, a panic while drawing), a running job is cancelled and waited
/// for before this returns, so the process never exits with services down.
pub fn run(world: World, stop: &Cancel) -> io::Result<()> {
    let mut world = world;
    let mut app = App::new(world.data());
    world.gather_schedule();
    let theme = theme::Theme::from_env();
    let recording = panics::Recording::start();
    let screen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Never dropped: its drop reports a cursor it cannot show on stderr, and
        // printing to a lost terminal panics. `close_terminal` shows the cursor.
        let mut terminal = ManuallyDrop::new(open_terminal()?);
        interact(&mut terminal, &mut world, &mut app, &theme, stop)
    }))
    .unwrap_or_else(|payload| {
        let report = panics::take_report().unwrap_or_else(|| panics::message(payload.as_ref()));
        Err(io::Error::other(format!(
            "internal error in the wizard: {report}"
        )))
    });
    // Errors are moot here: with the terminal gone there is nothing to restore.
    let _ = close_terminal();
    let job = world.settle();
    drop(recording);
    match (screen, job) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(r)) => Err(io::Error::other(format!(
            "the wizard ended during a job, which was cancelled: {}",
            r.unwrap_or_else(|e| e.message)
        ))),
        (Err(e), None) => Err(e),
        (Err(e), Some(r)) => Err(io::Error::new(
            e.kind(),
            format!(
                "{e}; the running job was cancelled: {}",
                r.unwrap_or_else(|e| e.message)
            ),
        )),
    }
}

/// The full-screen terminal, without ratatui's panic hook: `panics` handles those.
fn open_terminal() -> io::Result<DefaultTerminal> {
    term::enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Gives the terminal back as found; tries every step even when one fails.
fn close_terminal() -> io::Result<()> {
    let raw = term::disable_raw_mode();
    let screen = execute!(io::stdout(), term::LeaveAlternateScreen, cursor::Show);
    raw.and(screen)
}

/// The interactive loop: returns when the user quits, when `stop` is set and no
/// job runs, or with the first terminal failure (a job may then still run).
fn interact(
    terminal: &mut DefaultTerminal,
    world: &mut World,
    app: &mut App,
    theme: &theme::Theme,
    stop: &Cancel,
) -> io::Result<()> {
    loop {
        terminal.draw(|f| view::draw(f, app, theme, view::Clock::now()))?;
        drain(world, app);
        if world
            .schedule_asked
            .is_none_or(|t| t.elapsed() >= SCHEDULE_EVERY)
        {
            world.gather_schedule();
        }
        if world
            .services_asked
            .is_none_or(|t| t.elapsed() >= SERVICES_EVERY)
        {
            world.gather_services();
        }
        if world
            .listing_asked
            .is_none_or(|t| t.elapsed() >= LISTING_EVERY)
        {
            world.gather_listing();
        }
        if stop.is_cancelled() {
            world.perform(app, Effect::CancelJob);
            if world.job.is_none() {
                return Ok(());
            }
        }
        if let Input::Gone = wait_for_input(Duration::from_millis(100)) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the terminal was closed",
            ));
        }
        // Every event crossterm holds, now: one read of stdin can bring many (a
        // pasted id), and those already in its buffer never make stdin readable
        // again, so handling one per wake-up held the rest back until the next key.
        while event::poll(Duration::ZERO)? {
            let TermEvent::Key(key) = event::read()? else {
                continue; // a resize: the next draw takes the new size
            };
            if key.kind != KeyEventKind::Press {
                continue;
            }
            match app.on_key(key) {
                Effect::Quit if world.job.is_none() => return Ok(()),
                effect => world.perform(app, effect),
            }
        }
    }
}

enum Input {
    None,
    Ready,
    Gone,
}

/// Waits for terminal input ourselves: crossterm spins on a hung-up terminal
/// (reads of 0 bytes forever), so a closed terminal must be seen before it reads.
fn wait_for_input(timeout: Duration) -> Input {
    let mut fds = [libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout.as_millis() as libc::c_int) };
    let r = fds[0].revents;
    if n < 0 {
        return Input::None; // EINTR from a signal: the loop checks the stop flag
    }
    if r & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        Input::Gone
    } else if r & libc::POLLIN != 0 {
        Input::Ready
    } else {
        Input::None
    }
}

/// Applies what the job and fact threads reported since the last frame.
fn drain(world: &mut World, app: &mut App) {
    match world.facts.as_ref().map(|rx| rx.try_recv()) {
        Some(Ok(f)) => {
            world.facts = None;
            match f {
                Facts::Plan(Ok(p)) => {
                    app.data.plan = p.lines;
                    app.data.plan_bytes = p.bytes;
                }
                Facts::Plan(Err(e)) => app.data.plan = vec![format!("could not measure: {e}")],
                Facts::Restore(r) => app.set_restore_facts(
                    r.unwrap_or_else(|e| vec![format!("could not measure: {e}")]),
                ),
            }
        }
        Some(Err(TryRecvError::Disconnected)) => world.facts = None,
        _ => {}
    }
    match world.services.as_ref().map(|rx| rx.try_recv()) {
        Some(Ok(states)) => {
            world.services = None;
            world.services_seen = states.clone();
            app.data.services = states;
        }
        Some(Err(TryRecvError::Disconnected)) => world.services = None,
        _ => {}
    }
    match world.listing.as_ref().map(|rx| rx.try_recv()) {
        Some(Ok(l)) => {
            world.listing = None;
            world.offsite_seen = l.offsite;
            if l.generations.is_some() {
                world.generations_seen = l.generations;
            }
            app.set_data(world.data());
        }
        Some(Err(TryRecvError::Disconnected)) => world.listing = None,
        _ => {}
    }
    match world.schedule.as_ref().map(|rx| rx.try_recv()) {
        Some(Ok(f)) => {
            world.schedule = None;
            app.set_schedule(f);
        }
        Some(Err(TryRecvError::Disconnected)) => world.schedule = None,
        _ => {}
    }
    let changed = match world.schedule_change.as_ref().map(|rx| rx.try_recv()) {
        Some(Ok(r)) => Some(r),
        Some(Err(TryRecvError::Disconnected)) => Some(Err(ENDED_SILENTLY.into())),
        _ => None,
    };
    if let Some(r) = changed {
        world.schedule_change = None;
        let effect = app.schedule_done(r);
        world.perform(app, effect);
    }
    let Some((_, rx)) = &world.job else { return };
    let done = job_messages(rx, |e| app.on_job_event(e));

    if let Some(r) = done {
        world.job = None;
        let restore_next = app
            .job()
            .filter(|j| j.kind == JobKind::VerifyForRestore && r.is_ok())
            .and_then(|j| j.id.clone());
        if let Some(j) = app.job().filter(|j| j.kind.verifies()) {
            if let Some(id) = j.id.clone() {
                match &r {
                    Ok(_) => app.verified(&id, Vec::new()),
                    Err(f) if !f.damage.is_empty() => app.verified(&id, f.damage.clone()),
                    Err(_) => {}
                }
            }
        }
        let effect = app.on_job_done(r.map_err(|f| f.message));
        world.perform(app, effect);
        if let Some(id) = restore_next {
            world.gather(Facts::Restore, move |inst, repo| {
                facts::restore(inst, repo, &id)
            });
        }
    }
}

/// Hands the job's pending events to `on` and returns its result once it has one;
/// a job whose thread is gone without a result has failed.
fn job_messages(rx: &Receiver<Msg>, mut on: impl FnMut(Event)) -> Option<Result<String, Failed>> {
    loop {
        match rx.try_recv() {
            Ok(Msg::Event(e)) => on(e),
            Ok(Msg::Done(r)) => return Some(r),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => {
                return Some(Err(Failed::from(ENDED_SILENTLY.to_string())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;

    const LIMIT: Duration = Duration::from_secs(10);

    /// A world on an empty installation (no services) and a repository that is
    /// never written: enough to run jobs and fact threads.
    fn world() -> World {
        let inst = Installation {
            kind: crate::config::Kind::Custom,
            host: "test".into(),
            components: Vec::new(),
            services: Vec::new(),
            notes: Vec::new(),
            versions: Default::default(),
            stop_timeout: Duration::from_secs(1),
            start_timeout: Duration::from_secs(1),
        };
        World::from_parts(
            Ok(Arc::new(inst)),
            crate::repo::store::Store::Archive(crate::repo::generation::Repo::new(
                std::env::temp_dir().join("structr-backup-tui-test-unused"),
            )),
            crate::config::Config::default(),
            Policy::default(),
        )
    }

    /// The job's result, skipping its events; fails the test if none comes.
    fn result_of(world: &World) -> Result<String, Failed> {
        let (_, rx) = world.job.as_ref().expect("a job runs");
        loop {
            match rx.recv_timeout(LIMIT) {
                Ok(Msg::Event(_)) => continue,
                Ok(Msg::Done(r)) => return r,
                Err(RecvTimeoutError::Timeout) => panic!("the job never reported its end"),
                Err(RecvTimeoutError::Disconnected) => panic!("the job ended without a result"),
            }
        }
    }

    #[test]
    fn a_panicking_job_is_a_failed_job() {
        let mut w = world();
        w.spawn(|_, on| {
            on(Event::Info("about to fail".into()));
            panic!("the archive writer broke");
        });
        let r = result_of(&w);
        let e = r.expect_err("a panic is a failure").message;
        assert!(e.starts_with("internal error: "), "{e}");
        assert!(e.contains("the archive writer broke"), "{e}");
    }

    /// The wizard's loop takes in what a job sent before its channel closed.
    fn drained(msgs: Vec<Msg>) -> (World, App) {
        drained_into(App::new(Data::default()), JobKind::Backup, msgs)
    }

    /// `drained` for a job of `kind` (on generation "g1") started from `app`.
    fn drained_into(mut app: App, kind: JobKind, msgs: Vec<Msg>) -> (World, App) {
        let (tx, rx) = mpsc::channel();
        for m in msgs {
            tx.send(m).unwrap();
        }
        drop(tx);
        let mut w = world();
        w.job = Some((Cancel::new(), rx));
        app.begin_job(kind, Some("g1".into()));
        drain(&mut w, &mut app);
        (w, app)
    }

    #[test]
    fn what_a_verification_found_is_kept_until_one_passes() {
        let damage = vec!["g1: structr.tar.zst is damaged (sha256 00, expected ff)".to_string()];
        let failed = Msg::Done(Err(Failed::damaged("g1", damage.clone())));
        let (_, app) = drained_into(App::new(Data::default()), JobKind::Verify, vec![failed]);
        assert_eq!(app.damage.get("g1"), Some(&damage));
        assert!(
            matches!(app.job().and_then(|j| j.outcome.clone()), Some(Err(m)) if m.contains("is damaged"))
        );
        // A verification that could not run (the lock was held) says nothing new.
        let locked = Msg::Done(Err(Failed::from("the repository is locked".to_string())));
        let (_, app) = drained_into(app, JobKind::Verify, vec![locked]);
        assert_eq!(app.damage.get("g1"), Some(&damage));
        let passed = Msg::Done(Ok("g1 is intact".into()));
        let (_, app) = drained_into(app, JobKind::VerifyForRestore, vec![passed]);
        assert!(app.damage.is_empty(), "{:?}", app.damage);
    }

    #[test]
    fn a_job_whose_thread_vanishes_without_a_result_has_failed() {
        let (w, app) = drained(vec![Msg::Event(Event::Info("working".into()))]);
        assert!(w.job.is_none(), "the screen does not wait for it forever");
        let outcome = app.job().and_then(|j| j.outcome.clone());
        assert!(
            matches!(&outcome, Some(Err(e)) if e.starts_with("internal error")),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_finished_job_is_not_mistaken_for_a_vanished_one() {
        let (w, app) = drained(vec![Msg::Done(Ok("written".into()))]);
        assert!(w.job.is_none());
        let outcome = app.job().and_then(|j| j.outcome.clone());
        assert_eq!(outcome, Some(Ok("written".into())));
    }

    #[test]
    fn settling_cancels_the_job_and_waits_for_its_end() {
        let mut w = world();
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
        assert!(w.job.is_none());
        assert_eq!(w.settle(), None, "nothing left to settle");
    }

    #[test]
    fn a_panic_while_measuring_is_shown_instead_of_measuring_forever() {
        let mut w = world();
        w.gather(Facts::Plan, |_, _| -> facts::Plan { panic!("walk failed") });
        let rx = w.facts.as_ref().expect("facts are gathered");
        match rx.recv_timeout(LIMIT) {
            Ok(Facts::Plan(Err(e))) => {
                assert!(e.starts_with("internal error: walk failed"), "{e}");
            }
            Ok(Facts::Plan(Ok(p))) => panic!("measured: {:?}", p.lines),
            Ok(Facts::Restore(v)) => panic!("wrong kind: {v:?}"),
            Err(e) => panic!("no facts: {e}"),
        }
    }
}
