//! `restore ID --only NAME --to DIR`: one component of a generation unpacked into a
//! folder the user names (made; an existing one must be empty), every file checked
//! (against its index for the archive kind, by `restic restore --verify` for
//! restic). No service is touched and the installation is not changed: this is how
//! the application export (`app`) comes back out, for Structr's deployment import.

use crate::repo::manifest;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::event::{Event, Sink, Step};
use super::placement::Placement;
use super::source::{Check, Source};
use super::{lock_store, OpError};
use crate::cancel::Cancel;
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
    // restic unpacks beside `to` and moves the folder onto it.
    let place = Placement {
        name: c.name.clone(),
        target: to.to_path_buf(),
        staging: to.to_path_buf(),
        kept: to.to_path_buf(),
        bytes: c.bytes,
        files: c.files,
    };
    let source = Source::open(
        store,
        m,
        Check::Only(c),
        &format!(
            "`structr-backup restore {id} --from NAME --only {name} --to DIR` fetches it first"
        ),
        cancel,
        on,
    )?;
    source.extract(m, c, &place, &owner_map, cancel, on)?;
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
