//! Reflink clones: on file systems that share blocks between files (XFS, btrfs), a
//! component is cloned into the generation's staging folder while the services are
//! stopped, which costs metadata time only; the services start again and the clone
//! is compressed afterwards. Keeps modes, owners, mtimes, symlinks, hardlinks and
//! empty folders, like the archive does.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::cancel::Cancel;

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

/// Clones one file's blocks (FICLONE); the target is created new.
fn clone_file(src: &Path, dest: &Path) -> Result<(), CloneError> {
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

/// Clones the tree `src` into `dest` (which must not exist). Returns warnings for
/// entries that are not cloned (sockets, fifos, devices).
pub fn clone_tree(src: &Path, dest: &Path, cancel: &Cancel) -> Result<Vec<String>, CloneError> {
    let mut warnings = Vec::new();
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut dirs: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    let root = root_user();
    let mut stack = vec![(src.to_path_buf(), dest.to_path_buf())];
    while let Some((from, to)) = stack.pop() {
        if cancel.is_cancelled() {
            return Err(CloneError::Cancelled);
        }
        let meta = fs::symlink_metadata(&from).map_err(io(&from))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&to)
                .map_err(io(&to))?;
            for e in fs::read_dir(&from).map_err(io(&from))? {
                let e = e.map_err(io(&from))?;
                stack.push((e.path(), to.join(e.file_name())));
            }
            dirs.push((to, meta));
        } else if ft.is_symlink() {
            let target = fs::read_link(&from).map_err(io(&from))?;
            std::os::unix::fs::symlink(target, &to).map_err(io(&to))?;
            set_meta(&to, &meta, root, true)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = links.get(&key).filter(|_| meta.nlink() > 1) {
                fs::hard_link(first, &to).map_err(io(&to))?;
                continue;
            }
            clone_file(&from, &to)?;
            set_meta(&to, &meta, root, false)?;
            if meta.nlink() > 1 {
                links.insert(key, to);
            }
        } else {
            warnings.push(format!(
                "skipped {} (sockets, fifos and device files are not backed up)",
                from.display()
            ));
        }
    }
    // Folders last, deepest first, so filling them does not change their mtimes.
    for (path, meta) in dirs.iter().rev() {
        set_meta(path, meta, root, false)?;
    }
    Ok(warnings)
}

fn root_user() -> bool {
    nix::unistd::geteuid().is_root()
}

fn set_meta(path: &Path, meta: &fs::Metadata, root: bool, symlink: bool) -> Result<(), CloneError> {
    if root {
        std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid())).map_err(io(path))?;
    }
    if !symlink {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io(path))?;
    }
    let t = nix::sys::time::TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| CloneError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_system_without_reflinks_says_unsupported() {
        // The test machine's temp folder is ext4 or tmpfs: no reflinks there.
        let dir = tempfile::tempdir().unwrap();
        if supported(dir.path()) {
            return; // a reflink-capable temp folder: covered by tests/reflink.rs
        }
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("f"), b"x").unwrap();
        let err = clone_tree(&src, &dir.path().join("dest"), &Cancel::new()).unwrap_err();
        assert!(matches!(err, CloneError::Unsupported(_)), "{err}");
    }
}
