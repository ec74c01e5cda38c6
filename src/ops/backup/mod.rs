//! Backup: one cold-backup driver (`driver.rs`: preflight → stop Structr, stop
//! Neo4j → copy → start Neo4j, start Structr → publish) with one copier per way
//! of copying (`copier.rs`): archives written while stopped, a mirror (rsync or
//! reflink clones) or LVM snapshots archived after the start (`archive.rs`), an external snapshot
//! command (`command.rs`), or restic (`restic.rs`). Then the off-site copies.

mod archive;
mod command;
mod copier;
mod driver;
mod lvm;
mod mirror;
mod placement;
mod reflink;
mod restic;
mod staging;

use super::event::Sink;
use super::offsite;
use super::window::Closing;
use super::{Context, OpError};
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;
use archive::{ArchiveCopier, Staging};
use command::CommandCopier;
use copier::Copier;
use restic::ResticCopier;
pub use staging::describe as describe_window;

#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    pub label: String,
}

#[derive(Debug)]
pub struct Outcome {
    pub manifest: Manifest,
    pub closing: Closing,
    /// One result per `[[offsite]]` target, in config order.
    pub offsite: Vec<offsite::Copied>,
}

/// Backs up into the configured repository, then copies the new generation to
/// each off-site target (the services already run again by then).
pub fn run(ctx: &Context, opts: &BackupOptions, on: Sink) -> Result<Outcome, OpError> {
    let mut copier: Box<dyn Copier> = match &ctx.store {
        Store::Archive(repo) if ctx.snapshot_run => {
            match (&ctx.snapshot.command, ctx.snapshot.lvm) {
                (_, true) => Box::new(ArchiveCopier::new(repo, Staging::Lvm(lvm::LvmStage::new()))),
                (Some(line), false) => Box::new(CommandCopier::new(repo, line)),
                (None, false) => return Err(OpError::Refused(
                    "no snapshot is configured: set `command` (your hypervisor's or cloud's snapshot tool) or `lvm = true` in [snapshot]".into(),
                )),
            }
        }
        Store::Restic(r) if ctx.snapshot_run => {
            return Err(OpError::Refused(format!(
                "snapshot backups are recorded in an archive-kind repository; {} is a restic repository. Run a cold backup (without --snapshot)",
                r.location
            )))
        }
        Store::Archive(repo) => Box::new(ArchiveCopier::new(repo, Staging::Direct)),
        Store::Restic(r) => Box::new(ResticCopier::new(r)),
        Store::Rclone(r) => {
            return Err(OpError::Refused(format!(
            "{} is an off-site target; backups are written into the repository and copied there",
            r.location()
        )))
        }
    };
    let (manifest, closing) = driver::cold(ctx, copier.as_mut(), &opts.label, on)?;
    // A snapshot kept by a hypervisor has nothing here to copy off-site.
    let offsite = ctx
        .offsite
        .iter()
        .filter(|_| !manifest.is_external_snapshot())
        .map(|(name, to)| offsite::copy(&ctx.store, name, to, &manifest, &ctx.cancel, on))
        .collect();
    Ok(Outcome {
        manifest,
        closing,
        offsite,
    })
}
