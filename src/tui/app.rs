//! The screen stack and the routing between screens: a key comes in, the
//! wizard-wide keys (Ctrl-C, q) are handled here, every other key goes to the
//! screen on top (each screen's state and keys live in a module named after
//! it), and its `Reply` moves the stack. An engine event or a task's answer
//! comes in through the loop and lands on the screen it is for. No I/O here,
//! so every transition is tested without a terminal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::backup_plan::PlanScreen;
use super::browse::{BrowseMsg, BrowseScreen};
use super::confirm::Confirm;
use super::data::{Data, ScheduleFacts};
use super::eta::Estimate;
use super::job::Job;
use super::kept::{KeptMsg, KeptRow};
use super::prune::{PruneRow, PruneScreen};
use super::recovery::{Recovery, RecoveryMsg};
use super::schedule::ScheduleScreen;
use super::scroll::Scroll;
use super::state::{Effect, Go, JobKind, Reply, ScreenKind, To};
use super::{generations, help, home, kept, keys, restore};
use crate::ops::Event;

#[derive(Clone, Debug)]
pub enum Screen {
    Home,
    BackupPlan(PlanScreen),
    Job(Box<Job>),
    Generations {
        sel: usize,
    },
    RestorePick {
        sel: usize,
    },
    RestoreConfirm(Confirm),
    DeleteConfirm(Confirm),
    PrunePreview(PruneScreen),
    Schedule(ScheduleScreen),
    /// The keys of the screen beneath it.
    Help(Scroll),
    /// What can be done with one generation (Enter on it in Generations).
    Actions {
        id: String,
        /// The highlighted entry.
        sel: usize,
    },
    /// The folders restores kept beside the targets (`App::kept`).
    Kept {
        sel: usize,
    },
    /// The typed confirmation of removing the kept folder at `path`.
    RemoveKept {
        confirm: Confirm,
        path: PathBuf,
    },
    /// A generation's contents, and how it differs from the live installation.
    Browse(Box<BrowseScreen>),
    /// The guided disaster recovery (see `recovery`).
    Recovery(Box<Recovery>),
    /// Its typed confirmation of the restore.
    RecoveryConfirm(Confirm),
    /// Asking before starting these services, found stopped, over Home.
    StartServices(Vec<String>),
}

impl Screen {
    pub fn kind(&self) -> ScreenKind {
        match self {
            Screen::Home => ScreenKind::Home,
            Screen::BackupPlan(_) => ScreenKind::BackupPlan,
            Screen::Job(j) if j.outcome.is_some() => ScreenKind::JobDone,
            Screen::Job(_) => ScreenKind::Job,
            Screen::Generations { .. } => ScreenKind::Generations,
            Screen::RestorePick { .. } => ScreenKind::RestorePick,
            Screen::RestoreConfirm(_)
            | Screen::DeleteConfirm(_)
            | Screen::RemoveKept { .. }
            | Screen::RecoveryConfirm(_) => ScreenKind::Confirm,
            Screen::Recovery(r) => r.kind(),
            Screen::PrunePreview(_) => ScreenKind::PrunePreview,
            Screen::Schedule(_) => ScreenKind::Schedule,
            Screen::Help(_) => ScreenKind::Help,
            Screen::Actions { .. } => ScreenKind::Actions,
            Screen::Kept { .. } => ScreenKind::Kept,
            Screen::Browse(b) => b.kind(),
            Screen::StartServices(_) => ScreenKind::StartServices,
        }
    }
}

pub struct App {
    pub data: Data,
    pub stack: Vec<Screen>,
    /// A one-line message shown above the footer (errors of quick actions).
    pub status: Option<String>,
    /// The nightly timer and the last run; None until first gathered.
    pub schedule: Option<ScheduleFacts>,
    /// Home's facts scroll when the terminal is too short for them.
    pub home_scroll: Scroll,
    /// What verifications in this session found wrong, by generation (the
    /// manifest records only that one failed).
    pub damage: BTreeMap<String, Vec<String>>,
    /// The folders restores kept beside the targets; None until first looked for.
    pub kept: Option<Vec<KeptRow>>,
}

