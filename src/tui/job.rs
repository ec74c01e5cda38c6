//! A job's screen: its kind, its steps and their states, the progress of the
//! step at work, the downtime and the whole job's clock, built from the
//! engine's events; and its keys (Ctrl-C asks before it cancels).

use std::time::{Duration, Instant};

/// Why a step still running when another failed is shown as stopped, not failed.
pub const STOPPED: &str = "stopped when another step failed";

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::eta::{Estimate, Tally};
use super::scroll::Scroll;
use super::state::{Effect, Go, JobKind, Reply, StepState, To};
use crate::ops::{Event, Step};

#[derive(Clone, Debug)]
pub struct Job {
    pub kind: JobKind,
    /// The generation a restore or verification is about.
    pub id: Option<String>,
    pub steps: Vec<(Step, StepState)>,
    /// The step with bytes moving, done, total, and when the step started.
    pub progress: Option<(Step, u64, u64, Instant)>,
    pub file: String,
    pub warnings: Vec<String>,
    pub info: Vec<String>,
    pub started: Instant,
    pub first_stop: Option<Instant>,
    pub last_start: Option<Instant>,
    pub outcome: Option<Result<String, String>>,
    /// When the outcome came: clocks, throughput and ETA stop there.
    pub finished: Option<Instant>,
    pub ask_cancel: bool,
    pub cancel_requested: bool,
    /// What the whole job is expected to take, and what it did so far.
    pub estimate: Option<Estimate>,
    pub tally: Tally,
    /// How far the result pane is scrolled once the job ended.
    pub scroll: Scroll,
}

impl Job {
    pub fn new(kind: JobKind, id: Option<String>) -> Self {
        Job {
            kind,
            id,
            steps: Vec::new(),
            progress: None,
            file: String::new(),
            warnings: Vec::new(),
            info: Vec::new(),
            started: Instant::now(),
            first_stop: None,
            last_start: None,
            outcome: None,
            finished: None,
            ask_cancel: false,
            cancel_requested: false,
            estimate: None,
            tally: Tally::default(),
            scroll: Scroll::default(),
        }
    }

    /// About how long the whole job has left (None once it ended, or before
    /// enough is known).
    pub fn left(&self, now: Instant) -> Option<Duration> {
        match (&self.estimate, self.outcome.is_some()) {
            (Some(e), false) => self.tally.left(e, &self.steps, now),
            _ => None,
        }
    }

    /// Whether the job ended by a cancel (the user's, or a signal's).
    pub fn cancelled(&self) -> bool {
        matches!(&self.outcome, Some(Err(m)) if self.cancel_requested || m.starts_with("cancelled"))
    }

    /// The job ended: nothing on the screen may keep running after it.
    pub fn finish(&mut self, result: Result<String, String>) {
        self.outcome = Some(result);
        self.finished = Some(Instant::now());
        self.ask_cancel = false;
        // Steps running beside one that failed were stopped by that failure (a
        // parallel check stops the others at the first damaged archive): they
        // are not damaged themselves, and must not look so.
        let another_failed = self
            .steps
            .iter()
            .any(|(_, s)| matches!(s, StepState::Failed(_)));
        let why = if self.cancelled() {
            "cancelled"
        } else if another_failed {
            STOPPED
        } else {
            "not finished"
        };
        for (_, state) in &mut self.steps {
            if matches!(state, StepState::Running(_)) {
                *state = StepState::Failed(why.into());
            }
        }
    }

    /// Services are down from the first stop until the last start finished.
    pub fn downtime(&self, now: Instant) -> Option<Duration> {
        let start = self.first_stop?;
        let end = match (self.last_start, self.services_down()) {
            (_, true) => now,
            (Some(end), false) => end,
            (None, false) => now,
        };
        Some(end.saturating_duration_since(start))
    }

    /// Whether services stopped by this job are down right now.
    pub fn services_down(&self) -> bool {
        let stopped = self
            .steps
            .iter()
            .filter(|(s, st)| matches!(s, Step::Stop(_)) && st != &StepState::Pending)
            .count();
        let started = self
            .steps
            .iter()
            .filter(|(s, st)| matches!(s, Step::Start(_)) && matches!(st, StepState::Done(_)))
            .count();
        self.outcome.is_none() && stopped > started
    }

