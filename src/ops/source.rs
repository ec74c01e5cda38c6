//! Where a generation is read from, for every procedure that reads one
//! (restore, drill, unpack): opened only after it was checked, sized from its
//! own file indexes, and extracted component by component into a staging
//! folder. The repository kinds differ only here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::event::{archive_progress, Event, Sink, Step};
use super::placement::Placement;
use super::{restic, verify, OpError};
use crate::cancel::Cancel;
use crate::repo::archive;
use crate::repo::file_index::{self, EntryKind, IndexEntry};
use crate::repo::files;
use crate::repo::manifest::{Component, Manifest};
use crate::repo::owners::OwnerMap;
use crate::repo::restic::Restic;
use crate::repo::store::Store;

/// How much of a generation is checked before it is read.
pub enum Check<'c> {
    /// Every archive and index against SHA256SUMS (restore, drill); a restic
    /// repository's structure and the generation's snapshot.
    Whole,
    /// Only this component's archive and index (unpack: the generation's other
    /// archives may be large and are not read); restic checks while it reads.
    Only(&'c Component),
    /// The caller verified the whole generation moments ago and it is unchanged
    /// since (`restore::still_verified`): only the indexes are read.
    AlreadyVerified,
}

/// A generation that was checked and can be read.
pub enum Source<'a> {
    Archive {
        /// The generation folder as resolved and checked (never the configured
        /// path again: see `Repo::trusted_generation`).
        dir: PathBuf,
        /// The file index of each component checked, by component name.
        indexes: Vec<(String, Vec<IndexEntry>)>,
    },
    Restic(&'a Restic),
}

impl<'a> Source<'a> {
    /// Checks generation `m` in `store` before anything reads it. A generation
    /// on an rclone remote is read through the repository: `fetch_first` says
    /// how the user fetches it.
    pub fn open(
        store: &'a Store,
        m: &Manifest,
        check: Check,
        fetch_first: &str,
        cancel: &Cancel,
        on: Sink,
    ) -> Result<Self, OpError> {
        match store {
            Store::Archive(repo) => {
                let dir = repo.trusted_generation(&m.id)?;
                let checked: Vec<&Component> = match check {
                    Check::Whole => {
                        verify::quick(&dir, m, cancel, on)?;
                        m.components.iter().collect()
                    }
                    Check::Only(c) => {
                        check_sums(&dir, c, cancel)?;
                        vec![c]
                    }
                    Check::AlreadyVerified => m.components.iter().collect(),
                };
                let indexes = checked
                    .into_iter()
                    .map(|c| {
                        file_index::read_index(&dir.join(&c.index))
                            .map(|i| (c.name.clone(), i))
                            .map_err(|e| OpError::Verify(format!("{}: {e}", c.index)))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Source::Archive { dir, indexes })
            }
            Store::Restic(r) => {
                if matches!(check, Check::Whole) {
                    restic::verify_before_restore(r, m, cancel, on)?;
                }
                Ok(Source::Restic(r))
            }
            Store::Rclone(r) => Err(OpError::Refused(format!(
                "a generation on {} is read through the repository: {fetch_first}",
                r.location()
            ))),
        }
    }

    /// The space each component of `m` takes once extracted: from the file
    /// indexes (a damaged or hostile manifest cannot understate them), a block
    /// per file on top.
    pub fn sizes(&self, m: &Manifest) -> Vec<u64> {
        m.components
            .iter()
            .map(|c| match self.index_of(c) {
                Some(index) => extracted_size(index),
                None => c.bytes.saturating_add(c.files.saturating_mul(4096)),
            })
            .collect()
    }

    /// The archive kind's generation folder (None for restic).
    pub fn archive_dir(&self) -> Option<&Path> {
        match self {
            Source::Archive { dir, .. } => Some(dir),
            Source::Restic(_) => None,
        }
    }

    fn index_of(&self, c: &Component) -> Option<&[IndexEntry]> {
        match self {
            Source::Archive { indexes, .. } => indexes
                .iter()
                .find(|(name, _)| name == &c.name)
                .map(|(_, i)| i.as_slice()),
            Source::Restic(_) => None,
        }
    }

    /// Extracts component `c` of `m` into `place.staging`, every file checked
    /// against its index (or by restic's `--verify`), synced to disk.
    pub fn extract(
        &self,
        m: &Manifest,
        c: &Component,
        place: &Placement,
        owners: &OwnerMap,
        cancel: &Cancel,
        on: Sink,
    ) -> Result<(), OpError> {
        let dir = match self {
            Source::Restic(r) => return restic::extract(r, m, c, place, owners, cancel, on),
            Source::Archive { dir, .. } => dir,
        };
        let index = self.index_of(c).ok_or_else(|| {
            OpError::failed(format!(
                "internal error: {} was not checked before reading",
                c.name
            ))
        })?;
        let step = Step::Extract(c.name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let result = archive::extract_archive(
            &dir.join(&c.archive),
            &place.staging,
            index,
            owners,
            cancel,
            &mut archive_progress(&step, c.bytes, on),
        );
        if let Err(e) = result {
            on(Event::Failed(step, e.to_string()));
            return Err(e.into());
        }
        archive::sync_file_system(&place.staging).map_err(|e| {
            OpError::failed(format!("cannot sync {}: {e}", place.staging.display()))
        })?;
        on(Event::Finished(step, t.elapsed()));
        Ok(())
    }
}

fn extracted_size(index: &[IndexEntry]) -> u64 {
    index
        .iter()
        .map(|e| match e.kind {
            EntryKind::File => e.size.saturating_add(4096),
            _ => 4096,
        })
        .fold(0u64, u64::saturating_add)
}

/// The component's archive and index against SHA256SUMS.
fn check_sums(dir: &Path, c: &Component, cancel: &Cancel) -> Result<(), OpError> {
    let sums = files::read_sums(dir).map_err(|e| OpError::Verify(e.to_string()))?;
    for name in [&c.archive, &c.index] {
        let expected = sums
            .iter()
            .find(|(_, n)| n == name)
            .map(|(h, _)| h)
            .ok_or_else(|| OpError::Verify(format!("{name} is not listed in SHA256SUMS")))?;
        let actual = archive::sha256_file(&dir.join(name), cancel, &mut |_| {})?;
        if &actual != expected {
            return Err(OpError::Verify(format!(
                "{name} is damaged (sha256 {actual}, expected {expected})"
            )));
        }
    }
    Ok(())
}
