//! The journal: a small file beside the repository lock that records which services
//! a run has stopped. It exists only while services are down by our hand, so if the
//! process is killed (SIGKILL, power loss) the next run finds it and `recover` can
//! start them again.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::repo::generation::{write_file_atomic, RepoError};

pub const JOURNAL_FILE: &str = ".journal";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub pid: u32,
    pub host: String,
    pub operation: String,
    pub started_at: DateTime<Utc>,
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
    pub fn begin(repo: &Path, operation: &str) -> Self {
        Self {
            path: repo.join(JOURNAL_FILE),
            record: Record {
                pid: std::process::id(),
                host: crate::repo::lock::hostname(),
                operation: operation.to_string(),
                started_at: Utc::now(),
                stopped: Vec::new(),
                failed_start: None,
                swaps: Vec::new(),
            },
        }
    }

    /// Continues a journal left by an interrupted run (for `recover`).
    pub fn resume(repo: &Path, record: Record) -> Self {
        Self {
            path: repo.join(JOURNAL_FILE),
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
        write_file_atomic(&self.path, text.as_bytes())
    }
}

/// The journal of a run that is not running any more (the caller holds the repository
/// lock, so no live run can own a journal it finds).
pub fn interrupted(repo: &Path) -> Option<Record> {
    let text = fs::read_to_string(repo.join(JOURNAL_FILE)).ok()?;
    toml::from_str(&text).ok()
}

impl Record {
    /// One paragraph for the user: what is down and what to do.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "An interrupted {} (pid {} on {}, started {}) left these services stopped: {}.",
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

    #[test]
    fn journal_exists_only_while_services_are_down() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), "backup");
        assert!(interrupted(dir.path()).is_none());
        j.mark_stopping("structr").unwrap();
        j.mark_stopping("neo4j").unwrap();
        let r = interrupted(dir.path()).unwrap();
        assert_eq!(r.stopped, ["structr", "neo4j"]);
        assert!(r.describe().contains("structr, neo4j"));
        j.mark_start_failed("neo4j", "exit status 1").unwrap();
        assert!(interrupted(dir.path())
            .unwrap()
            .describe()
            .contains("exit status 1"));
        j.mark_started("neo4j").unwrap();
        j.mark_started("structr").unwrap();
        assert!(interrupted(dir.path()).is_none());
        assert!(!dir.path().join(JOURNAL_FILE).exists());
    }
}
