//! The wizard's state and its transitions: a key or an engine event comes in, the
//! state changes, and an `Effect` says what the loop must do in the world. No I/O
//! here, so every transition is tested without a terminal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::install::schedule::{Change, LastRun, Status, TimeOfDay, DEFAULT_TIME};
use crate::install::ComponentSpec;
use crate::ops::journal::Record;
use crate::ops::Event;
use crate::repo::manifest::{Manifest, MAX_LABEL};

use super::browse::{BrowseScreen, Listing};
use super::eta::Estimate;
pub use super::job::{Job, JobKind, StepState};
use super::kept::KeptRow;
use super::recovery::{Offer, Recovery};
use super::scroll::Scroll;

/// What the wizard knows about the world; refreshed by the loop.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub kind: String,
    pub host: String,
    pub components: Vec<ComponentSpec>,
    /// Service name and whether it runs (None: unknown).
    pub services: Vec<(String, Option<bool>)>,
    pub notes: Vec<String>,
    pub detect_error: Option<String>,
    pub repo: String,
    pub free_bytes: Option<u64>,
    pub generations: Vec<Manifest>,
    pub interrupted: Option<Record>,
    /// Facts for the backup plan screen: source sizes and expected downtime.
    pub plan: Vec<String>,
    /// What the backup will read, once measured (for the whole job's ETA).
    pub plan_bytes: Option<u64>,
    /// Each `[[offsite]]` target as last listed (on a thread); empty until then.
    pub offsite: Vec<OffsiteState>,
    /// The retention policy in words, for the prune screen.
    pub policy: String,
    /// Whether the generations' files can be browsed (their file indexes are
    /// files of an archive repository; a restic one keeps them in snapshots).
    pub browsable: bool,
    /// Whether Home offers the disaster recovery, and its off-site sources.
    pub recovery: Offer,
}

/// An off-site target and the generations found there.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsiteState {
    pub name: String,
    pub location: String,
    /// The ids there, newest first, or why they could not be listed.
    pub ids: Result<Vec<String>, String>,
}

impl Data {
    /// The off-site targets that hold generation `id`, and those that do not.
    pub fn copies_of(&self, id: &str) -> (Vec<&str>, Vec<&str>) {
        let (mut have, mut lack) = (vec![], vec![]);
        for o in &self.offsite {
            match &o.ids {
                Ok(ids) if ids.iter().any(|i| i == id) => have.push(o.name.as_str()),
                _ => lack.push(o.name.as_str()),
            }
        }
        (have, lack)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Cancel,
    Confirm,
}

/// A typed confirmation: the user types `id`, moves focus to the confirm button
/// (focus starts on Cancel) and presses Enter.
#[derive(Clone, Debug)]
pub struct Confirm {
    pub id: String,
    pub typed: String,
    pub focus: Focus,
    /// What will happen, one fact per line.
    pub facts: Vec<String>,
    /// The facts scroll when they do not fit above the field.
    pub scroll: Scroll,
}

impl Confirm {
    pub fn new(id: &str, facts: Vec<String>) -> Self {
        Confirm {
            id: id.to_string(),
            typed: String::new(),
            focus: Focus::Cancel,
            facts,
            scroll: Scroll::default(),
        }
    }

    pub fn armed(&self) -> bool {
        self.typed == self.id
    }
}

/// What systemd says about the nightly timer.
#[derive(Clone, Debug, PartialEq)]
pub enum Timer {
    Known(Status),
    NotInstalled,
    /// systemctl failed (no systemd, say): why.
    Unavailable(String),
}

/// The schedule as last gathered (on a thread: systemctl may be slow).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleFacts {
    pub timer: Timer,
    /// The last run's record; None when no run recorded one yet.
    pub last: Result<Option<LastRun>, String>,
}

impl ScheduleFacts {
    pub fn time(&self) -> Option<TimeOfDay> {
        match &self.timer {
            Timer::Known(s) => s.time,
            _ => None,
        }
    }
}

/// A change of the schedule, asked for on its screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleAction {
    Enable(TimeOfDay),
    Disable,
    SetTime(TimeOfDay),
}

impl ScheduleAction {
    pub fn change(self) -> Change {
        match self {
            ScheduleAction::Enable(t) => Change {
                at: Some(t),
                enable: Some(true),
            },
            ScheduleAction::Disable => Change {
                at: None,
                enable: Some(false),
            },
            ScheduleAction::SetTime(t) => Change {
                at: Some(t),
                enable: None,
            },
        }
    }
}