    pub fn apply(&mut self, ev: Event) {
        let now = Instant::now();
        self.tally.on_event(&ev, now);
        match ev {
            Event::Plan(steps) => {
                for s in steps {
                    if !self.steps.iter().any(|(x, _)| x == &s) {
                        self.steps.push((s, StepState::Pending));
                    }
                }
            }
            Event::Started(step) => {
                // The file shown belongs to the step before: it would be stale.
                self.file.clear();
                if matches!(step, Step::Stop(_)) && self.first_stop.is_none() {
                    self.first_stop = Some(now);
                }
                self.set(step, StepState::Running(now));
            }
            Event::Finished(step, took) => {
                self.file.clear();
                if matches!(step, Step::Start(_)) {
                    self.last_start = Some(now);
                }
                if self.progress.as_ref().is_some_and(|(s, ..)| s == &step) {
                    self.progress = None;
                }
                self.set(step, StepState::Done(took));
            }
            Event::Failed(step, why) => self.set(step, StepState::Failed(why)),
            Event::Progress { step, done, total } => {
                let started = match &self.progress {
                    Some((s, _, _, t)) if s == &step => *t,
                    _ => now,
                };
                self.progress = Some((step, done, total, started));
            }
            Event::File(f) => self.file = f,
            Event::Warning(w) => self.warnings.push(w),
            Event::Info(i) => self.info.push(i),
        }
    }

