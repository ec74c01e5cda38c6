//! The error every repository kind reports (archive folders, restic, rclone).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// There is no repository where one was named (restic: exit 10, the same here).
    #[error("{0}")]
    NoRepository(String),
    /// The password does not open the repository (restic: exit 12, the same here).
    #[error("{0}")]
    WrongPassword(String),
    #[error("no generation {id} in {root} (run `structr-backup list` to see the ids)")]
    NotFound { id: String, root: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the manifest {path} is damaged: {detail}")]
    BadManifest { path: PathBuf, detail: String },
    #[error("{given:?} is not a generation id (ids look like 20261124T031500Z; a unique prefix or `latest` works too)")]
    BadId { given: String },
    #[error("{given} matches {} generations: {}; type more of the id", .candidates.len(), .candidates.join(", "))]
    Ambiguous {
        given: String,
        candidates: Vec<String>,
    },
    /// What restic or rclone said went wrong (already in words for the user).
    #[error("{0}")]
    Backend(String),
    /// Someone else can write into the repository: whatever we read there could be
    /// planted, so nothing is done in it.
    /// `fix` is a sentence saying what to do (see `repo::trust`).
    #[error("refusing the repository {repo}: {reason}. {fix}, then run the command again")]
    Untrusted {
        repo: PathBuf,
        reason: String,
        fix: String,
    },
}

pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RepoError {
    let path = path.to_path_buf();
    move |source| RepoError::Io {
        action,
        path,
        source,
    }
}
