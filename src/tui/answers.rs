//! What the tasks answered, handed to the app: the loop drains them each frame.

use super::app::App;
use super::facts;
use super::failure::Failed;
use super::recovery::RecoveryMsg;
use super::state::{JobKind, ScreenKind};
use super::world::{Answer, World};

impl World {
    /// Applies every answer the tasks sent since the last frame.
    pub(super) fn drain(&mut self, app: &mut App) {
        // A browse left: its tasks stop, and what they still send is dropped.
        if !app.browsing() {
            self.forget_browse();
        }
        while let Some((_, answer)) = self.tasks.next() {
            self.apply(app, answer);
        }
    }

    fn apply(&mut self, app: &mut App, answer: Answer) {
        match answer {
            Answer::Event(e) => app.on_job_event(e),
            Answer::Done(r) => self.job_done(app, r),
            Answer::Plan(Ok(p)) => {
                app.data.plan = p.lines;
                app.data.plan_bytes = p.bytes;
            }
            Answer::Plan(Err(e)) => app.data.plan = vec![format!("could not measure: {e}")],
            Answer::RestoreFacts(r) => {
                app.set_restore_facts(r.unwrap_or_else(|e| vec![format!("could not measure: {e}")]))
            }
            Answer::Browse(msg) => app.on_browse(msg),
            Answer::Kept(msg) => app.on_kept(msg),
            Answer::Services(states) => {
                self.services_seen = states.clone();
                app.data.services = states;
            }
            Answer::Pinned(r) => {
                app.status = Some(r.unwrap_or_else(|e| e));
                self.look_at_repo(true);
                self.gather_listing();
            }
            Answer::Repo(look) => self.on_look(app, look),
            Answer::Source(found) => self.on_source(app, found),
            // Shown where it was asked for; a plan for a screen left is dropped.
            Answer::PrunePlan(Ok(rows)) if app.screen().kind() == ScreenKind::Generations => {
                app.status = None;
                app.show_prune_plan(rows);
            }
            // The repository changed under an open preview: its rows, afresh.
            Answer::PrunePlan(Ok(rows)) if app.screen().kind() == ScreenKind::PrunePreview => {
                app.status = None;
                app.replan_prune(rows);
            }
            Answer::PrunePlan(Ok(_)) => app.status = None,
            Answer::PrunePlan(Err(e)) => app.status = Some(e),
            Answer::Listing(l) => {
                self.offsite_seen = l.offsite;
                app.data.offsite = self.offsite_seen.clone();
            }
            Answer::Schedule(f) => app.set_schedule(f),
            Answer::ScheduleChanged(r) => {
                let effect = app.schedule_done(r);
                self.perform(app, effect);
            }
            Answer::Detected(inst, msg) => {
                self.inst = inst;
                app.set_data(self.data());
                self.apply(app, Answer::Recovery(msg));
            }
            Answer::Recovery(msg) => {
                // The opened source and the planned kept folders stay with the world.
                match &msg {
                    RecoveryMsg::Opened(Ok((store, _))) => {
                        self.recovery_from = Some(store.clone());
                        self.source_seen = None;
                        self.tasks.forget(super::world::Kind::RecoverySource);
                    }
                    RecoveryMsg::Planned(_, Ok(p)) => self.recovery_kept = p.kept.clone(),
                    _ => {}
                }
                app.on_recovery(msg);
            }
        }
    }

