//! Pinning: a pinned generation is never pruned, nor deleted until unpinned.

use super::OpError;
use crate::repo::generation::{Manifest, Repo};

/// Sets or clears the pin of `id` under the repository lock; returns the manifest as written.
pub fn set(repo: &Repo, id: &str, pinned: bool) -> Result<Manifest, OpError> {
    change(repo, id, |_| pinned)
}

/// Flips the pin of `id` (the wizard's `p`).
pub fn toggle(repo: &Repo, id: &str) -> Result<Manifest, OpError> {
    change(repo, id, |was| !was)
}

/// Reads and rewrites the pin under one lock, so two runs cannot interleave.
fn change(repo: &Repo, id: &str, to: impl FnOnce(bool) -> bool) -> Result<Manifest, OpError> {
    let _lock = super::lock_repo(repo, "pin")?;
    let pinned = to(repo.manifest(id)?.pinned);
    Ok(repo.set_pinned(id, pinned)?)
}
