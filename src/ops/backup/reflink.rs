//! The reflink mirror's first pass: every regular file of a component that
//! changed since the mirror was last brought up to date (rsync's quick check:
//! size and modification time, to the nanosecond) is cloned into the mirror
//! (FICLONE: metadata time only, whatever its size) with its owner, mode,
//! extended attributes and time, under a scratch name, then renamed over the
//! old one. rsync's pass that follows (`mirror.rs`) then finds these files
//! identical and only removes what was removed and sets folders, symbolic
//! links, hard links and ACLs right; so the window costs the changed files'
//! metadata, not their bytes.
//!
//! Only files are cloned here; whatever this pass leaves (a hard-linked file,
//! a path whose mirror holds another kind of entry, a clone the file system
//! refused) is copied by rsync's pass, which is correct, only slower.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use crate::cancel::Cancel;
use crate::ops::{Context, OpError};
use crate::repo::clone::{self, CloneError};
use crate::repo::meta::{Applier, Meta};
use crate::repo::tree;

/// What the clone pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cloned {
    pub files: u64,
    pub bytes: u64,
    /// Set when the file system refused a clone: the rest was left to rsync.
    pub refused: Option<String>,
}

/// Clones the files of `src` that differ from the mirror `dest` into it.
pub fn clone_changed(src: &Path, dest: &Path, ctx: &Context) -> Result<Cloned, OpError> {
    let stopped = || OpError::Cancelled {
        detail: crate::ops::error::STOPPED.into(),
    };
    match clone_pass(src, dest, &ctx.cancel) {
        Err(CloneError::Cancelled) => Err(stopped()),
        Err(e) => Err(OpError::failed(format!(
            "the reflink mirror {} could not be updated from {}: {e}",
            dest.display(),
            src.display()
        ))),
        Ok(c) => Ok(c),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CloneError + '_ {
    move |source| CloneError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn clone_pass(src: &Path, dest: &Path, cancel: &Cancel) -> Result<Cloned, CloneError> {
    let mut done = Cloned::default();
    let mut applier = Applier::new();
    let suffix = random_suffix().map_err(io(Path::new("/dev/urandom")))?;
    let mut n = 0u64;
    real_dir(dest, dest)?;
    for node in tree::walk(src) {
        if cancel.is_cancelled() {
            return Err(CloneError::Cancelled);
        }
        let node = node.map_err(|e| CloneError::Io {
            path: e.path,
            source: e.source,
        })?;
        let m = &node.meta;
        // Hard-linked files are rsync's (it links them as the sources do).
        if !m.is_file() || m.nlink() > 1 {
            continue;
        }
        let to = dest.join(&node.rel);
        match fs::symlink_metadata(&to) {
            Ok(old) if !old.is_file() => continue,
            Ok(old) if same(&old, m) => continue,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&to)(e)),
        }
        let Some(parent) = to.parent() else { continue };
        if !real_dir(dest, parent)? {
            continue;
        }
        n += 1;
        let scratch = parent.join(format!(".structr-backup-clone.{suffix}.{n}"));
        match clone::clone_file(&node.abs, &scratch) {
            Ok(()) => {}
            Err(CloneError::Unsupported(why)) => {
                done.refused = Some(why);
                return Ok(done);
            }
            Err(e) => return Err(e),
        }
        // Everything rsync's quick check and attribute pass compare, so that
        // it leaves the clone alone; a failure here only makes rsync copy it.
        let applied =
            Meta::capture(&node.abs, m).and_then(|meta| applier.apply(&scratch, &meta, false));
        if let Err(e) = applied.and_then(|()| fs::rename(&scratch, &to)) {
            let _ = fs::remove_file(&scratch);
            return Err(io(&to)(e));
        }
        done.files += 1;
        done.bytes += m.len();
    }
    Ok(done)
}

/// Whether rsync's quick check calls the mirror's file `old` the same as `new`.
fn same(old: &fs::Metadata, new: &fs::Metadata) -> bool {
    old.len() == new.len() && old.mtime() == new.mtime() && old.mtime_nsec() == new.mtime_nsec()
}

/// Makes sure `dir` (inside the mirror `top`) is a real folder, every folder
/// from `top` down included, creating missing ones (owner-only; rsync sets
/// them right). False when one of them is another kind of entry (a symbolic
/// link, a file): a clone must never be written through a link, so rsync,
/// which replaces such entries, deals with that path.
fn real_dir(top: &Path, dir: &Path) -> Result<bool, CloneError> {
    let rel = dir.strip_prefix(top).unwrap_or(Path::new(""));
    let mut at = top.to_path_buf();
    let mut steps = vec![at.clone()];
    for c in rel.components() {
        at.push(c);
        steps.push(at.clone());
    }
    for at in steps {
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&at)
                    .map_err(io(&at))?;
            }
            Err(e) => return Err(io(&at)(e)),
        }
    }
    Ok(true)
}

/// An unpredictable part of this run's scratch names.
fn random_suffix() -> std::io::Result<String> {
    let mut b = [0u8; 8];
    fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_in_the_mirror_is_never_written_through() {
        let d = tempfile::tempdir().unwrap();
        let (top, away) = (d.path().join("m"), d.path().join("away"));
        fs::create_dir_all(&top).unwrap();
        fs::create_dir_all(&away).unwrap();
        std::os::unix::fs::symlink(&away, top.join("a")).unwrap();
        assert!(!real_dir(&top, &top.join("a/b")).unwrap());
        assert!(!away.join("b").exists());
        assert!(real_dir(&top, &top.join("c/d")).unwrap());
        assert!(top.join("c/d").is_dir());
    }
}
