//! What restic's locks and password file mean for a run, said before anything
//! stops: a lock left by a killed run, a password file others can read.

use chrono::Utc;

use super::OpError;
use crate::repo::lock::LockError;
use crate::repo::restic::{Restic, ResticError};

impl From<ResticError> for OpError {
    fn from(e: ResticError) -> Self {
        match e {
            ResticError::Cancelled => OpError::Cancelled {
                detail: crate::ops::error::STOPPED.into(),
            },
            ResticError::Locked { .. } => OpError::Lock(LockError::Restic(format!(
                "{e}. If no other restic or structr-backup run is working on it, \
                 `structr-backup recover` removes stale locks (`restic unlock`)"
            ))),
            other => OpError::Repo(other.into()),
        }
    }
}

/// A warning when the password file can be read by other users: with it and read
/// access to the repository, anyone can read every generation.
pub fn password_file_warning(r: &Restic) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&r.password_file)
        .ok()?
        .permissions()
        .mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "the restic password file {} can be read by other users (mode {:o}): \
             `chmod 600 {}`",
            r.password_file.display(),
            mode & 0o7777,
            r.password_file.display()
        )
    })
}

/// What a command needs of restic's locks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LockNeed {
    /// `backup`, `restore`: a shared lock, which an exclusive one blocks.
    Shared,
    /// `check`, `forget`, `prune`: an exclusive lock, which any lock blocks.
    Exclusive,
}

/// Refuses, before anything stops, what restic would refuse for a lock, saying
/// whose lock it is and, for a stale one, how to remove it.
pub fn check_locks(r: &Restic, need: LockNeed) -> Result<(), OpError> {
    let now = Utc::now();
    let host = crate::sys::hostname();
    let locks = r.locks()?;
    let blocking: Vec<_> = locks
        .read
        .into_iter()
        .filter(|l| need == LockNeed::Exclusive || l.exclusive)
        .collect();
    // Locks beyond those read are not known to be harmless: they count.
    if blocking.is_empty() && locks.unread == 0 {
        return Ok(());
    }
    let mut described: Vec<String> = blocking.iter().map(|l| l.describe(now)).collect();
    if locks.unread > 0 {
        described.push(format!(
            "{} more locks not read (`restic list locks` lists them)",
            locks.unread
        ));
    }
    let all_stale = locks.unread == 0 && blocking.iter().all(|l| l.is_stale(&host, now));
    let advice = if all_stale {
        format!(
            "{} stale (its process is gone or it is older than {} min): remove it with \
             `structr-backup recover`, or by hand with `restic unlock` on this repository",
            if blocking.len() == 1 {
                "it is"
            } else {
                "they are"
            },
            crate::repo::restic::STALE_AFTER.num_minutes()
        )
    } else {
        "another restic run is working on it: wait for it to finish (`restic list locks` \
         shows the locks)"
            .to_string()
    };
    Err(OpError::Lock(LockError::Restic(format!(
        "the restic repository {} is locked ({}); {advice}. Nothing was stopped",
        r.location,
        described.join("; ")
    ))))
}