    /// A key on the job's screen; Ctrl-C (which asks) is the wizard's own.
    pub fn key(&mut self, key: KeyEvent) -> Reply {
        if self.ask_cancel {
            self.ask_cancel = false;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                self.cancel_requested = true;
                return Reply::effect(Effect::CancelJob);
            }
            return Reply::stay();
        }
        let done = self.outcome.is_some();
        match key.code {
            // The result pane scrolls once there is a result to read.
            code if done && self.scroll.on_key(code, false) => Reply::stay(),
            // Back past the job to the screen that started it.
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') if done => {
                Reply::from(Go::Back).with(Effect::Refresh)
            }
            KeyCode::Char('?') => Go::Open(To::Help).into(),
            // Leaving a running job is no way to stop it: say what is.
            KeyCode::Esc | KeyCode::Char('q') => {
                Go::Say("the job is still running: Ctrl-C cancels it (asks first)".into()).into()
            }
            _ => Reply::stay(),
        }
    }

    fn set(&mut self, step: Step, state: StepState) {
        match self.steps.iter_mut().find(|(s, _)| s == &step) {
            Some((_, st)) => *st = state,
            // A step the plan did not name runs before what is still pending:
            // the list keeps the order steps run in.
            None => {
                let at = self
                    .steps
                    .iter()
                    .position(|(_, s)| *s == StepState::Pending)
                    .unwrap_or(self.steps.len());
                self.steps.insert(at, (step, state));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::{app_with, ctrl_c, key};

    /// A step the plan did not name (the runbook's check) is listed where it
    /// ran, not after the health checks that come last.
    #[test]
    fn an_unplanned_step_is_listed_where_it_runs() {
        let mut j = Job::new(JobKind::Restore, Some("g1".into()));
        j.apply(Event::Plan(vec![
            Step::Verify("c.tar.zst".into()),
            Step::Stop("structr".into()),
            Step::Start("structr".into()),
            Step::Health("structr".into()),
        ]));
        j.apply(Event::Started(Step::Verify("c.tar.zst".into())));
        j.apply(Event::Started(Step::Verify("RUNBOOK.md".into())));
        let names: Vec<String> = j.steps.iter().map(|(s, _)| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "verify c.tar.zst",
                "verify RUNBOOK.md",
                "stop structr",
                "start structr",
                "structr healthy?"
            ]
        );
    }

    /// The file shown is the running step's: a step that starts or ends takes
    /// the previous one's file name away.
    #[test]
    fn no_stale_file_name_after_a_step() {
        let mut j = Job::new(JobKind::Backup, None);
        j.apply(Event::Started(Step::Copy("neo4j".into())));
        j.apply(Event::File("databases/neo4j/neostore".into()));
        j.apply(Event::Finished(Step::Copy("neo4j".into()), Duration::ZERO));
        assert_eq!(j.file, "");
        j.apply(Event::File("x".into()));
        j.apply(Event::Started(Step::Copy("structr".into())));
        assert_eq!(j.file, "");
    }

    #[test]
    fn checks_stopped_by_another_ones_damage_are_not_marked_failed() {
        let mut j = Job::new(JobKind::VerifyForRestore, Some("g1".into()));
        let (a, b) = (
            Step::Verify("a.tar.zst".into()),
            Step::Verify("b.tar.zst".into()),
        );
        j.apply(Event::Started(a.clone()));
        j.apply(Event::Started(b.clone()));
        j.apply(Event::Failed(a, "g1: a.tar.zst is damaged".into()));
        j.finish(Err("g1: a.tar.zst is damaged".into()));
        assert!(matches!(&j.steps[0].1, StepState::Failed(w) if w.contains("damaged")));
        assert_eq!(j.steps[1].1, StepState::Failed(STOPPED.into()));
    }

    #[test]
    fn esc_and_q_during_a_job_say_how_to_cancel() {
        let mut app = app_with(&[]);
        app.begin_job(JobKind::Backup, None);
        for k in [KeyCode::Esc, KeyCode::Char('q')] {
            assert_eq!(app.on_key(key(k)), Effect::None);
            assert!(
                app.status
                    .as_deref()
                    .unwrap_or("")
                    .contains("Ctrl-C cancels"),
                "{:?}",
                app.status
            );
            assert!(app.job_running());
        }
    }

    #[test]
    fn ctrl_c_during_a_job_asks_first() {
        let mut app = app_with(&[]);
        app.begin_job(JobKind::Backup, None);
        assert_eq!(app.on_key(ctrl_c()), Effect::None);
        assert!(app.job().unwrap().ask_cancel);
        assert_eq!(
            app.on_key(key(KeyCode::Char('n'))),
            Effect::None,
            "anything but y keeps going"
        );
        assert!(!app.job().unwrap().ask_cancel && !app.job().unwrap().cancel_requested);
        app.on_key(ctrl_c());
        assert_eq!(app.on_key(key(KeyCode::Char('y'))), Effect::CancelJob);
        assert!(app.job().unwrap().cancel_requested);
    }

    #[test]
    fn a_job_knows_what_it_will_move_and_stops_its_clock_when_it_ends() {
        let mut app = app_with(&[]);
        app.data.plan_bytes = Some(4096);
        app.on_key(key(KeyCode::Char('b')));
        app.on_key(key(KeyCode::Enter));
        let bytes = app.job().and_then(|j| j.estimate.as_ref()).map(|e| e.bytes);
        assert_eq!(bytes, Some(4096), "the measured plan");
        let step = Step::Copy("x".into());
        app.on_job_event(Event::Progress {
            step: step.clone(),
            done: 0,
            total: 4096,
        });
        std::thread::sleep(Duration::from_millis(600));
        app.on_job_event(Event::Progress {
            step,
            done: 1024,
            total: 4096,
        });
        let now = Instant::now();
        assert!(
            app.job().unwrap().left(now).is_some(),
            "an ETA while it runs"
        );
        app.on_job_done(Err("cancelled: by the user".into()));
        assert_eq!(app.job().unwrap().left(now), None, "none once it ended");
    }

    #[test]
    fn job_tracks_steps_progress_and_downtime() {
        let mut job = Job::new(JobKind::Backup, None);
        job.apply(Event::Plan(vec![
            Step::Stop("structr".into()),
            Step::Copy("structr".into()),
            Step::Start("structr".into()),
        ]));
        assert!(job.downtime(Instant::now()).is_none());
        job.apply(Event::Started(Step::Stop("structr".into())));
        job.apply(Event::Finished(
            Step::Stop("structr".into()),
            Duration::from_millis(5),
        ));
        job.apply(Event::Progress {
            step: Step::Copy("structr".into()),
            done: 50,
            total: 100,
        });
        assert_eq!(job.progress.as_ref().map(|p| (p.1, p.2)), Some((50, 100)));
        assert!(job.services_down());
        job.apply(Event::Started(Step::Start("structr".into())));
        job.apply(Event::Finished(
            Step::Start("structr".into()),
            Duration::from_millis(5),
        ));
        assert!(!job.services_down());
        let d1 = job.downtime(Instant::now()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            job.downtime(Instant::now()).unwrap(),
            d1,
            "the clock stops at the last start"
        );
    }
}
