//! One run at a time per repository. The lock is an `flock` on `<repo>/.lock`, which
//! the kernel releases when the holder dies; the file also records the holder's pid,
//! host and start time so a refused run can say who holds it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

pub const LOCK_FILE: &str = ".lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another structr-backup run holds the repository lock {path} ({holder}); wait for it to finish, or check that process"
    )]
    Held { path: PathBuf, holder: String },
    #[error("cannot open the repository lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while a run works on the repository; released on drop (or by the kernel on death).
#[derive(Debug)]
pub struct RepoLock {
    _file: Flock<File>,
    /// Set when the previous holder died without cleaning up (its record was still there).
    pub stale_holder: Option<String>,
}

pub fn acquire(repo: &Path, operation: &str) -> Result<RepoLock, LockError> {
    let path = repo.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, _)) => {
            return Err(LockError::Held {
                holder: read_record(&mut file).unwrap_or_else(|| "pid unknown".into()),
                path,
            })
        }
    };
    // A record left in the file means its writer died without releasing: the lock is
    // ours now (the kernel dropped theirs), but say so.
    let stale_holder = read_record(&mut locked).filter(|r| !r.is_empty());
    let record = format!(
        "pid {} on {}, {} since {}",
        std::process::id(),
        hostname(),
        operation,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let write = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(record.as_bytes())?;
        f.sync_all()
    };
    write(&mut locked).map_err(|source| LockError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(RepoLock {
        _file: locked,
        stale_holder,
    })
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Clear the record so the next run does not report a stale holder; the flock
        // itself goes with the file descriptor.
        let _ = self._file.set_len(0);
    }
}

fn read_record(file: &mut File) -> Option<String> {
    let mut s = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut s).ok()?;
    Some(s.trim().to_string())
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether a lock file exists and is currently held by a live process (for `status` displays).
pub fn holder(repo: &Path) -> Option<String> {
    let path = repo.join(LOCK_FILE);
    let file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_) => None,
        Err((mut file, _)) => read_record(&mut file),
    }
}

pub fn remove_if_unused(repo: &Path) {
    if holder(repo).is_none() {
        let _ = fs::remove_file(repo.join(LOCK_FILE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
