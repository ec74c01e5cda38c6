//! One run at a time: an `flock` on a lock file, which the kernel releases when the
//! holder dies; the file also records the holder's pid, host and start time so a
//! refused run can say who holds it. Two locks use this: the repository's
//! (`<repo>/.lock`) and the installation's (under /run/lock, see `ops::state`).
//!
//! Lock files are opened without following symlinks: a repository may be writable
//! by someone else, and a planted symlink must not make root truncate its target.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

pub const LOCK_FILE: &str = ".lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another structr-backup run holds the {what} lock {path} ({holder}); wait for it to finish, or check that process"
    )]
    Held {
        what: &'static str,
        path: PathBuf,
        holder: String,
    },
    /// restic would refuse: a lock in a restic repository (another restic at work,
    /// or one killed without removing its lock).
    #[error("{0}")]
    Restic(String),
    #[error("cannot open the {what} lock {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing the {what} lock {path}: {reason}")]
    Unsafe {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// Held while a run works; released on drop (or by the kernel on death).
#[derive(Debug)]
pub struct Lock {
    file: Flock<File>,
    /// Set when the previous holder died without cleaning up (its record was still there).
    pub stale_holder: Option<String>,
}

/// The repository's lock (`<repo>/.lock`).
pub type RepoLock = Lock;

/// Locks the repository at `repo`.
pub fn acquire(repo: &Path, operation: &str) -> Result<Lock, LockError> {
    acquire_file(&repo.join(LOCK_FILE), "repository", operation)
}

/// Takes the lock at `path` (created owner-only when missing), or says who holds it.
pub fn acquire_file(path: &Path, what: &'static str, operation: &str) -> Result<Lock, LockError> {
    let io = |source| LockError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let file = open_no_follow(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => LockError::Unsafe {
            what,
            path: path.to_path_buf(),
            reason: "it is a symbolic link (someone else can write there); remove it".into(),
        },
        _ => io(e),
    })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(LockError::Unsafe {
            what,
            path: path.to_path_buf(),
            reason: "it is not a regular file; remove it".into(),
        });
    }
    // Owned by someone else (a file planted in a shared folder): they could hold or
    // rewrite it at will; refuse rather than trust it.
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(LockError::Unsafe {
            what,
            path: path.to_path_buf(),
            reason: format!("it belongs to uid {}, not to us; remove it", meta.uid()),
        });
    }
    let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, _)) => {
            return Err(LockError::Held {
                what,
                holder: read_record(&mut file).unwrap_or_else(|| "pid unknown".into()),
                path: path.to_path_buf(),
            })
        }
    };
    // A record left in the file means its writer died without releasing: the lock is
    // ours now (the kernel dropped theirs), but say so.
    let stale_holder = read_record(&mut locked).filter(|r| !r.is_empty());
    let record = format!(
        "pid {} on {}, {} since {}",
        std::process::id(),
        crate::sys::hostname(),
        operation,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let write = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(record.as_bytes())?;
        f.sync_all()
    };
    write(&mut locked).map_err(io)?;
    Ok(Lock {
        file: locked,
        stale_holder,
    })
}

/// Opens (creating owner-only) without following a symlink at the last component.
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Clear the record so the next run does not report a stale holder; the flock
        // itself goes with the file descriptor.
        let _ = self.file.set_len(0);
    }
}

fn read_record(file: &mut File) -> Option<String> {
    let mut s = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut s).ok()?;
    Some(s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn second_lock_is_refused_with_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "backup").unwrap();
        assert!(first.stale_holder.is_none());
        // flock locks belong to the open file description, so a second open in the
        // same process conflicts just like another process would.
        let err = acquire(dir.path(), "backup").unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        let again = acquire(dir.path(), "backup").unwrap();
        assert!(
            again.stale_holder.is_none(),
            "a clean release leaves no record"
        );
    }

    #[test]
    fn a_dead_holders_record_is_reported_as_stale() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(LOCK_FILE),
            "pid 999999 on x, backup since then",
        )
        .unwrap();
        let lock = acquire(dir.path(), "backup").unwrap();
        assert!(lock.stale_holder.as_deref().unwrap().contains("999999"));
    }

    #[test]
    fn a_symlinked_lock_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(LOCK_FILE)).unwrap();
        let err = acquire(dir.path(), "backup").unwrap_err();
        assert!(matches!(err, LockError::Unsafe { .. }), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }
}
