//! Errors of the operations, grouped by what the caller must do (and which exit code
//! the CLI gives).

use crate::install::detect::DetectError;
use crate::repo::archive::ArchiveError;
use crate::repo::generation::RepoError;
use crate::repo::lock::LockError;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// A check found damage; nothing was changed.
    #[error("verification failed: {0}")]
    Verify(String),
    /// Refused before anything was stopped or written.
    #[error("{0}")]
    Refused(String),
    /// An earlier run was interrupted with services down; `recover` first.
    #[error("{0}")]
    NeedsRecover(String),
    /// Stopped by Ctrl-C or SIGTERM; `detail` says what state things were left in.
    #[error("cancelled: {detail}")]
    Cancelled { detail: String },
    /// Failed while working; `detail` says what happened and in what state things are.
    #[error("{detail}")]
    Failed { detail: String },
}

impl OpError {
    pub fn failed(detail: impl Into<String>) -> Self {
        OpError::Failed {
            detail: detail.into(),
        }
    }

    /// Builds the error for a failure inside a maintenance window: the cause, then
    /// what happened to the services (restarted, or which ones are still down).
    pub fn in_window(cause: &OpError, aftermath: &str, cancelled: bool) -> Self {
        let detail = format!("{cause}. {aftermath}");
        if cancelled {
            OpError::Cancelled { detail }
        } else {
            OpError::Failed { detail }
        }
    }
}

impl From<ArchiveError> for OpError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Cancelled => OpError::Cancelled {
                detail: "the operation was cancelled".into(),
            },
            ArchiveError::HashMismatch { .. }
            | ArchiveError::Corrupt { .. }
            | ArchiveError::TooLarge { .. } => OpError::Verify(e.to_string()),
            other => OpError::failed(other.to_string()),
        }
    }
}
