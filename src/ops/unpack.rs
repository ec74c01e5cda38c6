//! `restore ID --only NAME --to DIR`: one component of a generation unpacked into a
//! folder the user names (made; an existing one must be empty), every file checked
//! (against its index for the archive kind, by `restic restore --verify` for
//! restic). No service is touched and the installation is not changed: this is how
//! the application export (`app`) comes back out, for Structr's deployment import.

use crate::repo::files;
use crate::repo::manifest;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::event::{archive_progress, Event, Sink, Step};
use super::placement::Placement;
use super::{lock_store, restic, OpError};
use crate::cancel::Cancel;
use crate::repo::archive;
use crate::repo::file_index;
use crate::repo::manifest::Component;
use crate::repo::owners;
use crate::repo::store::Store;

#[derive(Debug, serde::Serialize)]
pub struct Unpacked {
    pub id: String,
    pub component: String,
    pub dir: PathBuf,
    pub files: u64,
    pub bytes: u64,
}

pub fn run(
    store: &Store,
    id: &str,
    name: &str,
    to: &Path,
    cancel: &Cancel,
    on: Sink,
) -> Result<Unpacked, OpError> {
    let _lock = lock_store(store, "restore")?;
    let m = store.manifest(id)?;
    let c = m
        .components
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = m.components.iter().map(|c| c.name.as_str()).collect();
            OpError::Refused(format!(
                "generation {id} holds no component {name:?} (it holds {})",
                names.join(", ")
            ))
        })?;
    let made = check_target(to)?;
    let result = unpack(store, &m, &c, to, cancel, on);
    if result.is_err() && made {
        // Only the folder made above, and only while empty.
        let _ = fs::remove_dir(to);
    }
    result?;
    Ok(Unpacked {
        id: m.id.clone(),
        component: c.name,
        dir: to.to_path_buf(),
        files: c.files,
        bytes: c.bytes,
    })
}

fn unpack(
    store: &Store,
    m: &manifest::Manifest,
    c: &Component,
    to: &Path,
    cancel: &Cancel,
    on: Sink,
) -> Result<(), OpError> {
    let id = m.id.as_str();
    let name = c.name.as_str();
    // Owners by name, as a restore maps them (numbers stay where a name is unknown).
    let owner_map = owners::owner_map(&owners::mappings(&m.owners));
    let step = Step::Extract(c.name.clone());
    on(Event::Plan(vec![step.clone()]));
    match store {
        Store::Archive(repo) => {
            let dir = repo.trusted_generation(id)?;
            check_sums(&dir, c, cancel)?;
            let index = file_index::read_index(&dir.join(&c.index))
                .map_err(|e| OpError::Verify(format!("{}: {e}", c.index)))?;
            on(Event::Started(step.clone()));
            let t = Instant::now();
            let result = archive::extract_archive(
                &dir.join(&c.archive),
                to,
                &index,
                &owner_map,
                cancel,
                &mut archive_progress(&step, c.bytes, on),
            );
            match result {
                Ok(_) => on(Event::Finished(step, t.elapsed())),
                Err(e) => {
                    on(Event::Failed(step, e.to_string()));
                    return Err(e.into());
                }
            }
            archive::sync_file_system(to)
                .map_err(|e| OpError::failed(format!("cannot sync {}: {e}", to.display())))?;
        }
        Store::Restic(r) => {
            // restic unpacks beside `to` and moves the folder onto it.
            let p = Placement {
                name: c.name.clone(),
                target: to.to_path_buf(),
                staging: to.to_path_buf(),
                kept: to.to_path_buf(),
                bytes: c.bytes,
                files: c.files,
            };
            restic::extract(r, m, c, &p, &owner_map, cancel, on)?;
        }
        Store::Rclone(r) => {
            return Err(OpError::Refused(format!(
                "a generation on {} is unpacked through the repository: `structr-backup restore {id} --from NAME --only {name} --to DIR` fetches it first",
                r.location()
            )))
        }
    }
    Ok(())
}

/// `to` must be a new folder, or an empty one of our own; a new one is made here,
/// exclusively (mode 0700), so that from now on it is ours: in a shared (1777)
/// parent nobody else can swap it or put a link into it while we write. A folder
/// or link another user made is refused, never written into or through.
/// Whether it made the folder.
fn check_target(to: &Path) -> Result<bool, OpError> {
    match fs::symlink_metadata(to) {
        Ok(meta) if meta.file_type().is_symlink() => Err(OpError::Refused(format!(
            "{} is a symbolic link; name a new folder (nothing is unpacked through a link)",
            to.display()
        ))),
        Ok(meta) if !meta.is_dir() => Err(OpError::Refused(format!(
            "{} exists and is not a folder; name a new or empty folder",
            to.display()
        ))),
        Ok(meta) if meta.uid() != nix::unistd::geteuid().as_raw() => {
            Err(OpError::Refused(format!(
                "{} belongs to uid {}, not to uid {} who runs this; name a new folder (nothing is unpacked into a folder another user controls)",
                to.display(),
                meta.uid(),
                nix::unistd::geteuid()
            )))
        }
        Ok(_) => {
            let empty = fs::read_dir(to)
                .map_err(|e| OpError::Refused(format!("cannot read {}: {e}", to.display())))?
                .next()
                .is_none();
            match empty {
                true => Ok(false),
                false => Err(OpError::Refused(format!(
                    "{} is not empty; name a new or empty folder (nothing is unpacked over existing files)",
                    to.display()
                ))),
            }
        }
        Err(_) => {
            if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| {
                    OpError::Refused(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            fs::DirBuilder::new().mode(0o700).create(to).map_err(|e| {
                OpError::Refused(format!(
                    "cannot create {}: {e}; name a new folder",
                    to.display()
                ))
            })?;
            Ok(true)
        }
    }
}

/// The component's archive and index against SHA256SUMS (only these two: the
/// generation's other archives may be large and are not read).
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
