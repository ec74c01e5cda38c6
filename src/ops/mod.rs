//! The procedures (backup, restore, verify, prune, recover) as sequences of steps that
//! report `Event`s. They use `install` and `repo`; faces use them.

mod app_dest;
pub mod app_export;
pub mod app_git;
mod archiving;
pub mod backup;
pub mod compare;
pub mod compat;
pub mod drill;
pub mod error;
pub mod event;
pub mod exit;
pub mod init;
pub mod journal;
pub mod kept;
mod maintenance;
pub mod offsite;
pub mod parallel;
pub mod pin;
pub mod placement;
pub mod preflight;
pub mod prune;
pub mod recover;
pub mod restic;
pub mod restic_locks;
pub mod restore;
pub mod runbook;
pub mod snapshot;
pub mod source;
pub mod state;
mod swap;
pub mod unpack;
pub mod verify;
pub mod window;

pub use error::OpError;
pub use event::{Event, Sink, Step};

use crate::cancel::Cancel;
use crate::config::{Config, InstallationConfig};
use crate::install::Installation;
use crate::repo::archive::ArchiveOptions;
use crate::repo::generation::Repo;
use crate::repo::lock::{self, Lock};
use crate::repo::store::Store;

/// What every operation needs: the installation, the repository, how to compress,
/// and the flag that Ctrl-C / SIGTERM / the TUI set to cancel.
pub struct Context<'a> {
    pub inst: &'a Installation,
    pub store: Store,
    /// Where each new generation is copied once the services run again.
    pub offsite: Vec<(String, Store)>,
    pub archive: ArchiveOptions,
    pub cancel: Cancel,
    /// Clone the sources with reflinks while stopped when the file system allows.
    pub reflink: bool,
    /// The configured installation: its service commands go into each
    /// generation's runbook.
    pub configured: InstallationConfig,
    /// `[application]`: whether to ask the running Structr for its application
    /// export before a backup stops it, and the export's bounds.
    pub application: crate::config::ApplicationConfig,
    /// `[snapshot]`: how a snapshot backup is taken, and how prune deletes one.
    pub snapshot: crate::config::SnapshotConfig,
    /// This backup is a snapshot backup (`backup --snapshot`, `[snapshot] default`).
    pub snapshot_run: bool,
    /// `[staging]`: how a cold backup takes its point-in-time copy.
    pub staging: crate::config::staging::StagingConfig,
}

impl<'a> Context<'a> {
    /// A context for looking only (plans, previews): nothing is written through it.
    pub fn preview(inst: &'a Installation, store: Store) -> Self {
        Context {
            inst,
            store,
            offsite: Vec::new(),
            archive: ArchiveOptions::default(),
            cancel: Cancel::new(),
            reflink: false,
            configured: InstallationConfig::default(),
            application: crate::config::ApplicationConfig {
                export: false,
                ..Default::default()
            },
            snapshot: Default::default(),
            snapshot_run: false,
            staging: Default::default(),
        }
    }

    /// The one place a context is made from the configuration.
    pub fn new(config: &Config, inst: &'a Installation, store: Store, cancel: Cancel) -> Self {
        Context {
            configured: config.installation.clone(),
            inst,
            store,
            offsite: config
                .offsite
                .iter()
                .map(|o| (o.name.clone(), Store::offsite(config, o)))
                .collect(),
            archive: ArchiveOptions {
                level: config.repository.compression_level,
                threads: config.repository.threads,
            },
            cancel,
            reflink: config.repository.reflink,
            application: config.application.clone(),
            snapshot: config.snapshot.clone(),
            snapshot_run: config.snapshot.default,
            staging: config.staging.clone(),
        }
    }
}

/// Ends a run that was cancelled (Ctrl-C, SIGTERM) before anything stops: looked
/// at right before the first stop, so a cancel during the export or the preflight
/// leaves every service untouched.
pub fn refuse_if_cancelled(cancel: &Cancel) -> Result<(), OpError> {
    match cancel.is_cancelled() {
        true => Err(OpError::Cancelled {
            detail: "nothing was stopped and no generation was written".into(),
        }),
        false => Ok(()),
    }
}

/// Refuses to start while an interrupted run's journal says services are down.
pub fn refuse_if_interrupted(inst: &Installation) -> Result<(), OpError> {
    match journal::interrupted(inst) {
        Some(record) => Err(OpError::NeedsRecover(record.describe())),
        None => Ok(()),
    }
}

/// Takes the repository lock after checking that nobody else can write there.
pub fn lock_repo(repo: &Repo, operation: &str) -> Result<Lock, OpError> {
    repo.check_trusted()?;
    Ok(lock::acquire(&repo.root, operation)?)
}

/// The archive kind's lock; a restic repository locks itself (restic's own
/// locks), and a local one is checked for other writers like a folder of ours.
pub fn lock_store(store: &Store, operation: &str) -> Result<Option<Lock>, OpError> {
    match store {
        Store::Archive(repo) => lock_repo(repo, operation).map(Some),
        // rclone checks nothing here; what it reads back is checked by hash.
        Store::Rclone(_) => Ok(None),
        Store::Restic(_) => {
            if let Some(folder) = store.local_folder() {
                Repo::new(folder).check_trusted()?;
            }
            Ok(None)
        }
    }
}
