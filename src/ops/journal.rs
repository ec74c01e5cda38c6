//! The journal: a small file in the private state folder (see `state`), keyed by
//! the installation, that records which services a run has stopped and which
//! folders a restore is swapping. It exists only while services are down by our
//! hand, so if the process is killed (SIGKILL, power loss) the next run finds it and
//! `recover` can start them again. It never lives in the repository: whoever can
//! write there must not be able to plant one.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state;
use crate::install::Installation;
use crate::repo::error::RepoError;
use crate::repo::files::write_file_atomic;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub pid: u32,
    pub host: String,
    pub operation: String,
    pub started_at: DateTime<Utc>,
    /// The installation's folders, for messages ("the installation at …").
    #[serde(default)]
    pub targets: Vec<PathBuf>,
    /// Services stopped by us and not started again yet, in the order they were stopped.
    pub stopped: Vec<String>,
    /// The last start that failed, if any, so the next run can say why services are down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_start: Option<String>,
    /// Restore swaps under way: if the run dies mid-swap, `recover` puts the old
    /// folders back so no half-restored installation is started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swaps: Vec<Swap>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Swap {
    /// The live folder (e.g. /var/lib/neo4j/data).
    pub target: PathBuf,
    /// Where the old contents are kept (`<target>.pre-restore-<id>`).
    pub kept: PathBuf,
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    record: Record,
}

impl Journal {
    pub fn begin(inst: &Installation, operation: &str) -> Self {
        Self {
            path: state::journal_path(inst),
            record: Record {
                pid: std::process::id(),
                host: crate::sys::hostname(),
                operation: operation.to_string(),
                started_at: Utc::now(),
                targets: inst.components.iter().map(|c| c.path.clone()).collect(),
                stopped: Vec::new(),
                failed_start: None,
                swaps: Vec::new(),
            },
        }
    }

    /// Continues a journal left by an interrupted run (for `recover`).
    pub fn resume(inst: &Installation, record: Record) -> Self {
        Self {
            path: state::journal_path(inst),
            record,
        }
    }

    pub fn stopped(&self) -> &[String] {
        &self.record.stopped
    }

    /// Recorded *before* the stop command runs: if we die during the stop, the
    /// service may be down and the journal must say so.
    pub fn mark_stopping(&mut self, service: &str) -> Result<(), RepoError> {
        if !self.record.stopped.iter().any(|s| s == service) {
            self.record.stopped.push(service.to_string());
        }
        self.save()
    }

    pub fn mark_started(&mut self, service: &str) -> Result<(), RepoError> {
        self.record.stopped.retain(|s| s != service);
        self.record.failed_start = None;
        self.save()
    }

    pub fn mark_start_failed(&mut self, service: &str, error: &str) -> Result<(), RepoError> {
        self.record.failed_start = Some(format!("{service}: {error}"));
        self.save()
    }

    pub fn swaps(&self) -> &[Swap] {
        &self.record.swaps
    }

    /// Recorded before the first rename of a restore swap.
    pub fn set_swaps(&mut self, swaps: Vec<Swap>) -> Result<(), RepoError> {
        self.record.swaps = swaps;
        self.save()
    }

    /// Writes the journal, or removes it once nothing is down and no swap is pending.
    fn save(&self) -> Result<(), RepoError> {
        if self.record.stopped.is_empty() && self.record.swaps.is_empty() {
            return match fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RepoError::Io {
                    action: "cannot remove the journal",
                    path: self.path.clone(),
                    source: e,
                }),
                _ => Ok(()),
            };
        }
        let text = toml::to_string(&self.record).map_err(|e| RepoError::BadManifest {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        if let Some(dir) = self.path.parent() {
            state::private_dir(dir).map_err(|detail| RepoError::Io {
                action: "cannot use the state folder",
                path: dir.to_path_buf(),
                source: std::io::Error::other(detail),
            })?;
        }
        write_file_atomic(&self.path, text.as_bytes())
    }
}

/// The journal of this installation's interrupted run, if any (callers that act on
/// it hold the installation lock, so no live run can own a journal they find).
pub fn interrupted(inst: &Installation) -> Option<Record> {
    read(&state::journal_path(inst))
}

/// Every journal in the state folder: interrupted runs of any installation on this
/// host, for warnings from commands that do not look at the installation. A journal
/// of a run that is still going (its pid alive) is left out.
pub fn interrupted_any() -> Vec<Record> {
    let Ok(entries) = fs::read_dir(state::state_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".journal"))
        .filter_map(|e| read(&e.path()))
        .filter(|r| !pid_alive(r.pid))
        .collect()
}

fn pid_alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(crate::sys::process_alive)
}

fn read(path: &Path) -> Option<Record> {
    let text = fs::read_to_string(path).ok()?;
    toml::from_str(&text).ok()
}

impl Record {
    /// One paragraph for the user: what is down and what to do.
    pub fn describe(&self) -> String {
        let at = match self.targets.is_empty() {
            true => String::new(),
            false => format!(
                " of {}",
                self.targets
                    .iter()
                    .map(|t| t.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
        };
        let mut s = format!(
            "An interrupted {}{at} (pid {} on {}, started {}) left these services stopped: {}.",
            self.operation,
            self.pid,
            self.host,
            self.started_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            self.stopped.join(", ")
        );
        if !self.swaps.is_empty() {
            s.push_str(" It was swapping restored folders into place; `recover` puts the previous folders back.");
        }
        if let Some(f) = &self.failed_start {
            s.push_str(&format!(" The last start failed: {f}."));
        }
        s.push_str(" Run `structr-backup recover` to start them again.");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installation(dir: &Path) -> Installation {
        Installation {
            kind: crate::config::Kind::Custom,
            host: "h".into(),
            components: vec![crate::install::ComponentSpec::new("structr", dir.join("s"))],
            services: vec![],
            notes: vec![],
            versions: Default::default(),
            stop_timeout: std::time::Duration::from_secs(1),
            start_timeout: std::time::Duration::from_secs(1),
            maintenance: None,
        }
    }

    #[test]
    fn journal_exists_only_while_services_are_down() {
        let dir = tempfile::tempdir().unwrap();
        let inst = installation(dir.path());
        let mut j = Journal::begin(&inst, "backup");
        assert!(interrupted(&inst).is_none());
        j.mark_stopping("structr").unwrap();
        j.mark_stopping("neo4j").unwrap();
        let r = interrupted(&inst).unwrap();
        assert_eq!(r.stopped, ["structr", "neo4j"]);
        assert!(r.describe().contains("structr, neo4j"));
        j.mark_start_failed("neo4j", "exit status 1").unwrap();
        assert!(interrupted(&inst)
            .unwrap()
            .describe()
            .contains("exit status 1"));
        assert!(state::journal_path(&inst).starts_with(state::state_dir()));
        j.mark_started("neo4j").unwrap();
        j.mark_started("structr").unwrap();
        assert!(interrupted(&inst).is_none());
        assert!(!state::journal_path(&inst).exists());
    }
}
