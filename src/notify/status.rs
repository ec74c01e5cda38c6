//! How monitored runs ended, in the state folder:
//! - `<installation key>.last-runs.json`: the last run of each operation of one
//!   installation (a host may back up several), read by `schedule --show` and
//!   the wizard's Home and schedule screen;
//! - `last-run.json`: the host's newest run, whichever installation, for
//!   anyone's scripts (as older versions wrote it; now naming its installation).
//!
//! Their field names are a contract.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Failure,
    Cancelled,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Cancelled => "cancelled",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    /// backup, restore, prune, verify or recover.
    pub operation: String,
    /// The generation written (backup), restored (restore) or verified (verify one).
    pub id: Option<String>,
    pub status: Status,
    pub exit_code: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_secs: f64,
    /// How long services were stopped (0 when the operation stops none).
    pub downtime_secs: f64,
    pub error: Option<String>,
    /// The installation's key (`Installation::key`); absent in files older
    /// versions wrote, and when the run found no installation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<String>,
}

/// `<key>.last-runs.json`: the last run of each operation of one installation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LastRuns {
    pub installation: String,
    /// By operation (backup, restore, verify, prune, drill, recover).
    pub runs: BTreeMap<String, LastRun>,
}

/// Where the status file is.
pub fn last_run_path() -> PathBuf {
    crate::ops::state::state_dir().join("last-run.json")
}

/// The last monitored run, if one was recorded and its file can be read.
pub fn read_last_run() -> Option<LastRun> {
    let text = fs::read_to_string(last_run_path()).ok()?;
    serde_json::from_str(&text).ok()
}

/// Where the last runs of the installation keyed `key` are recorded.
pub fn last_runs_path(key: &str) -> PathBuf {
    crate::ops::state::state_dir().join(crate::install::schedule::last_runs_file(key))
}

/// Records `run` (its folder is made owner-only if missing): as the host's
/// newest run and, when it names its installation, as the last run of its
/// operation there (the other operations' runs are kept).
pub fn write_last_run(run: &LastRun) -> Result<(), String> {
    let dir = crate::ops::state::private_dir(&crate::ops::state::state_dir())?;
    write_atomic(&dir.join("last-run.json"), pretty(run)?.as_bytes(), 0o600)?;
    let Some(key) = &run.installation else {
        return Ok(());
    };
    let path = dir.join(crate::install::schedule::last_runs_file(key));
    // A file that cannot be read is replaced: it only holds what the next runs rewrite.
    let mut all: LastRuns = fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    all.installation = key.clone();
    all.runs.insert(run.operation.clone(), run.clone());
    write_atomic(&path, pretty(&all)?.as_bytes(), 0o600)
}

/// Pretty JSON with a final newline.
fn pretty<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|j| format!("{j}\n"))
        .map_err(|e| format!("cannot encode the run status: {e}"))
}

/// Writes `path` through a temporary file beside it, fsynced and renamed into
/// place, then fsyncs the folder: readers see the old file or the new one, whole.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("/"));
    // A dot name: node-exporter's textfile collector reads only `*.prom`.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let fail =
        |what: &str, p: &Path, e: std::io::Error| format!("cannot {what} {}: {e}", p.display());
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| fail("create", &tmp, e))?;
    let written = f
        .write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| fail("write", &tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| fail("replace", path, e)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("sync the folder", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_field_names_round_trip() {
        let run = LastRun {
            operation: "backup".into(),
            id: Some("20261124T031500Z".into()),
            status: Status::Cancelled,
            exit_code: 5,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            duration_secs: 1.5,
            downtime_secs: 0.25,
            error: None,
            installation: Some("0123456789abcdef".into()),
        };
        let v = serde_json::to_value(&run).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "downtime_secs",
                "duration_secs",
                "error",
                "exit_code",
                "finished_at",
                "id",
                "installation",
                "operation",
                "started_at",
                "status"
            ]
        );
        assert_eq!(v["status"], "cancelled");
        assert!(v["error"].is_null());
        let back: LastRun = serde_json::from_value(v).unwrap();
        assert_eq!(back, run);
    }

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.prom");
        write_atomic(&p, b"one\n", 0o644).unwrap();
        write_atomic(&p, b"two\n", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
