//! The wizard's shared vocabulary, which every screen may use and none owns:
//! the screen families (for the key table), what a key asks for (`Reply`:
//! where to go on the screen stack, and the `Effect` the world carries out),
//! the kinds of job and the states of their steps.

use std::path::PathBuf;

use crate::install::schedule::Change;

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
    /// Asking before starting the services found stopped.
    StartServices,
}

/// Which button of a question has the focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Cancel,
    Confirm,
}

impl Focus {
    /// The other button (Tab, ←→).
    pub fn toggled(self) -> Focus {
        match self {
            Focus::Cancel => Focus::Confirm,
            Focus::Confirm => Focus::Cancel,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Backup,
    /// Quick verification before a restore (or a disaster recovery's); on
    /// success the typed confirmation follows, and the restore does not verify again.
    VerifyForRestore,
    Verify,
    Restore,
    Prune,
    Delete,
    Recover,
    /// Removing a folder a restore kept beside its target.
    RemoveKept,
}

impl JobKind {
    pub fn title(self) -> &'static str {
        match self {
            JobKind::Backup => "Backup",
            JobKind::VerifyForRestore => "Verifying before restore",
            JobKind::Verify => "Verify",
            JobKind::Restore => "Restore",
            JobKind::Prune => "Prune",
            JobKind::Delete => "Delete",
            JobKind::Recover => "Recover",
            JobKind::RemoveKept => "Remove kept folder",
        }
    }

    /// Jobs that check a generation against its checksums.
    pub fn verifies(self) -> bool {
        matches!(self, JobKind::Verify | JobKind::VerifyForRestore)
    }

    /// Jobs that stop services: cancelling them restarts the services.
    pub fn stops_services(self) -> bool {
        matches!(self, JobKind::Backup | JobKind::Restore)
    }
}

/// Where a step of a job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum StepState {
    Pending,
    Running(std::time::Instant),
    Done(std::time::Duration),
    Failed(String),
}

/// Where a disaster recovery reads the generations: what `Store::open_from` is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// An off-site target's name, a folder, or a restic repository string.
    pub given: String,
    /// For a restic repository: its password file.
    pub password_file: Option<PathBuf>,
}

/// What the loop must do in the world after a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Quit,
    Refresh,
    /// List the repository afresh (a screen showing its generations opened).
    ReloadRepo,
    /// Measure the sources for the plan screen.
    PlanBackup,
    /// Back up now, the new generation labelled so (sanitized, maybe empty).
    StartBackup {
        label: String,
    },
    VerifyBeforeRestore(String),
    StartRestore(String),
    /// Verify this generation of the disaster recovery's source; on success its
    /// typed confirmation follows.
    VerifyBeforeRecovery(String),
    Verify {
        id: String,
        deep: bool,
    },
    TogglePin(String),
    Delete(String),
    PlanPrune,
    StartPrune,
    Recover,
    /// `recover`, also starting the services found stopped (Home's `S`).
    StartStopped,
    CancelJob,
    /// Ask systemd about the timer again.
    RefreshSchedule,
    /// Change the schedule (runs systemctl off the UI thread).
    Schedule(Change),
    /// Look for the folders restores kept, and measure them (a task).
    FindKept,
    /// Remove the kept folder at this path (a job).
    RemoveKept(PathBuf),
    /// List a generation's entries and read their mtimes (a task).
    Browse(String),
    /// Compare a generation with the live installation (a task).
    Compare(String),
    /// Open a disaster recovery's source and list it (a task).
    OpenRecoverySource(SourceSpec),
    /// Work out what restoring this generation of the source does here.
    RecoveryPlan(String),
    /// Restore this generation of the source (a job).
    StartRecovery(String),
    /// Look at the services and Structr's port afresh; `start` the stopped ones first.
    RecoveryCheck {
        start: bool,
    },
}

impl Effect {
    /// The job this effect starts, if it is one: its kind, and the generation
    /// (or the kept folder's name) it is about. Its screen opens with it.
    pub fn job(&self) -> Option<(JobKind, Option<String>)> {
        let (kind, id) = match self {
            Effect::StartBackup { .. } => (JobKind::Backup, None),
            Effect::VerifyBeforeRestore(id) | Effect::VerifyBeforeRecovery(id) => {
                (JobKind::VerifyForRestore, Some(id))
            }
            Effect::Verify { id, .. } => (JobKind::Verify, Some(id)),
            Effect::StartRestore(id) | Effect::StartRecovery(id) => (JobKind::Restore, Some(id)),
            Effect::Delete(id) => (JobKind::Delete, Some(id)),
            Effect::StartPrune => (JobKind::Prune, None),
            Effect::Recover | Effect::StartStopped => (JobKind::Recover, None),
            Effect::RemoveKept(path) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                return Some((JobKind::RemoveKept, name));
            }
            _ => return None,
        };
        Some((kind, id.cloned()))
    }
}

/// A screen to open; the screen stack (`app`) builds it.
#[derive(Clone, Debug, PartialEq)]
pub enum To {
    Help,
    BackupPlan,
    RestorePick,
    Generations,
    /// Showing the time the timer has now.
    Schedule,
    Kept,
    /// Asking before starting these stopped services.
    StartServices(Vec<String>),
    /// The disaster recovery, with what Home knows of it.
    Recovery,
    /// What can be done with this generation.
    Actions(String),
    Browse(String),
    /// Typed confirmations: the id (or name) to type, and what will happen.
    DeleteConfirm {
        id: String,
        facts: Vec<String>,
    },
    RemoveKept {
        name: String,
        path: PathBuf,
        facts: Vec<String>,
    },
    RecoveryConfirm {
        id: String,
        facts: Vec<String>,
    },
}

/// Where a key moves on the screen stack.
#[derive(Clone, Debug, PartialEq)]
pub enum Go {
    Stay,
    /// Close this screen.
    Back,
    Open(To),
    /// Close this screen and open another in its place (a menu's choice).
    Replace(To),
    /// Stay, and say this on the status line.
    Say(String),
    Quit,
}

/// What a key on a screen asks for. A job's effect opens the job's screen too.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub go: Go,
    pub effect: Effect,
}

impl Reply {
    /// Nothing to do.
    pub fn stay() -> Reply {
        Go::Stay.into()
    }

    /// Stay, and have the world carry `effect` out.
    pub fn effect(effect: Effect) -> Reply {
        Reply {
            go: Go::Stay,
            effect,
        }
    }

    /// This move, then `effect`.
    pub fn with(self, effect: Effect) -> Reply {
        Reply { effect, ..self }
    }
}

impl From<Go> for Reply {
    fn from(go: Go) -> Reply {
        Reply {
            go,
            effect: Effect::None,
        }
    }
}
