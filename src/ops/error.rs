//! Errors of the operations, grouped by what the caller must do (and which exit code
//! the CLI gives).

use crate::install::detect::DetectError;
use crate::repo::archive::ArchiveError;
use crate::repo::error::RepoError;
use crate::repo::lock::LockError;

/// The detail of a plain cancellation: the variant's own text says "cancelled: ",
/// so the detail says what that meant, not the same word again.
pub const STOPPED: &str = "stopped before it finished";

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
        // A cancelled cause is told by its detail: its whole text begins with
        // "cancelled: ", which the result says already ("cancelled: cancelled: …").
        let (detail, cancelled) = match cause {
            OpError::Cancelled { detail } => (format!("{detail}. {aftermath}"), true),
            other => (format!("{other}. {aftermath}"), cancelled),
        };
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
                detail: STOPPED.into(),
            },
            ArchiveError::HashMismatch { .. }
            | ArchiveError::Corrupt { .. }
            | ArchiveError::TooLarge { .. } => OpError::Verify(e.to_string()),
            other => OpError::failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_window_says_cancelled_once() {
        let aftermath = "The services were started again. No generation was written.";
        let cause = OpError::from(ArchiveError::Cancelled);
        let e = OpError::in_window(&cause, aftermath, true);
        assert!(matches!(e, OpError::Cancelled { .. }));
        assert_eq!(
            e.to_string(),
            "cancelled: stopped before it finished. The services were started again. \
             No generation was written."
        );
        // A failure that the cancel caused is still reported as cancelled, once.
        let e = OpError::in_window(&OpError::failed("reading x failed"), aftermath, true);
        assert_eq!(
            e.to_string(),
            format!("cancelled: reading x failed. {aftermath}")
        );
        // A cancelled cause is a cancellation even when the flag was not seen.
        let cause = OpError::Cancelled {
            detail: "the copy was cancelled".into(),
        };
        let e = OpError::in_window(&cause, aftermath, false);
        assert_eq!(
            e.to_string(),
            format!("cancelled: the copy was cancelled. {aftermath}")
        );
    }
}
