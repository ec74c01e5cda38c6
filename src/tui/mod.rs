//! The full-screen wizard. `app` holds the state and its transitions, `view` draws
//! it, and this module runs the loop: terminal events in, engine events from the
//! job thread in, effects carried out through `ops`. No backup logic lives here.

pub mod app;
mod facts;
pub mod keys;
pub mod theme;
pub mod view;

#[cfg(test)]
mod snapshots;

use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::cancel::Cancel;
use crate::install::{detect, Installation};
use crate::ops::backup::BackupOptions;
use crate::ops::restore::RestoreOptions;
use crate::ops::{self, Context, Event};
use crate::repo::archive::ArchiveOptions;
use crate::repo::generation::Repo;
use crate::repo::retention::Policy;
use crate::units;
use app::{App, Data, Effect, JobKind, PruneRow};

enum Msg {
    Event(Event),
    Done(Result<String, String>),
}

/// Facts gathered on a thread (see `facts`).
enum Facts {
    Plan(Vec<String>),
    Restore(Vec<String>),
}

/// The world the wizard acts on: the installation, the repository and the job.
pub struct World {
    inst: Result<Arc<Installation>, String>,
    repo: Repo,
    archive: ArchiveOptions,
    reflink: bool,
    policy: Policy,
    job: Option<(Cancel, Receiver<Msg>)>,
    facts: Option<Receiver<Facts>>,
}

impl World {
    pub fn new(config: &crate::config::Config, repo: Repo) -> Result<Self, String> {
        let policy = config.retention.policy().map_err(|e| e.to_string())?;
        Ok(World {
            inst: detect::detect(config)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            repo,
            archive: ArchiveOptions {
                level: config.repository.compression_level,
                threads: config.repository.threads,
            },
            reflink: config.repository.reflink,
            policy,
            job: None,
            facts: None,
        })
    }

