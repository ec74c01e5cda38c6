//! The repository's change marker: what the wizard reads every few seconds to
//! tell whether the generations must be listed again (see `freshness`).

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// How often the change marker is read.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(2);

/// What changes when a generation is written, deleted or renamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    /// An archive repository: its folder's mtime and the names in it (a
    /// generation folder appears by rename, and a delete removes one).
    Archive {
        mtime: Option<SystemTime>,
        names: Vec<String>,
    },
    /// A local restic repository: the mtime of its `snapshots/` folder, where
    /// every backup, forget and retag writes a file. Listing restic itself
    /// takes seconds, too slow to ask every few.
    Restic(Option<SystemTime>),
    /// A remote repository: nothing cheap to look at; listed again only when a
    /// screen showing it opens, or after a job of ours.
    Remote,
}

impl Marker {
    /// The marker of `store` as it is now (reads one or two folders).
    pub(super) fn of(store: &Store) -> Marker {
        match (store, store.local_folder()) {
            (Store::Archive(_), Some(root)) => Marker::Archive {
                mtime: mtime(root),
                names: names(root),
            },
            (Store::Restic(_), Some(root)) => Marker::Restic(mtime(&root.join("snapshots"))),
            _ => Marker::Remote,
        }
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn names(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What a look at the repository found: nothing new, or a fresh listing.
pub(super) enum Look {
    Unchanged,
    Listed {
        marker: Marker,
        generations: Result<Vec<Manifest>, String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::generation::Repo;

    #[test]
    fn the_marker_moves_when_a_generation_comes_or_goes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path().join("repo"));
        repo.create().unwrap();
        let store = Store::Archive(repo.clone());
        let before = Marker::of(&store);
        assert_eq!(before, Marker::of(&store), "nothing changed");
        std::fs::create_dir(repo.root.join("20260101T000000Z")).unwrap();
        let after = Marker::of(&store);
        assert_ne!(before, after);
        std::fs::remove_dir(repo.root.join("20260101T000000Z")).unwrap();
        assert_ne!(after, Marker::of(&store));
    }
}
