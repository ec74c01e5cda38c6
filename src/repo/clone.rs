//! Reflink clones: on file systems that share blocks between files (XFS, btrfs), a
//! component is cloned into the generation's staging folder while the services are
//! stopped, which costs metadata time only; the services start again and the clone
//! is compressed afterwards. Keeps what the archive keeps (modes, owners,
//! nanosecond mtimes, extended attributes and ACLs, symlinks, hardlinks, empty
//! folders, sparse files: a clone shares the extents, holes included).

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::cancel::Cancel;
use crate::repo::meta::{Applier, Meta};
use crate::repo::tree;

#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    /// The file system cannot clone (or not across these folders): copy instead.
    #[error("reflinks are not available here: {0}")]
    Unsupported(String),
    #[error("cannot clone {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CloneError + '_ {
    move |source| CloneError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Clones one file's blocks (FICLONE); the target is created new (mode 0600).
pub fn clone_file(src: &Path, dest: &Path) -> Result<(), CloneError> {
    let from = File::open(src).map_err(io(src))?;
    let to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(io(dest))?;
    // SAFETY: both descriptors are open for the duration of the call.
    let rc = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) };
    if rc == -1 {
        let e = std::io::Error::last_os_error();
        let _ = fs::remove_file(dest);
        return Err(match e.raw_os_error() {
            Some(libc::EXDEV)
            | Some(libc::EOPNOTSUPP)
            | Some(libc::EINVAL)
            | Some(libc::ENOTTY) => {
                CloneError::Unsupported(format!("{} → {}: {e}", src.display(), dest.display()))
            }
            _ => CloneError::Io {
                path: src.to_path_buf(),
                source: e,
            },
        });
    }
    Ok(())
}

/// Whether `dir`'s file system clones files (tried on a scratch file there).
pub fn supported(dir: &Path) -> bool {
    let a = dir.join(".reflink-probe-a");
    let b = dir.join(".reflink-probe-b");
    let ok = fs::write(&a, b"probe").is_ok() && clone_file(&a, &b).is_ok();
    let _ = fs::remove_file(&a);
    let _ = fs::remove_file(&b);
    ok
}

/// Whether `src` can be cloned into `dir`: the same file system, and it clones.
pub fn possible(src: &Path, dir: &Path) -> bool {
    let same =
        matches!((fs::metadata(src), fs::metadata(dir)), (Ok(a), Ok(b)) if a.dev() == b.dev());
    same && supported(dir)
}

/// Clones the tree `src` into `dest` (which must not exist), with the shared walk
/// (sorted, no symlinks followed, no other file systems entered) and the shared
/// metadata applier (owners, modes, extended attributes, nanosecond mtimes).
/// Returns warnings: entries not cloned (sockets, fifos, devices, the contents of
/// mount points) and attributes that could not be set.
pub fn clone_tree(src: &Path, dest: &Path, cancel: &Cancel) -> Result<Vec<String>, CloneError> {
    let mut warnings = Vec::new();
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut dirs: Vec<(PathBuf, Meta)> = Vec::new();
    let mut applier = Applier::new();
    for node in tree::walk(src) {
        if cancel.is_cancelled() {
            return Err(CloneError::Cancelled);
        }
        let node = node.map_err(|e| CloneError::Io {
            path: e.path,
            source: e.source,
        })?;
        let to = if node.rel == Path::new(".") {
            dest.to_path_buf()
        } else {
            dest.join(&node.rel)
        };
        let meta = &node.meta;
        let ft = meta.file_type();
        let capture = || Meta::capture(&node.abs, meta).map_err(io(&node.abs));
        if ft.is_dir() {
            if node.mount_point {
                warnings.push(tree::mount_point_warning(src, &node.abs));
            }
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&to)
                .map_err(io(&to))?;
            dirs.push((to, capture()?));
        } else if ft.is_symlink() {
            let target = fs::read_link(&node.abs).map_err(io(&node.abs))?;
            std::os::unix::fs::symlink(target, &to).map_err(io(&to))?;
            applier.apply(&to, &capture()?, true).map_err(io(&to))?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = links.get(&key).filter(|_| meta.nlink() > 1) {
                fs::hard_link(first, &to).map_err(io(&to))?;
                continue;
            }
            clone_file(&node.abs, &to)?;
            applier.apply(&to, &capture()?, false).map_err(io(&to))?;
            if meta.nlink() > 1 {
                links.insert(key, to);
            }
        } else {
            warnings.push(format!(
                "skipped {} (sockets, fifos and device files are not backed up)",
                node.abs.display()
            ));
        }
    }
    // Folders last, deepest first, so filling them does not change their mtimes.
    for (path, meta) in dirs.iter().rev() {
        applier.apply(path, meta, false).map_err(io(path))?;
    }
    warnings.extend(applier.xattr_warnings());
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_system_without_reflinks_says_unsupported() {
        // tmpfs never has reflinks, whatever the temp folder is (tests/root/reflink.rs
        // covers XFS, which has them).
        let dir = tempfile::tempdir_in("/dev/shm")
            .expect("this test needs /dev/shm, a tmpfs (which has no reflinks)");
        assert!(
            !supported(dir.path()),
            "/dev/shm is expected to be a tmpfs, without reflinks"
        );
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("f"), b"x").unwrap();
        let err = clone_tree(&src, &dir.path().join("dest"), &Cancel::new()).unwrap_err();
        assert!(matches!(err, CloneError::Unsupported(_)), "{err}");
    }
}