/// The schedule screen: the time field, a pending confirmation, a running change.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleScreen {
    /// The HH:MM field as typed.
    pub time: String,
    /// Typed into since it opened: new facts no longer overwrite it.
    pub edited: bool,
    pub confirm: Option<(ScheduleAction, Focus)>,
    pub busy: bool,
}

impl ScheduleScreen {
    pub fn new(time: Option<TimeOfDay>) -> Self {
        ScheduleScreen {
            time: time.unwrap_or(DEFAULT_TIME).to_string(),
            edited: false,
            confirm: None,
            busy: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PruneRow {
    pub id: String,
    pub created: String,
    pub keep: bool,
    pub reasons: String,
    /// Bytes its archives take in the repository (what deleting it frees).
    pub size: u64,
    /// Its label (`pre-restore` marks a restore's safety backup).
    pub label: String,
}

/// The backup plan: what will happen, before anything stops, and the label the
/// new generation gets.
#[derive(Clone, Debug, Default)]
pub struct PlanScreen {
    pub scroll: Scroll,
    pub label: String,
}

impl PlanScreen {
    /// Adds a typed character to the label: printable ones only, and no more
    /// than a label may hold (the rest would be cut when it is read back).
    pub fn type_char(&mut self, c: char) {
        if !crate::text::is_unprintable(c) && self.label.chars().count() < MAX_LABEL {
            self.label.push(c);
        }
    }
}

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
    PrunePreview {
        rows: Vec<PruneRow>,
        sel: usize,
        confirm: Option<Focus>,
    },
    Schedule(ScheduleScreen),
    /// The keys of the screen beneath it.
    Help(Scroll),
    /// What can be done with one generation (Enter on it in Generations).
    Actions {
        id: String,
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
}

/// Screen families, for the key table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenKind {
    Home,
    BackupPlan,
    Job,
    /// A job's screen once it ended.
    JobDone,
    Generations,
    RestorePick,
    Confirm,
    PrunePreview,
    Schedule,
    Help,
    Actions,
    Kept,
    /// A generation's contents; while a search is typed; its differences.
    Browse,
    BrowseSearch,
    BrowseDiff,
    /// The disaster recovery's stages; a field typed on its first.
    RecoverySource,
    RecoveryInput,
    RecoveryPick,
    RecoveryPlan,
    RecoveryChecklist,
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
            Screen::PrunePreview { .. } => ScreenKind::PrunePreview,
            Screen::Schedule(_) => ScreenKind::Schedule,
            Screen::Help(_) => ScreenKind::Help,
            Screen::Actions { .. } => ScreenKind::Actions,
            Screen::Kept { .. } => ScreenKind::Kept,
            Screen::Browse(b) if b.searching => ScreenKind::BrowseSearch,
            Screen::Browse(b) if b.showing == Listing::Differences => ScreenKind::BrowseDiff,
            Screen::Browse(_) => ScreenKind::Browse,
        }
    }
}