    /// What the home screen shows, read afresh.
    pub fn data(&self) -> Data {
        let (list, _) = self.repo.list().unwrap_or_default();
        let mut d = Data {
            repo: self.repo.root.display().to_string(),
            free_bytes: ops::preflight::free_space(
                self.repo
                    .root
                    .ancestors()
                    .find(|p| p.exists())
                    .unwrap_or(&self.repo.root),
            )
            .ok(),
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
                d.services = inst
                    .services
                    .iter()
                    .map(|s| (s.name().to_string(), s.is_running().ok()))
                    .collect();
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
        work: impl FnOnce(&Context, &mut dyn FnMut(Event)) -> Result<String, String> + Send + 'static,
    ) {
        let inst = match &self.inst {
            Ok(i) => i.clone(),
            Err(_) => return,
        };
        let (tx, rx) = mpsc::channel();
        let cancel = Cancel::new();
        let ctx_cancel = cancel.clone();
        let (repo, archive, reflink) = (self.repo.clone(), self.archive.clone(), self.reflink);
        std::thread::spawn(move || {
            let ctx = Context {
                inst: &inst,
                repo,
                archive,
                cancel: ctx_cancel,
                reflink,
            };
            let events = tx.clone();
            let result = work(&ctx, &mut |e| {
                let _ = events.send(Msg::Event(e));
            });
            let _ = tx.send(Msg::Done(result));
        });
        self.job = Some((cancel, rx));
    }

    fn perform(&mut self, app: &mut App, effect: Effect) {
        match effect {
            Effect::None | Effect::Quit => {}
            Effect::Refresh => app.data = self.data(),
            Effect::PlanBackup => {
                app.data.plan.clear();
                self.gather(|inst, repo| Facts::Plan(facts::backup_plan(inst, repo)));
            }
            Effect::StartBackup => self.spawn(|ctx, on| {
                let out = ops::backup::run(ctx, &BackupOptions::default(), on).map_err(|e| e.to_string())?;
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
                let out = ops::restore::run(ctx, &id, &RestoreOptions { safety_backup: true }, on).map_err(|e| e.to_string())?;
                let kept: Vec<String> = out.placements.iter().map(|p| p.kept.display().to_string()).collect();
                Ok(format!(
                    "Generation {} restored; services running. Safety backup: {}. Previous folders kept at {} (delete them when satisfied).",
                    out.restored.id,
                    out.safety.as_ref().map_or("none".into(), |s| s.id.clone()),
                    kept.join(", ")
                ))
            }),
            Effect::TogglePin(id) => {
                let result = ops::pin::toggle(&self.repo, &id).map_err(|e| e.to_string());
                app.status = Some(match result {
                    Ok(m) => format!("{} {}", m.id, if m.pinned { "pinned: never pruned" } else { "unpinned" }),
                    Err(e) => e,
                });
                app.data = self.data();
            }
            Effect::Delete(id) => {
                app.status = Some(match ops::prune::delete(&self.repo, &id) {
                    Ok(()) => format!("{id} deleted"),
                    Err(e) => e.to_string(),
                });
                app.data = self.data();
            }
            Effect::PlanPrune => match ops::prune::plan(&self.repo, &self.policy) {
                Ok(rows) => app.show_prune_plan(
                    rows.iter()
                        .map(|r| PruneRow {
                            id: r.manifest.id.clone(),
                            created: r.manifest.created_at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string(),
                            keep: r.decision.keep,
                            reasons: r.decision.reasons.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                        })
                        .collect(),
                ),
                Err(e) => app.status = Some(e.to_string()),
            },
            Effect::StartPrune => {
                let (repo, policy) = (self.repo.clone(), self.policy.clone());
                self.spawn(move |_, on| {
                    let rows = ops::prune::run(&repo, &policy, on).map_err(|e| e.to_string())?;
                    Ok(format!("{} generation(s) deleted.", rows.iter().filter(|r| !r.decision.keep).count()))
                })
            }
            Effect::Recover => self.spawn(|ctx, on| {
                let out = ops::recover::run(ctx, on).map_err(|e| e.to_string())?;
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

    /// Gathers facts on a thread; `drain` hands them to the app.
    fn gather(&mut self, work: impl FnOnce(&Installation, &Repo) -> Facts + Send + 'static) {
        let Ok(inst) = &self.inst else { return };
        let (inst, repo) = (inst.clone(), self.repo.clone());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(work(&inst, &repo));
        });
        self.facts = Some(rx);
    }

    fn verify(&mut self, id: String, deep: bool) {
        let repo = self.repo.clone();
        self.spawn(move |ctx, on| {
            let reports = ops::verify::run(&repo, std::slice::from_ref(&id), deep, &ctx.cancel, on)
                .map_err(|e| e.to_string())?;
            match reports.first() {
                Some(r) if r.ok => Ok(format!(
                    "{id} is intact ({} verification).",
                    if deep { "deep" } else { "quick" }
                )),
                Some(r) => Err(format!("{id} is damaged: {}", r.problems.join("; "))),
                None => Err(format!("{id} was not verified")),
            }
        });
    }
}

/// Runs the wizard until the user quits. SIGTERM/SIGHUP (`stop`) cancel a running
/// job and end the wizard once its services are back.
pub fn run(world: World, stop: &Cancel) -> std::io::Result<()> {
    let mut world = world;
    let mut app = App::new(world.data());
    let theme = theme::Theme::from_env();
    let mut terminal = ratatui::init();
    let result = (|| -> std::io::Result<()> {
        loop {
            terminal.draw(|f| view::draw(f, &app, &theme, view::Clock::now()))?;
            drain(&mut world, &mut app);
            if stop.is_cancelled() {
                world.perform(&mut app, Effect::CancelJob);
                if world.job.is_none() {
                    return Ok(());
                }
            }
            match wait_for_input(Duration::from_millis(100)) {
                Input::None => continue,
                // The terminal went away (ssh dropped, window closed): cancel the
                // job, which starts the services again, and leave once it is over.
                Input::Gone => {
                    stop.cancel();
                    continue;
                }
                Input::Ready => {}
            }
            if !event::poll(Duration::ZERO)? {
                continue;
            }
            if let TermEvent::Key(key) = event::read()? {
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                match app.on_key(key) {
                    Effect::Quit if world.job.is_none() => return Ok(()),
                    effect => world.perform(&mut app, effect),
                }
            }
        }
    })();
    ratatui::restore();
    result
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
    if let Some(Ok(f)) = world.facts.as_ref().map(|rx| rx.try_recv()) {
        world.facts = None;
        match f {
            Facts::Plan(v) => app.data.plan = v,
            Facts::Restore(v) => app.set_restore_facts(v),
        }
    }
    let Some((_, rx)) = &world.job else { return };
    let mut done = None;
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Event(e) => app.on_job_event(e),
            Msg::Done(r) => done = Some(r),
        }
    }
    if let Some(r) = done {
        world.job = None;
        let restore_next = app
            .job()
            .filter(|j| j.kind == JobKind::VerifyForRestore && r.is_ok())
            .and_then(|j| j.id.clone());
        let effect = app.on_job_done(r);
        world.perform(app, effect);
        if let Some(id) = restore_next {
            world.gather(move |inst, repo| Facts::Restore(facts::restore(inst, repo, &id)));
        }
    }
}
