//! Reflink clones of single files: on file systems that share blocks between
//! files (XFS, btrfs) a clone costs metadata time only, holes included. The
//! reflink mirror (`ops/backup/reflink.rs`) clones the changed files with it.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
        let src = dir.path().join("f");
        fs::write(&src, b"x").unwrap();
        let err = clone_file(&src, &dir.path().join("g")).unwrap_err();
        assert!(matches!(err, CloneError::Unsupported(_)), "{err}");
    }
}
