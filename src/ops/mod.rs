//! The procedures (backup, restore, verify, prune, recover) as sequences of steps that
//! report `Event`s. They use `install` and `repo`; faces use them.

pub mod backup;
pub mod error;
pub mod event;
pub mod journal;
pub mod parallel;
pub mod preflight;
pub mod prune;
pub mod recover;
pub mod restore;
pub mod verify;
pub mod window;

pub use error::OpError;
pub use event::{Event, Sink, Step};

use crate::cancel::Cancel;
use crate::install::Installation;
use crate::repo::archive::ArchiveOptions;
use crate::repo::generation::Repo;

/// What every operation needs: the installation, the repository, how to compress,
/// and the flag that Ctrl-C / SIGTERM / the TUI set to cancel.
pub struct Context<'a> {
    pub inst: &'a Installation,
    pub repo: Repo,
    pub archive: ArchiveOptions,
    pub cancel: Cancel,
    /// Clone the sources with reflinks while stopped when the file system allows.
    pub reflink: bool,
}

/// Refuses to start while an interrupted run's journal says services are down.
pub fn refuse_if_interrupted(repo: &Repo) -> Result<(), OpError> {
    match journal::interrupted(&repo.root) {
        Some(record) => Err(OpError::NeedsRecover(record.describe())),
        None => Ok(()),
    }
}