impl App {
    pub fn new(data: Data) -> Self {
        App {
            data,
            stack: vec![Screen::Home],
            status: None,
            schedule: None,
            home_scroll: Scroll::default(),
            damage: BTreeMap::new(),
            kept: None,
        }
    }

    /// Takes fresh data; a list's selection stays on the generation it was on (a
    /// new backup at the top must not move the cursor onto another one), or,
    /// that one deleted, goes to the nearest older one (the next in the list).
    pub fn set_data(&mut self, data: Data) {
        let old: Vec<Option<String>> = self
            .stack
            .iter()
            .map(|s| match s {
                Screen::Generations { sel } | Screen::RestorePick { sel } => {
                    self.data.generations.get(*sel).map(|m| m.id.clone())
                }
                _ => None,
            })
            .collect();
        self.data = data;
        for (screen, id) in self.stack.iter_mut().zip(old) {
            if let Screen::Generations { sel } | Screen::RestorePick { sel } = screen {
                let ids = self.data.generations.iter().map(|m| m.id.as_str());
                *sel = keys::nearest(ids, id.as_deref(), *sel);
            }
        }
    }

    /// A verification of `id` ended: what it found (nothing: it passed).
    pub fn verified(&mut self, id: &str, problems: Vec<String>) {
        if problems.is_empty() {
            self.damage.remove(id);
        } else {
            self.damage.insert(id.to_string(), problems);
        }
    }

    pub fn screen(&self) -> &Screen {
        self.stack.last().unwrap_or(&Screen::Home)
    }