/// What the loop must do after a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Quit,
    Refresh,
    /// Measure the sources for the plan screen.
    PlanBackup,
    /// Back up now, the new generation labelled so (sanitized, maybe empty).
    StartBackup {
        label: String,
    },
    VerifyBeforeRestore(String),
    StartRestore(String),
    Verify {
        id: String,
        deep: bool,
    },
    TogglePin(String),
    Delete(String),
    PlanPrune,
    StartPrune,
    Recover,
    CancelJob,
    /// Ask systemd about the timer again.
    RefreshSchedule,
    /// Change the schedule (runs systemctl off the UI thread).
    Schedule(Change),
    /// Look for the folders restores kept, and measure them (on a thread).
    FindKept,
    /// Remove the kept folder at this path (a job).
    RemoveKept(PathBuf),
    /// List a generation's entries and read their mtimes (on a thread).
    Browse(String),
    /// Compare a generation with the live installation (on a thread).
    Compare(String),
    /// Open a disaster recovery's source and list it (on a thread).
    OpenRecoverySource(super::recovery::SourceSpec),
    /// Work out what restoring this generation of the source does here.
    RecoveryPlan(String),
    /// Restore this generation of the source (a job).
    StartRecovery(String),
    /// Look at the services and Structr's port afresh; `start` the stopped ones first.
    RecoveryCheck {
        start: bool,
    },
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
    /// new backup at the top must not move the cursor onto another one).
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
        let last = self.data.generations.len().saturating_sub(1);
        for (screen, id) in self.stack.iter_mut().zip(old) {
            if let Screen::Generations { sel } | Screen::RestorePick { sel } = screen {
                *sel = id
                    .and_then(|id| self.data.generations.iter().position(|m| m.id == id))
                    .unwrap_or((*sel).min(last));
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

    pub(super) fn screen_mut(&mut self) -> &mut Screen {
        if self.stack.is_empty() {
            self.stack.push(Screen::Home);
        }
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    pub(super) fn back(&mut self) {
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

    pub(super) fn job_mut(&mut self) -> Option<&mut Job> {
        self.stack.iter_mut().rev().find_map(|s| match s {
            Screen::Job(j) => Some(j.as_mut()),
            _ => None,
        })
    }

    /// A job runs when its screen shows no outcome yet.
    pub fn job_running(&self) -> bool {
        self.job().is_some_and(|j| j.outcome.is_none())
    }

    pub fn begin_job(&mut self, kind: JobKind, id: Option<String>) {
        let mut job = Job::new(kind, id);
        job.estimate = Estimate::of(kind, job.id.as_deref(), &self.data, false);
        self.stack.push(Screen::Job(Box::new(job)));
    }

    pub fn on_job_event(&mut self, ev: Event) {
        if let Some(j) = self.job_mut() {
            j.apply(ev);
        }
    }

    /// The job finished; a successful verification before a restore moves on to
    /// the confirmation (the loop fills in the facts).
    pub fn on_job_done(&mut self, result: Result<String, String>) -> Effect {
        let Some(j) = self.job_mut() else {
            return Effect::Refresh;
        };
        j.finish(result.clone());
        let (kind, id) = (j.kind, j.id.clone());
        if let Some(effect) = self.recovery_job_done(&result) {
            return effect;
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
        match self.screen().kind() {
            ScreenKind::Home => self.home_key(key),
            ScreenKind::BackupPlan => self.plan_key(key),
            ScreenKind::Job | ScreenKind::JobDone => self.job_key(key),
            ScreenKind::Generations => self.list_key(key, false),
            ScreenKind::RestorePick => self.list_key(key, true),
            ScreenKind::Confirm => on_confirm_key(self, key),
            ScreenKind::PrunePreview => self.prune_key(key),
            ScreenKind::Schedule => self.schedule_key(key),
            ScreenKind::Actions => self.actions_key(key),
            ScreenKind::Kept => self.kept_key(key),
            ScreenKind::Browse | ScreenKind::BrowseSearch | ScreenKind::BrowseDiff => {
                self.browse_key(key)
            }
            ScreenKind::RecoverySource
            | ScreenKind::RecoveryInput
            | ScreenKind::RecoveryPick
            | ScreenKind::RecoveryPlan
            | ScreenKind::RecoveryChecklist => self.recovery_key(key),
            ScreenKind::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    self.back();
                } else if let Screen::Help(scroll) = self.screen_mut() {
                    scroll.on_key(key.code, true);
                }
                Effect::None
            }
        }
    }

    fn home_key(&mut self, key: KeyEvent) -> Effect {
        match key.code {
            KeyCode::Char('q') => Effect::Quit,
            KeyCode::Char('b') => {
                self.stack.push(Screen::BackupPlan(PlanScreen::default()));
                Effect::PlanBackup
            }
            KeyCode::Char('r') => {
                self.stack.push(Screen::RestorePick { sel: 0 });
                Effect::None
            }
            KeyCode::Char('g') => {
                self.stack.push(Screen::Generations { sel: 0 });
                Effect::None
            }
            KeyCode::Char('s') => {
                let time = self.schedule.as_ref().and_then(ScheduleFacts::time);
                self.stack.push(Screen::Schedule(ScheduleScreen::new(time)));
                Effect::RefreshSchedule
            }
            KeyCode::Char('k') => {
                self.stack.push(Screen::Kept { sel: 0 });
                Effect::FindKept
            }
            KeyCode::Char('D') => self.open_recovery(),
            KeyCode::Char('R') if self.data.interrupted.is_some() => {
                self.begin_job(JobKind::Recover, None);
                Effect::Recover
            }
            KeyCode::Char('?') => self.help(),
            code => {
                self.home_scroll.on_key(code, true);
                Effect::None
            }
        }
    }

    /// The backup plan: letters type the label, Enter starts, the arrows scroll.
    fn plan_key(&mut self, key: KeyEvent) -> Effect {
        let can_start = self.data.detect_error.is_none();
        let Screen::BackupPlan(p) = self.screen_mut() else {
            return Effect::None;
        };
        match key.code {
            KeyCode::Enter if can_start => {
                let label = p.label.trim().to_string();
                self.stack.pop();
                self.begin_job(JobKind::Backup, None);
                Effect::StartBackup { label }
            }
            KeyCode::Esc => {
                self.back();
                Effect::None
            }
            // No label needs a `?` more than the help does.
            KeyCode::Char('?') => self.help(),
            KeyCode::Char(c) => {
                p.type_char(c);
                Effect::None
            }
            KeyCode::Backspace => {
                p.label.pop();
                Effect::None
            }
            code => {
                p.scroll.on_key(code, false);
                Effect::None
            }
        }
    }

    fn job_key(&mut self, key: KeyEvent) -> Effect {
        let Screen::Job(j) = self.screen_mut() else {
            return Effect::None;
        };
        if j.ask_cancel {
            j.ask_cancel = false;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                j.cancel_requested = true;
                return Effect::CancelJob;
            }
            return Effect::None;
        }
        let done = j.outcome.is_some();
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') if done => {
                // Back past the job to the screen that started it.
                self.back();
                Effect::Refresh
            }
            KeyCode::Char('?') => self.help(),
            _ => Effect::None,
        }
    }

    fn list_key(&mut self, key: KeyEvent, restore: bool) -> Effect {
        let count = self.data.generations.len();
        let (Screen::Generations { sel } | Screen::RestorePick { sel }) = self.screen_mut() else {
            return Effect::None;
        };
        *sel = moved(*sel, count, key.code);
        let sel = *sel;
        let id = self.data.generations.get(sel).map(|m| m.id.clone());
        match (key.code, id) {
            (KeyCode::Esc, _) => {
                self.back();
                Effect::None
            }
            (KeyCode::Char('?'), _) => self.help(),
            (KeyCode::Enter, Some(id)) if restore => {
                self.begin_job(JobKind::VerifyForRestore, Some(id.clone()));
                Effect::VerifyBeforeRestore(id)
            }
            (KeyCode::Char(c @ ('v' | 'V')), Some(id)) if !restore => {
                let estimate = Estimate::of(JobKind::Verify, Some(&id), &self.data, c == 'V');
                self.begin_job(JobKind::Verify, Some(id.clone()));
                if let Some(j) = self.job_mut() {
                    j.estimate = estimate;
                }
                Effect::Verify { id, deep: c == 'V' }
            }
            (KeyCode::Enter, Some(id)) if !restore => {
                self.stack.push(Screen::Actions { id });
                Effect::None
            }
            (KeyCode::Char('p'), Some(id)) if !restore => Effect::TogglePin(id),
            (KeyCode::Char('f'), Some(id)) if !restore && self.data.browsable => self.browse(id),
            (KeyCode::Char('d'), Some(id)) if !restore && self.is_pinned(&id) => {
                self.status = Some(format!(
                    "{id} is pinned: press p to unpin it, then d to delete it"
                ));
                Effect::None
            }
            (KeyCode::Char('d'), Some(id)) if !restore => {
                let facts = vec![format!(
                    "Generation {id} will be deleted from the repository for good."
                )];
                self.stack
                    .push(Screen::DeleteConfirm(Confirm::new(&id, facts)));
                Effect::None
            }
            (KeyCode::Char('P'), _) if !restore => Effect::PlanPrune,
            _ => Effect::None,
        }
    }

    /// The actions menu: each key does what it does on the list beneath (whose
    /// selection is this generation), `r` starts the restore of it.
    fn actions_key(&mut self, key: KeyEvent) -> Effect {
        let Screen::Actions { id } = self.screen() else {
            return Effect::None;
        };
        let id = id.clone();
        match key.code {
            KeyCode::Esc => {
                self.back();
                Effect::None
            }
            KeyCode::Char('?') => self.help(),
            KeyCode::Char('r') => {
                self.stack.pop();
                self.begin_job(JobKind::VerifyForRestore, Some(id.clone()));
                Effect::VerifyBeforeRestore(id)
            }
            KeyCode::Char('v' | 'V' | 'p' | 'd' | 'f') => {
                self.stack.pop();
                self.list_key(key, false)
            }
            _ => Effect::None,
        }
    }

    fn is_pinned(&self, id: &str) -> bool {
        self.data.generations.iter().any(|m| m.id == id && m.pinned)
    }

    fn prune_key(&mut self, key: KeyEvent) -> Effect {
        if key.code == KeyCode::Char('?') {
            return self.help();
        }
        let Screen::PrunePreview { rows, sel, confirm } = self.screen_mut() else {
            return Effect::None;
        };
        match (confirm.as_mut(), key.code) {
            (Some(f), KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right) => {
                *f = if *f == Focus::Cancel {
                    Focus::Confirm
                } else {
                    Focus::Cancel
                };
                Effect::None
            }
            (Some(Focus::Confirm), KeyCode::Enter) => {
                self.stack.pop();
                self.begin_job(JobKind::Prune, None);
                Effect::StartPrune
            }
            (Some(_), KeyCode::Enter | KeyCode::Esc) => {
                *confirm = None;
                Effect::None
            }
            (None, code) if is_movement(code) => {
                *sel = moved(*sel, rows.len(), code);
                Effect::None
            }
            (None, KeyCode::Enter) if rows.iter().any(|r| !r.keep) => {
                *confirm = Some(Focus::Cancel);
                Effect::None
            }
            (None, KeyCode::Esc) => {
                self.back();
                Effect::None
            }
            _ => Effect::None,
        }
    }

    fn schedule_key(&mut self, key: KeyEvent) -> Effect {
        let Screen::Schedule(sc) = self.screen_mut() else {
            return Effect::None;
        };
        if let Some((action, focus)) = sc.confirm.as_mut() {
            match key.code {
                KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                    *focus = if *focus == Focus::Cancel {
                        Focus::Confirm
                    } else {
                        Focus::Cancel
                    };
                }
                KeyCode::Enter if *focus == Focus::Confirm => {
                    let change = action.change();
                    sc.confirm = None;
                    sc.busy = true;
                    return Effect::Schedule(change);
                }
                KeyCode::Enter | KeyCode::Esc => sc.confirm = None,
                _ => {}
            }
            return Effect::None;
        }
        // One change at a time: systemctl is still at work on the last one.
        if sc.busy && !matches!(key.code, KeyCode::Esc | KeyCode::Char('?')) {
            return Effect::None;
        }
        let time = sc.time.parse::<TimeOfDay>();
        let ask = |sc: &mut ScheduleScreen, action| sc.confirm = Some((action, Focus::Cancel));
        match key.code {
            KeyCode::Char(c @ ('0'..='9' | ':')) if sc.time.len() < 5 => {
                sc.time.push(c);
                sc.edited = true;
            }
            KeyCode::Backspace => {
                sc.time.pop();
                sc.edited = true;
            }
            KeyCode::Enter | KeyCode::Char('e') => match time {
                Ok(t) if key.code == KeyCode::Enter => ask(sc, ScheduleAction::SetTime(t)),
                Ok(t) => ask(sc, ScheduleAction::Enable(t)),
                Err(e) => self.status = Some(e),
            },
            KeyCode::Char('d') => ask(sc, ScheduleAction::Disable),
            KeyCode::Esc => self.back(),
            KeyCode::Char('?') => return self.help(),
            _ => {}
        }
        Effect::None
    }

    /// New facts about the schedule; an open schedule screen shows their time
    /// unless someone is typing a new one.
    pub fn set_schedule(&mut self, facts: ScheduleFacts) {
        let time = facts.time();
        self.schedule = Some(facts);
        for screen in &mut self.stack {
            if let Screen::Schedule(sc) = screen {
                if !sc.edited {
                    *sc = ScheduleScreen {
                        time: time.unwrap_or(DEFAULT_TIME).to_string(),
                        ..sc.clone()
                    };
                }
            }
        }
    }

    /// A schedule change finished: say how, and ask systemd again.
    pub fn schedule_done(&mut self, result: Result<String, String>) -> Effect {
        for screen in &mut self.stack {
            if let Screen::Schedule(sc) = screen {
                sc.busy = false;
                sc.edited = false;
            }
        }
        self.status = Some(result.unwrap_or_else(|e| e));
        Effect::RefreshSchedule
    }

    pub(super) fn help(&mut self) -> Effect {
        self.stack.push(Screen::Help(Scroll::default()));
        Effect::None
    }

    /// The loop computed what a restore will replace: show it on the confirmation.
    pub fn set_restore_facts(&mut self, facts: Vec<String>) {
        if let Screen::RestoreConfirm(c) = self.screen_mut() {
            c.facts = facts;
        }
    }

    pub fn show_prune_plan(&mut self, rows: Vec<PruneRow>) {
        self.stack.push(Screen::PrunePreview {
            rows,
            sel: 0,
            confirm: None,
        });
    }
}