    /// The job ended: its screen shows how, what a verification found is kept,
    /// and a verification before a restore leads on to the restore's facts.
    fn job_done(&mut self, app: &mut App, r: Result<String, Failed>) {
        let restore_next = app
            .job()
            .filter(|j| j.kind == JobKind::VerifyForRestore && r.is_ok())
            .and_then(|j| j.id.clone());
        // What passed stands for the restore confirmed next (once, for that id).
        let began = self.verifying.take();
        if let (Some(id), Some((v, at))) = (&restore_next, began) {
            if v == *id {
                let passed = crate::ops::restore::Verified { at, ok: true };
                self.restore_verified = Some((v, passed));
            }
        }
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
        self.perform(app, effect);
        // The run just recorded how it ended: Home and the schedule say it now.
        self.gather_schedule();
        // A disaster recovery's confirmation has its facts from its plan already.
        let confirming = matches!(app.screen(), super::app::Screen::RestoreConfirm(_));
        if let Some(id) = restore_next.filter(|_| confirming) {
            self.gather(Answer::RestoreFacts, move |inst, repo| {
                facts::restore(inst, repo, &id)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Event;
    use crate::repo::generation::Repo;
    use crate::tui::app::Screen;
    use crate::tui::data::Data;
    use crate::tui::state::Effect;
    use crate::tui::world::{test_world, Kind};
    use std::time::{Duration, Instant};

    const LIMIT: Duration = Duration::from_secs(10);

    /// The wizard's loop takes in what a job of `kind` (on generation "g1"),
    /// started from `app`, sent: its `events`, then `end`.
    fn drained_into(
        mut app: App,
        kind: JobKind,
        events: Vec<Event>,
        end: Result<String, Failed>,
    ) -> (World, App) {
        let mut w = test_world();
        app.begin_job(kind, Some("g1".into()));
        w.tasks.start(
            Kind::Job,
            move |tell| {
                for e in events {
                    tell.send(Answer::Event(e));
                }
                Answer::Done(end)
            },
            |e| Answer::Done(Err(Failed::from(e))),
        );
        let deadline = Instant::now() + LIMIT;
        while w.job_running() {
            assert!(Instant::now() < deadline, "the job never ended");
            std::thread::sleep(Duration::from_millis(5));
            w.drain(&mut app);
        }
        (w, app)
    }

    #[test]
    fn the_prune_plan_is_worked_out_on_a_task() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path().join("repo"));
        repo.create().unwrap();
        let mut w = test_world();
        w.store = crate::repo::store::Store::Archive(repo);
        let mut app = App::new(Data::default());
        app.stack.push(Screen::Generations { sel: 0 });
        w.perform(&mut app, Effect::PlanPrune);
        assert!(w.tasks.running(Kind::Quick), "asked on a task");
        w.perform(&mut app, Effect::TogglePin("x".into()));
        assert!(app.status.as_deref().unwrap().contains("still being made"));
        let deadline = Instant::now() + LIMIT;
        while app.screen().kind() != ScreenKind::PrunePreview {
            assert!(Instant::now() < deadline, "no plan: {:?}", app.status);
            std::thread::sleep(Duration::from_millis(10));
            w.drain(&mut app);
        }
        assert!(!w.tasks.running(Kind::Quick));
    }

    #[test]
    fn what_a_verification_found_is_kept_until_one_passes() {
        let damage = vec!["g1: structr.tar.zst is damaged (sha256 00, expected ff)".to_string()];
        let failed = Err(Failed::damaged("g1", damage.clone()));
        let (_, app) = drained_into(App::new(Data::default()), JobKind::Verify, vec![], failed);
        assert_eq!(app.damage.get("g1"), Some(&damage));
        assert!(
            matches!(app.job().and_then(|j| j.outcome.clone()), Some(Err(m)) if m.contains("is damaged"))
        );
        // A verification that could not run (the lock was held) says nothing new.
        let locked = Err(Failed::from("the repository is locked".to_string()));
        let (_, app) = drained_into(app, JobKind::Verify, vec![], locked);
        assert_eq!(app.damage.get("g1"), Some(&damage));
        let passed = Ok("g1 is intact".into());
        let (_, app) = drained_into(app, JobKind::VerifyForRestore, vec![], passed);
        assert!(app.damage.is_empty(), "{:?}", app.damage);
    }

    #[test]
    fn a_finished_job_shows_its_events_and_its_outcome() {
        let events = vec![Event::Info("working".into())];
        let (w, app) = drained_into(
            App::new(Data::default()),
            JobKind::Backup,
            events,
            Ok("written".into()),
        );
        assert!(!w.job_running());
        let job = app.job().expect("the job's screen");
        assert_eq!(job.info, ["working"]);
        assert_eq!(job.outcome, Some(Ok("written".into())));
    }
}
