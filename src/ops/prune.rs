//! Pruning: the retention plan over all generations, then deletion of those it
//! does not keep. The plan alone is the preview (`--dry-run`, the TUI).

use chrono::Local;

use super::event::{Event, Sink};
use super::OpError;
use crate::cancel::Cancel;
use crate::repo::manifest::Manifest;
use crate::repo::retention::{self, Candidate, Decision, Policy};
use crate::repo::store::Store;

#[derive(Debug)]
pub struct PlanRow {
    pub manifest: Manifest,
    pub decision: Decision,
}

/// The retention decision for every generation, newest first.
pub fn plan(store: &Store, policy: &Policy) -> Result<Vec<PlanRow>, OpError> {
    let (manifests, broken) = store.list()?;
    if let Some(e) = broken.first() {
        return Err(OpError::Refused(format!(
            "{e}; refusing to prune while a generation cannot be read (delete or repair it first)"
        )));
    }
    let candidates: Vec<Candidate> = manifests
        .iter()
        .map(|m| Candidate {
            id: m.id.clone(),
            created: m.created_at,
            pinned: m.pinned,
        })
        .collect();
    let decisions = retention::plan(&candidates, policy, &Local);
    let mut rows = Vec::new();
    for d in decisions {
        let manifest = manifests
            .iter()
            .find(|m| m.id == d.id)
            .cloned()
            .ok_or_else(|| OpError::failed(format!("retention returned an unknown id {}", d.id)))?;
        rows.push(PlanRow {
            manifest,
            decision: d,
        });
    }
    Ok(rows)
}

/// How prune and delete remove the snapshot a generation records (`[snapshot]
/// delete_command`); without one, only the record goes and the snapshot is named.
#[derive(Clone, Debug, Default)]
pub struct SnapshotDeletion {
    pub command: Option<String>,
    pub timeout: std::time::Duration,
}

impl SnapshotDeletion {
    pub fn of(config: &crate::config::SnapshotConfig) -> Self {
        Self {
            command: config.delete_command.clone(),
            timeout: std::time::Duration::from_secs(config.timeout_secs),
        }
    }
}

/// Deletes what the plan does not keep, under the repository lock, deleting the
/// snapshot a generation records with `snapshots` first. The plan is recomputed
/// under the lock so it matches what is on disk now. The one prune both faces run.
pub fn run(
    store: &Store,
    policy: &Policy,
    snapshots: &SnapshotDeletion,
    on: Sink,
) -> Result<Vec<PlanRow>, OpError> {
    let _lock = super::lock_store(store, "prune")?;
    let rows = plan(store, policy)?;
    let doomed: Vec<String> = rows
        .iter()
        .filter(|r| !r.decision.keep)
        .map(|r| r.manifest.id.clone())
        .collect();
    match store {
        // One at a time, each reported as it goes.
        Store::Archive(_) | Store::Rclone(_) => {
            for id in &doomed {
                if let Some(r) = rows.iter().find(|r| &r.manifest.id == id) {
                    before_delete(&r.manifest, snapshots, on)?;
                }
                store.delete(std::slice::from_ref(id), &Cancel::new())?;
                on(Event::Info(format!("deleted {id}")));
            }
        }
        // One `restic forget` and one `restic prune` for all.
        Store::Restic(_) => {
            store.delete(&doomed, &Cancel::new())?;
            for id in &doomed {
                on(Event::Info(format!("deleted {id}")));
            }
        }
    }
    Ok(rows)
}

fn before_delete(m: &Manifest, s: &SnapshotDeletion, on: Sink) -> Result<(), OpError> {
    super::snapshot::before_delete(m, s.command.as_deref(), s.timeout, on)
}

/// Deletes one generation under the lock, deleting a recorded snapshot with
/// `snapshots` first. The one delete both faces run.
pub fn delete(
    store: &Store,
    id: &str,
    snapshots: &SnapshotDeletion,
    on: Sink,
) -> Result<(), OpError> {
    let _lock = super::lock_store(store, "delete")?;
    let m = store.manifest(id)?;
    if m.pinned {
        return Err(OpError::Refused(format!(
            "{id} is pinned; `structr-backup unpin {id}` first"
        )));
    }
    before_delete(&m, snapshots, on)?;
    store.delete(&[id.to_string()], &Cancel::new())?;
    Ok(())
}