/// Rows a page key moves: about a screen at the documented minimum size.
const PAGE: usize = 10;

pub(super) fn is_movement(code: KeyCode) -> bool {
    matches!(
        code,
        KeyCode::Up
            | KeyCode::Down
            | KeyCode::Char('j' | 'k')
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::PageUp
            | KeyCode::PageDown
    )
}

/// The selection after a movement key in a list of `count` rows (other keys keep it):
/// arrows and j/k move one row, PgUp/PgDn a page, Home/End to the ends.
pub(super) fn moved(sel: usize, count: usize, code: KeyCode) -> usize {
    let last = count.saturating_sub(1);
    match code {
        KeyCode::Up | KeyCode::Char('k') => sel.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (sel + 1).min(last),
        KeyCode::PageUp => sel.saturating_sub(PAGE),
        KeyCode::PageDown => (sel + PAGE).min(last),
        KeyCode::Home => 0,
        KeyCode::End => last,
        _ => sel.min(last),
    }
}

fn on_confirm_key(app: &mut App, key: KeyEvent) -> Effect {
    // No id holds a `?`: it opens the help here too.
    if key.code == KeyCode::Char('?') {
        return app.help();
    }
    let restore = matches!(app.screen(), Screen::RestoreConfirm(_));
    let recovery = matches!(app.screen(), Screen::RecoveryConfirm(_));
    let kept = match app.screen() {
        Screen::RemoveKept { path, .. } => Some(path.clone()),
        _ => None,
    };
    let (Screen::RestoreConfirm(c)
    | Screen::DeleteConfirm(c)
    | Screen::RemoveKept { confirm: c, .. }
    | Screen::RecoveryConfirm(c)) = app.screen_mut()
    else {
        return Effect::None;
    };
    match key.code {
        KeyCode::Esc => {
            app.back();
            Effect::None
        }
        KeyCode::Tab | KeyCode::BackTab => {
            c.focus = if c.focus == Focus::Cancel {
                Focus::Confirm
            } else {
                Focus::Cancel
            };
            Effect::None
        }
        // Letters are typed: the arrows and page keys scroll the facts.
        KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown => {
            c.scroll.on_key(key.code, false);
            Effect::None
        }
        // Typing the id exactly moves the focus to the action, so Enter then does
        // what the user just confirmed; a change that breaks the match moves it back.
        KeyCode::Backspace | KeyCode::Char(_) => {
            match key.code {
                KeyCode::Char(ch) => c.typed.push(ch),
                _ => {
                    c.typed.pop();
                }
            }
            c.focus = if c.armed() {
                Focus::Confirm
            } else {
                Focus::Cancel
            };
            Effect::None
        }
        KeyCode::Enter if c.focus == Focus::Cancel => {
            app.back();
            Effect::None
        }
        KeyCode::Enter if c.armed() => {
            let id = c.id.clone();
            app.stack.pop();
            if let Some(path) = kept {
                app.begin_job(JobKind::RemoveKept, Some(id));
                app.expect_removal(&path);
                Effect::RemoveKept(path)
            } else if recovery {
                app.start_recovery(id)
            } else if restore {
                // Back to the picker after the job, not to a stale confirmation.
                app.begin_job(JobKind::Restore, Some(id.clone()));
                Effect::StartRestore(id)
            } else {
                // Removing a large generation takes a while: a job, off the UI thread.
                app.begin_job(JobKind::Delete, Some(id.clone()));
                Effect::Delete(id)
            }
        }
        KeyCode::Enter => {
            app.status = Some(format!("type {} exactly to confirm", c.id));
            Effect::None
        }
        _ => Effect::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Step;
    use ratatui::crossterm::event::KeyEventKind;
    use std::time::{Duration, Instant};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new_with_kind(c, KeyModifiers::NONE, KeyEventKind::Press)
    }

    fn ctrl_c() -> KeyEvent {
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
    }

    fn app_with(ids: &[&str]) -> App {
        let generations = ids
            .iter()
            .map(|id| Manifest::bare(id, chrono::Utc::now()))
            .collect();
        App::new(Data {
            generations,
            ..Data::default()
        })
    }

    fn type_text(app: &mut App, s: &str) {
        for ch in s.chars() {
            app.on_key(key(KeyCode::Char(ch)));
        }
    }

    #[test]
    fn backup_goes_plan_then_job_and_back_home() {
        let mut app = app_with(&[]);
        assert_eq!(app.on_key(key(KeyCode::Char('b'))), Effect::PlanBackup);
        assert_eq!(app.screen().kind(), ScreenKind::BackupPlan);
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartBackup {
                label: String::new()
            }
        );
        assert!(app.job_running());
        assert_eq!(
            app.on_key(key(KeyCode::Esc)),
            Effect::None,
            "no leaving a running job"
        );
        app.on_job_done(Ok("done".into()));
        assert_eq!(app.on_key(key(KeyCode::Esc)), Effect::Refresh);
        assert_eq!(app.screen().kind(), ScreenKind::Home);
    }

    #[test]
    fn the_plan_takes_a_label_typed_before_the_backup_starts() {
        let mut app = app_with(&[]);
        app.on_key(key(KeyCode::Char('b')));
        // q is a letter of the label here, not quit; control characters are dropped.
        type_text(&mut app, " before quarterly\u{1b}[2J upgrade ");
        app.on_key(key(KeyCode::Backspace));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartBackup {
                label: "before quarterly[2J upgrade".into()
            },
            "trimmed, without the escape"
        );
        let mut app = app_with(&[]);
        app.on_key(key(KeyCode::Char('b')));
        type_text(&mut app, &"x".repeat(250));
        let Effect::StartBackup { label } = app.on_key(key(KeyCode::Enter)) else {
            panic!("no backup")
        };
        assert_eq!(label.chars().count(), MAX_LABEL, "at most 200 characters");
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
    fn restore_needs_verification_then_the_typed_id_and_focus_on_confirm() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('r')));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::VerifyBeforeRestore("20260101T000000Z".into())
        );
        app.on_job_done(Ok("verified".into()));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        // Focus starts on Cancel: Enter before the id is typed cancels.
        type_text(&mut app, "2026");
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
        // Again, with focus moved but a wrong id: refused with a hint.
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "2026");
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert!(app
            .status
            .as_deref()
            .unwrap()
            .contains("type 20260101T000000Z"));
        // Typing the rest of the id moves the focus to Restore: Enter restores.
        type_text(&mut app, "0101T000000Z");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartRestore("20260101T000000Z".into())
        );
        assert_eq!(app.screen().kind(), ScreenKind::Job);
    }

    #[test]
    fn the_typed_id_moves_the_focus_to_the_action_and_back() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('r')));
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "20260101T000000Z");
        app.on_key(key(KeyCode::Backspace));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::None,
            "no longer the id: focus back on Cancel"
        );
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "20260101T000000Z");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartRestore("20260101T000000Z".into()),
            "typed, then Enter: restored"
        );
    }

    #[test]
    fn a_failed_verification_stops_the_restore() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('r')));
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Err("damaged".into()));
        assert_eq!(
            app.screen().kind(),
            ScreenKind::JobDone,
            "the failure stays on screen"
        );
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
    }

    #[test]
    fn lists_move_with_the_keys_people_expect() {
        let ids: Vec<String> = (0..25)
            .map(|i| format!("202601{:02}T000000Z", i + 1))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut app = app_with(&refs);
        app.on_key(key(KeyCode::Char('g')));
        let sel = |app: &App| match app.screen() {
            Screen::Generations { sel } => *sel,
            _ => usize::MAX,
        };
        for (k, want) in [
            (KeyCode::Char('j'), 1),
            (KeyCode::Char('j'), 2),
            (KeyCode::Char('k'), 1),
            (KeyCode::PageDown, 11),
            (KeyCode::End, 24),
            (KeyCode::PageDown, 24),
            (KeyCode::PageUp, 14),
            (KeyCode::Home, 0),
            (KeyCode::Up, 0),
        ] {
            app.on_key(key(k));
            assert_eq!(sel(&app), want, "after {k:?}");
        }
    }

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
    fn enter_on_a_generation_opens_its_actions() {
        let mut app = app_with(&["20260102T000000Z", "20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.screen().kind(), ScreenKind::Actions);
        assert_eq!(
            app.on_key(key(KeyCode::Char('p'))),
            Effect::TogglePin("20260101T000000Z".into())
        );
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.on_key(key(KeyCode::Char('r'))),
            Effect::VerifyBeforeRestore("20260101T000000Z".into())
        );
        app.on_job_done(Ok("verified".into()));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        app.on_key(key(KeyCode::Esc));
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(
            app.screen().kind(),
            ScreenKind::Generations,
            "Esc closes the menu"
        );
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

    #[test]
    fn deleting_a_pinned_generation_says_to_unpin_first() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.data.generations[0].pinned = true;
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(app.on_key(key(KeyCode::Char('d'))), Effect::None);
        assert_eq!(
            app.screen().kind(),
            ScreenKind::Generations,
            "no id asked for"
        );
        assert!(app.status.as_deref().unwrap().contains("press p to unpin"));
    }

    #[test]
    fn delete_needs_the_typed_id() {
        let mut app = app_with(&["20260101T000000Z", "20250101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Char('d')));
        type_text(&mut app, "20250101T000000Z");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Delete("20250101T000000Z".into())
        );
        assert_eq!(
            app.screen().kind(),
            ScreenKind::Job,
            "deleting runs as a job"
        );
        app.on_job_done(Ok("deleted".into()));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
    }

    #[test]
    fn prune_preview_confirms_with_focus_starting_on_cancel() {
        let mut app = app_with(&["a"]);
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(app.on_key(key(KeyCode::Char('P'))), Effect::PlanPrune);
        app.show_prune_plan(vec![PruneRow {
            id: "a".into(),
            created: String::new(),
            keep: false,
            reasons: String::new(),
            size: 0,
            label: String::new(),
        }]);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::None,
            "Enter on Cancel closes the question"
        );
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::StartPrune);
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
    fn recover_only_when_something_is_down() {
        let mut app = app_with(&[]);
        assert_eq!(app.on_key(key(KeyCode::Char('R'))), Effect::None);
        app.data.interrupted = Some(Record {
            pid: 1,
            host: "h".into(),
            operation: "backup".into(),
            started_at: chrono::Utc::now(),
            targets: vec![],
            stopped: vec!["structr".into()],
            failed_start: None,
            swaps: vec![],
        });
        assert_eq!(app.on_key(key(KeyCode::Char('R'))), Effect::Recover);
    }

    #[test]
    fn schedule_changes_need_a_valid_time_and_an_explicit_yes() {
        let mut app = app_with(&[]);
        assert_eq!(app.on_key(key(KeyCode::Char('s'))), Effect::RefreshSchedule);
        assert_eq!(app.screen().kind(), ScreenKind::Schedule);
        // A bad time is refused with a hint, nothing is asked.
        for _ in 0..5 {
            app.on_key(key(KeyCode::Backspace));
        }
        type_text(&mut app, "25:00");
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert!(app.status.as_deref().unwrap().contains("HH:MM"));
        let Screen::Schedule(sc) = app.screen() else {
            panic!()
        };
        assert!(sc.confirm.is_none());
        // Facts arriving later do not overwrite what is being typed.
        for _ in 0..5 {
            app.on_key(key(KeyCode::Backspace));
        }
        type_text(&mut app, "04:30");
        app.set_schedule(ScheduleFacts {
            timer: Timer::NotInstalled,
            last: Ok(None),
        });
        // Focus starts on Cancel: Enter cancels.
        app.on_key(key(KeyCode::Char('e')));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        app.on_key(key(KeyCode::Char('e')));
        app.on_key(key(KeyCode::Tab));
        let at = Some(TimeOfDay {
            hour: 4,
            minute: 30,
        });
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Schedule(Change {
                at,
                enable: Some(true)
            })
        );
        // Busy: no second change until the first reports.
        assert_eq!(app.on_key(key(KeyCode::Char('d'))), Effect::None);
        assert_eq!(
            app.schedule_done(Ok("enabled".into())),
            Effect::RefreshSchedule
        );
        app.on_key(key(KeyCode::Char('d')));
        app.on_key(key(KeyCode::Right));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Schedule(Change {
                at: None,
                enable: Some(false)
            })
        );
        app.schedule_done(Err("needs root".into()));
        assert_eq!(app.status.as_deref(), Some("needs root"));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Home);
    }
}
