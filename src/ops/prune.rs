//! Pruning: the retention plan over all generations, then deletion of those it
//! does not keep. The plan alone is the preview (`--dry-run`, the TUI).

use chrono::Local;

use super::event::{Event, Sink};
use super::OpError;
use crate::cancel::Cancel;
use crate::repo::generation::Manifest;
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

/// Deletes what the plan does not keep, under the repository lock. The plan is
/// recomputed under the lock so it matches what is on disk now.
pub fn run(store: &Store, policy: &Policy, on: Sink) -> Result<Vec<PlanRow>, OpError> {
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

/// Deletes one generation under the lock.
pub fn delete(store: &Store, id: &str) -> Result<(), OpError> {
    let _lock = super::lock_store(store, "delete")?;
    if store.manifest(id)?.pinned {
        return Err(OpError::Refused(format!(
            "{id} is pinned; `structr-backup unpin {id}` first"
        )));
    }
    store.delete(&[id.to_string()], &Cancel::new())?;
    Ok(())
}
