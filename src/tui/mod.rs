//! The full-screen wizard. This module runs the loop: terminal events in, the
//! answers of the tasks in, effects carried out in the world. No backup logic
//! lives here. Where things are:
//! - `app`: the screen stack, the wizard-wide keys and the routing; each screen's
//!   state and keys in a module named after it (`home`, `backup_plan`, `job`,
//!   `generations`, `restore`, `confirm`, `prune`, `schedule`, `help`, `kept`,
//!   `browse`, `recovery`); `state` and `data` hold what they share.
//! - `view`: drawing, one file per screen.
//! - `world`: the installation and the repository; `effects` carries out what a
//!   key asked for, `answers` takes in what came back, `gather` keeps Home's
//!   facts fresh, `freshness` (with `marker`) the repository's generations. Every slow thing runs through `tasks` (one channel, a token
//!   per task).

mod answers;
mod app;
mod backup_plan;
mod browse;
mod browse_tasks;
mod confirm;
mod data;
mod effects;
mod eta;
mod facts;
mod failure;
mod freshness;
mod gather;
mod generations;
mod help;
mod home;
mod job;
mod kept;
mod keys;
mod marker;
mod panics;
mod prune;
mod recovery;
mod recovery_tasks;
mod report;
mod restore;
mod schedule;
mod scroll;
mod state;
mod tasks;
mod theme;
mod view;
mod world;

#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod testing;

use std::io;
use std::mem::ManuallyDrop;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{self as term, EnterAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use ratatui::prelude::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};

use crate::cancel::Cancel;
use app::App;
use state::Effect;
pub use world::World;
use world::{LISTING_EVERY, SCHEDULE_EVERY, SERVICES_EVERY};

/// Runs the wizard until the user quits. SIGTERM/SIGHUP (`stop`) cancel a running
/// job and end the wizard once its services are back. Whatever ends the screen
/// (a lost terminal, a panic while drawing), a running job is cancelled and waited
/// for before this returns, so the process never exits with services down.
pub fn run(world: World, stop: &Cancel) -> io::Result<()> {
    let mut world = world;
    let mut app = App::new(world.data());
    world.gather_schedule();
    world.gather_kept(&mut app);
    world.look_at_repo(true);
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
        world.drain(app);
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
        world.look_at_repo(false);
        world.look_at_source(app);
        if stop.is_cancelled() {
            world.perform(app, Effect::CancelJob);
            if !world.job_running() {
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
            // On "Terminal too small" the user sees no screen: a key there must not
            // start a backup blind. Only quitting (q, Ctrl-C) goes through.
            let size = terminal.size()?;
            let quitting = key.code == KeyCode::Char('q')
                || (key.code == KeyCode::Char('c')
                    && key.modifiers.contains(KeyModifiers::CONTROL));
            if !view::fits(size.width, size.height) && !quitting {
                continue;
            }
            match app.on_key(key) {
                Effect::Quit if !world.job_running() => return Ok(()),
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
