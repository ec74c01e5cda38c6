//! The full-screen wizard. `app` holds the state and its transitions, `view` draws
//! it, and this module runs the loop: terminal events in, engine events from the
//! job thread in, effects carried out through `ops`. No backup logic lives here.

pub mod app;
mod browse;
mod browse_tasks;
mod eta;
mod facts;
mod failure;
mod job;
mod kept;
pub mod keys;
mod panics;
mod recovery;
mod recovery_tasks;
mod report;
pub mod scroll;
pub mod theme;
pub mod view;
mod world;

#[cfg(test)]
mod snapshots;

use std::io;
use std::mem::ManuallyDrop;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::terminal::{self as term, EnterAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use ratatui::prelude::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};

use crate::cancel::Cancel;
use crate::ops::Event;
use app::{App, Effect, JobKind, ScreenKind};
use failure::Failed;
pub use world::World;
use world::{Facts, Msg, Quick, ENDED_SILENTLY, LISTING_EVERY, SCHEDULE_EVERY, SERVICES_EVERY};

/// Runs the wizard until the user quits. SIGTERM/SIGHUP (`stop`) cancel a running
/// job and end the wizard once its services are back. Whatever ends the screen
/// (a lost terminal, a panic while drawing), a running job is cancelled and waited
/// for before this returns, so the process never exits with services down.
pub fn run(world: World, stop: &Cancel) -> io::Result<()> {
    let mut world = world;
    let mut app = App::new(world.data());
    world.gather_schedule();
    world.gather_kept(&mut app);
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
    world.drain_recovery(app);
    // A browse left: its threads stop; one open: everything they sent.
    if !app.browsing() {
        world.forget_browse();
    }
    world.browse.retain(|(_, rx)| loop {
        match rx.try_recv() {
            Ok(msg) => app.on_browse(msg),
            Err(TryRecvError::Empty) => break true,
            Err(TryRecvError::Disconnected) => break false,
        }
    });
    // Every size measured so far, not one a frame: a list of many is quick.
    while let Some(msg) = world.kept.as_ref().map(|rx| rx.try_recv()) {
        match msg {
            Ok(kept::KeptMsg::Found(rows)) => app.set_kept(rows),
            Ok(kept::KeptMsg::Measured(path, size)) => app.kept_measured(&path, size),
            Err(TryRecvError::Disconnected) => {
                world.kept = None;
                break;
            }
            Err(TryRecvError::Empty) => break,
        }
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
    match world.quick.as_ref().map(|rx| rx.try_recv()) {
        Some(Ok(q)) => {
            world.quick = None;
            match q {
                Quick::Pinned(r) => {
                    app.status = Some(r.unwrap_or_else(|e| e));
                    app.set_data(world.data());
                    world.gather_listing();
                }
                // Shown where it was asked for; a plan for a screen left is dropped.
                Quick::PrunePlan(Ok(rows)) if app.screen().kind() == ScreenKind::Generations => {
                    app.status = None;
                    app.show_prune_plan(rows);
                }
                Quick::PrunePlan(Ok(_)) => app.status = None,
                Quick::PrunePlan(Err(e)) => app.status = Some(e),
            }
        }
        Some(Err(TryRecvError::Disconnected)) => {
            world.quick = None;
            app.status = Some(ENDED_SILENTLY.into());
        }
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
    use crate::install::Installation;
    use crate::repo::generation::Repo;
    use crate::repo::retention::Policy;
    use app::Data;
    use std::sync::mpsc;
    use std::sync::mpsc::RecvTimeoutError;
    use std::sync::Arc;
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
            crate::repo::store::Store::Archive(Repo::new(
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
    fn the_prune_plan_is_worked_out_on_a_thread() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path().join("repo"));
        repo.create().unwrap();
        let mut w = world();
        w.store = crate::repo::store::Store::Archive(repo);
        let mut app = App::new(Data::default());
        app.stack.push(app::Screen::Generations { sel: 0 });
        w.perform(&mut app, Effect::PlanPrune);
        assert!(w.quick.is_some(), "asked on a thread");
        w.perform(&mut app, Effect::TogglePin("x".into()));
        assert!(app.status.as_deref().unwrap().contains("still being made"));
        let deadline = std::time::Instant::now() + LIMIT;
        while app.screen().kind() != ScreenKind::PrunePreview {
            assert!(
                std::time::Instant::now() < deadline,
                "no plan: {:?}",
                app.status
            );
            std::thread::sleep(Duration::from_millis(10));
            drain(&mut w, &mut app);
        }
        assert!(w.quick.is_none());
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
