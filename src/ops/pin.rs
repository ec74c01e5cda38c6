//! Pinning: a pinned generation is never pruned, nor deleted until unpinned.

use super::OpError;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// Sets or clears the pin of `id` under the repository lock; returns the manifest as written.
pub fn set(store: &Store, id: &str, pinned: bool) -> Result<Manifest, OpError> {
    change(store, id, |_| pinned)
}

/// Flips the pin of `id` (the wizard's `p`).
pub fn toggle(store: &Store, id: &str) -> Result<Manifest, OpError> {
    change(store, id, |was| !was)
}

/// Reads and rewrites the pin under one lock, so two runs cannot interleave.
fn change(store: &Store, id: &str, to: impl FnOnce(bool) -> bool) -> Result<Manifest, OpError> {
    let _lock = super::lock_store(store, "pin")?;
    let pinned = to(store.manifest(id)?.pinned);
    Ok(store.set_pinned(id, pinned)?)
}
