//! What an operation reports while it runs. Faces render this stream; they never
//! reach into the operation itself.

use std::fmt;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", content = "target", rename_all = "snake_case")]
pub enum Step {
    Preflight,
    /// Asking the running Structr for its application export (deployment export).
    AppExport,
    Verify(String),
    Stop(String),
    StoreLock,
    SafetyBackup(String),
    /// Bringing a component's reflink mirror up to date (the changed files
    /// cloned) while the services are stopped.
    Clone(String),
    /// Bringing a component's mirror up to date while the services are stopped.
    Mirror(String),
    /// A snapshot while the services are stopped: the `[snapshot] command`, or
    /// the LVM snapshot of a volume (named).
    Snapshot(String),
    Copy(String),
    Extract(String),
    Swap(String),
    Start(String),
    Health(String),
    Publish,
    /// restic kind: the timings join the snapshot's tags once the services run.
    Retag,
    /// A copy of the new generation to an off-site target.
    Offsite(String),
    /// Removing a folder a restore kept (named).
    Remove(String),
    /// Comparing a component of a generation with its live folder.
    Compare(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Preflight => write!(f, "preflight checks"),
            Step::AppExport => write!(f, "application export"),
            Step::Verify(c) => write!(f, "verify {c}"),
            Step::Stop(s) => write!(f, "stop {s}"),
            Step::StoreLock => write!(f, "Neo4j store released?"),
            Step::SafetyBackup(c) => write!(f, "safety backup of {c}"),
            Step::Clone(c) => write!(f, "reflink mirror {c} (changed files cloned)"),
            Step::Mirror(c) => write!(f, "mirror {c} (changed files)"),
            Step::Snapshot(c) => write!(f, "snapshot {c}"),
            Step::Copy(c) => write!(f, "copy {c}"),
            Step::Extract(c) => write!(f, "extract {c}"),
            Step::Swap(c) => write!(f, "swap in {c}"),
            Step::Start(s) => write!(f, "start {s}"),
            Step::Health(s) => write!(f, "{s} healthy?"),
            Step::Publish => write!(f, "write manifest, checksums"),
            Step::Retag => write!(f, "record timings in the snapshot"),
            Step::Offsite(t) => write!(f, "copy to {t}"),
            Step::Remove(c) => write!(f, "remove {c}"),
            Step::Compare(c) => write!(f, "compare {c} with the live folder"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The steps the operation intends to take, in order, before it starts.
    Plan(Vec<Step>),
    Started(Step),
    Finished(Step, Duration),
    Failed(Step, String),
    /// Bytes of the current step done out of an estimated total.
    Progress {
        step: Step,
        done: u64,
        total: u64,
    },
    /// The file being read or written now (relative to its component).
    File(String),
    Warning(String),
    Info(String),
}

/// Where events go. Operations take `&mut dyn FnMut(Event)`.
pub type Sink<'a> = &'a mut dyn FnMut(Event);

/// Turns the archive layer's events into this step's progress, file and warning
/// events (bytes are summed into a running total).
pub fn archive_progress<'a>(
    step: &'a Step,
    total: u64,
    on: &'a mut dyn FnMut(Event),
) -> impl FnMut(crate::repo::archive::ArchiveEvent) + 'a {
    use crate::repo::archive::ArchiveEvent;
    let mut done = 0u64;
    move |ev| match ev {
        ArchiveEvent::Bytes(n) => {
            done += n;
            on(Event::Progress {
                step: step.clone(),
                done,
                total: total.max(done),
            });
        }
        ArchiveEvent::File(p) => on(Event::File(p.display().to_string())),
        ArchiveEvent::Warning(w) => on(Event::Warning(w)),
    }
}