    fn screen_mut(&mut self) -> &mut Screen {
        if self.stack.is_empty() {
            self.stack.push(Screen::Home);
        }
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn back(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    pub fn job(&self) -> Option<&Job> {
        self.stack.iter().rev().find_map(|s| match s {
            Screen::Job(j) => Some(j.as_ref()),
            _ => None,
        })
    }

    fn job_mut(&mut self) -> Option<&mut Job> {
        self.stack.iter_mut().rev().find_map(|s| match s {
            Screen::Job(j) => Some(j.as_mut()),
            _ => None,
        })
    }

    /// A job runs when its screen shows no outcome yet.
    pub fn job_running(&self) -> bool {
        self.job().is_some_and(|j| j.outcome.is_none())
    }

    /// Opens the screen of a job of `kind` on generation `id`, with what the
    /// wizard knows it will move (tests start jobs so; keys through their effect).
    #[cfg(test)]
    pub fn begin_job(&mut self, kind: JobKind, id: Option<String>) {
        let estimate = Estimate::of(kind, id.as_deref(), &self.data, false);
        self.push_job(kind, id, estimate);
    }

    fn push_job(&mut self, kind: JobKind, id: Option<String>, estimate: Option<Estimate>) {
        let mut job = Job::new(kind, id);
        job.estimate = estimate;
        self.stack.push(Screen::Job(Box::new(job)));
    }

    /// The job `effect` starts, if it starts one, opens its screen.
    fn begin_job_of(&mut self, effect: &Effect) {
        let Some((kind, id)) = effect.job() else {
            return;
        };
        let estimate = match effect {
            // A kept folder's size is known to the kept list.
            Effect::RemoveKept(path) => self.kept_bytes(path).map(|bytes| Estimate {
                bytes,
                ..Estimate::default()
            }),
            Effect::Verify { deep, .. } => Estimate::of(kind, id.as_deref(), &self.data, *deep),
            _ => Estimate::of(kind, id.as_deref(), &self.data, false),
        };
        self.push_job(kind, id, estimate);
    }

    pub fn on_job_event(&mut self, ev: Event) {
        if let Some(j) = self.job_mut() {
            j.apply(ev);
        }
    }

    /// The job finished. A disaster recovery's restore goes on to its
    /// checklist; a successful verification before a restore moves on to the
    /// confirmation (the loop fills in the facts).
    pub fn on_job_done(&mut self, result: Result<String, String>) -> Effect {
        let Some(j) = self.job_mut() else {
            return Effect::Refresh;
        };
        j.finish(result.clone());
        let (kind, id) = (j.kind, j.id.clone());
        let n = self.stack.len();
        if n >= 2 && matches!(self.stack[n - 2], Screen::Recovery(_)) {
            // A failure stays on the job's screen.
            let Ok(summary) = &result else {
                return Effect::Refresh;
            };
            self.stack.pop();
            // Verified: the typed confirmation follows; restored: the checklist.
            if kind == JobKind::VerifyForRestore {
                let to = match self.stack.last() {
                    Some(Screen::Recovery(r)) => r.confirmation(),
                    _ => None,
                };
                if let Some(to) = to {
                    let screen = self.screen_for(to);
                    self.stack.push(screen);
                }
                return Effect::None;
            }
            if let Some(Screen::Recovery(r)) = self.stack.last_mut() {
                return r.restored(summary.clone());
            }
        }
        if kind == JobKind::VerifyForRestore && result.is_ok() {
            if let Some(id) = id {
                self.stack.pop();
                self.stack
                    .push(Screen::RestoreConfirm(Confirm::new(&id, Vec::new())));
            }
        }
        Effect::Refresh
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Effect {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c && self.job_running() {
            if let Some(j) = self.job_mut() {
                j.ask_cancel = true;
            }
            return Effect::None;
        }
        // Without a job, Ctrl-C is Esc (back) on every screen but Home, where it quits:
        // on a plan or a confirmation it must not end the whole wizard.
        if ctrl_c && self.stack.len() > 1 {
            return self.screen_key(KeyEvent::from(KeyCode::Esc));
        }
        if ctrl_c {
            return Effect::Quit;
        }
        self.status = None;
        // `q` leaves the wizard from any screen without a text field, once no job runs.
        let typing = matches!(
            self.screen().kind(),
            ScreenKind::Confirm
                | ScreenKind::Schedule
                | ScreenKind::BackupPlan
                | ScreenKind::BrowseSearch
                | ScreenKind::RecoveryInput
        );
        if key.code == KeyCode::Char('q') && !typing && !self.job_running() {
            return Effect::Quit;
        }
        self.screen_key(key)
    }

    /// Hands `key` to the screen on top and follows its reply.
    fn screen_key(&mut self, key: KeyEvent) -> Effect {
        let can_start = self.data.detect_error.is_none();
        let reply = match self.stack.last_mut() {
            None | Some(Screen::Home) => home::key(&mut self.home_scroll, key, &self.data),
            Some(Screen::BackupPlan(p)) => p.key(key, can_start),
            Some(Screen::Job(j)) => j.key(key),
            Some(Screen::Generations { sel }) => generations::key(sel, key, &self.data),
            Some(Screen::RestorePick { sel }) => restore::pick_key(sel, key, &self.data),
            Some(Screen::Actions { id, sel }) => generations::actions_key(id, sel, key, &self.data),
            Some(Screen::RestoreConfirm(c)) => c.key(key, Effect::StartRestore),
            Some(Screen::DeleteConfirm(c)) => c.key(key, Effect::Delete),
            Some(Screen::RecoveryConfirm(c)) => c.key(key, Effect::StartRecovery),
            Some(Screen::RemoveKept { confirm, path }) => {
                let path = path.clone();
                confirm.key(key, |_| Effect::RemoveKept(path))
            }
            Some(Screen::PrunePreview(p)) => p.key(key),
            Some(Screen::Schedule(sc)) => sc.key(key, self.schedule.as_ref().map(|s| &s.timer)),
            Some(Screen::Help(scroll)) => help::key(scroll, key),
            Some(Screen::Kept { sel }) => {
                kept::key(sel, key, self.kept.as_deref().unwrap_or_default())
            }
            Some(Screen::Browse(b)) => b.key(key),
            Some(Screen::Recovery(r)) => r.key(key),
            Some(Screen::StartServices(_)) => home::start_key(key),
        };
        self.follow(reply)
    }

    /// Moves the stack as `reply` says; a job's effect opens its screen.
    fn follow(&mut self, reply: Reply) -> Effect {
        match reply.go {
            Go::Stay => {}
            Go::Back => self.back(),
            Go::Open(to) => {
                let screen = self.screen_for(to);
                self.stack.push(screen);
            }
            Go::Replace(to) => {
                self.back();
                let screen = self.screen_for(to);
                self.stack.push(screen);
            }
            Go::Say(message) => self.status = Some(message),
            Go::Quit => return Effect::Quit,
        }
        self.begin_job_of(&reply.effect);
        reply.effect
    }

    /// The screen `to` names, as it opens.
    fn screen_for(&self, to: To) -> Screen {
        match to {
            To::Help => Screen::Help(Scroll::default()),
            To::BackupPlan => Screen::BackupPlan(PlanScreen::default()),
            To::RestorePick => Screen::RestorePick { sel: 0 },
            To::Generations => Screen::Generations { sel: 0 },
            To::Schedule => {
                let time = self.schedule.as_ref().and_then(ScheduleFacts::time);
                Screen::Schedule(ScheduleScreen::new(time))
            }
            To::Kept => Screen::Kept { sel: 0 },
            To::StartServices(names) => Screen::StartServices(names),
            To::Recovery => Screen::Recovery(Box::new(Recovery::new(self.data.recovery.clone()))),
            To::Actions(id) => Screen::Actions { id, sel: 0 },
            To::Browse(id) => Screen::Browse(Box::new(BrowseScreen::new(&id))),
            To::DeleteConfirm { id, facts } => Screen::DeleteConfirm(Confirm::new(&id, facts)),
            To::RemoveKept { name, path, facts } => Screen::RemoveKept {
                confirm: Confirm::new(&name, facts),
                path,
            },
            To::RecoveryConfirm { id, facts } => Screen::RecoveryConfirm(Confirm::new(&id, facts)),
        }
    }

    /// New facts about the schedule; an open schedule screen shows their time
    /// unless someone is typing a new one.
    pub fn set_schedule(&mut self, facts: ScheduleFacts) {
        let time = facts.time();
        self.schedule = Some(facts);
        for screen in &mut self.stack {
            if let Screen::Schedule(sc) = screen {
                sc.timer_says(time);
            }
        }
    }

    /// A schedule change finished: say how, and ask systemd again.
    pub fn schedule_done(&mut self, result: Result<String, String>) -> Effect {
        for screen in &mut self.stack {
            if let Screen::Schedule(sc) = screen {
                sc.changed();
            }
        }
        self.status = Some(result.unwrap_or_else(|e| e));
        Effect::RefreshSchedule
    }

    /// The loop computed what a restore will replace: show it on the confirmation.
    pub fn set_restore_facts(&mut self, facts: Vec<String>) {
        if let Screen::RestoreConfirm(c) = self.screen_mut() {
            c.facts = facts;
        }
    }

    pub fn show_prune_plan(&mut self, rows: Vec<PruneRow>) {
        self.stack
            .push(Screen::PrunePreview(PruneScreen::new(rows)));
    }

    /// Whether a prune preview is open (it is worked out again when the
    /// repository changes).
    pub fn pruning(&self) -> bool {
        self.stack
            .iter()
            .any(|s| matches!(s, Screen::PrunePreview(_)))
    }

    /// The prune preview afresh; its cursor stays on the generation it was on,
    /// and a question asked about the old rows is withdrawn.
    pub fn replan_prune(&mut self, rows: Vec<PruneRow>) {
        for screen in &mut self.stack {
            if let Screen::PrunePreview(p) = screen {
                let id = p.rows.get(p.sel).map(|r| r.id.clone());
                let sel = keys::nearest(rows.iter().map(|r| r.id.as_str()), id.as_deref(), p.sel);
                *p = PruneScreen::new(rows.clone());
                p.sel = sel;
            }
        }
    }

    /// Whether the disaster recovery's picker is on screen.
    pub fn picking_recovery(&self) -> bool {
        matches!(self.stack.last(), Some(Screen::Recovery(r)) if r.picking())
    }

    /// Whether a browse is open (its tasks may run).
    pub fn browsing(&self) -> bool {
        self.stack.iter().any(|s| matches!(s, Screen::Browse(_)))
    }

    /// What a browse's task reported, for the browse open.
    pub fn on_browse(&mut self, msg: BrowseMsg) {
        let open = self.stack.iter_mut().rev().find_map(|s| match s {
            Screen::Browse(b) => Some(b),
            _ => None,
        });
        if let Some(b) = open {
            b.apply(msg);
        }
    }

    /// What a recovery's task found, for the recovery open.
    pub fn on_recovery(&mut self, msg: RecoveryMsg) {
        let open = self.stack.iter_mut().rev().find_map(|s| match s {
            Screen::Recovery(r) => Some(r),
            _ => None,
        });
        if let Some(r) = open {
            r.on_msg(msg);
        }
    }

    /// Takes in what the task looking for kept folders reported.
    pub fn on_kept(&mut self, msg: KeptMsg) {
        match msg {
            KeptMsg::Found(rows) => self.set_kept(rows),
            KeptMsg::Measured(path, size) => {
                if let Some(r) = self.kept.iter_mut().flatten().find(|r| r.path == path) {
                    r.size = Some(size);
                }
            }
            KeptMsg::Failed(e) => {
                let unmeasured = self.kept.iter_mut().flatten().filter(|r| r.size.is_none());
                for r in unmeasured {
                    r.size = Some(Err(e.clone()));
                }
                self.status = Some(format!("looking for kept folders failed: {e}"));
            }
        }
    }

    /// A fresh list of kept folders; sizes already measured stay until measured
    /// again, and the selection stays in range.
    pub fn set_kept(&mut self, rows: Vec<KeptRow>) {
        let rows = kept::with_sizes_of(rows, self.kept.as_deref());
        let last = rows.len().saturating_sub(1);
        for screen in &mut self.stack {
            if let Screen::Kept { sel } = screen {
                *sel = (*sel).min(last);
            }
        }
        self.kept = Some(rows);
    }

    /// The bytes the kept folder at `path` holds, once measured.
    fn kept_bytes(&self, path: &Path) -> Option<u64> {
        self.kept
            .iter()
            .flatten()
            .find(|r| r.path == path)
            .and_then(KeptRow::bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::{app_with, key};

    #[test]
    fn the_selection_follows_the_generation_across_refreshes() {
        let mut app = app_with(&["20260102T000000Z", "20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        // A backup lands at the top while the user looks at the older one.
        let newer = app_with(&["20260103T000000Z", "20260102T000000Z", "20260101T000000Z"]);
        app.set_data(newer.data);
        assert!(matches!(app.screen(), Screen::Generations { sel: 2 }));
        // The selected one is deleted elsewhere: the selection stays in range.
        let fewer = app_with(&["20260103T000000Z"]);
        app.set_data(fewer.data);
        assert!(matches!(app.screen(), Screen::Generations { sel: 0 }));
    }

    #[test]
    fn a_deleted_generations_cursor_goes_to_the_next_older_not_to_its_old_row() {
        let mut app = app_with(&["20260103T000000Z", "20260102T000000Z", "20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        // Two backups elsewhere, and the selected one deleted.
        let after = app_with(&[
            "20260105T000000Z",
            "20260104T000000Z",
            "20260103T000000Z",
            "20260101T000000Z",
        ]);
        app.set_data(after.data);
        assert!(
            matches!(app.screen(), Screen::Generations { sel: 3 }),
            "on 20260101T000000Z, not on row 1 (20260104T000000Z)"
        );
    }

    #[test]
    fn ctrl_c_without_a_job_goes_back_and_quits_only_from_home() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('b')));
        assert_eq!(app.screen().kind(), ScreenKind::BackupPlan);
        assert_eq!(app.on_key(crate::tui::testing::ctrl_c()), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::Home, "back, not out");
        assert_eq!(app.on_key(crate::tui::testing::ctrl_c()), Effect::Quit);
    }

    #[test]
    fn q_quits_from_any_screen_but_not_while_typing_or_during_a_job() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Effect::Quit);
        app.on_key(key(KeyCode::Char('d')));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        assert_eq!(
            app.on_key(key(KeyCode::Char('q'))),
            Effect::None,
            "typed into the field"
        );
        let mut app = app_with(&[]);
        app.begin_job(JobKind::Backup, None);
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Effect::None);
    }
}
