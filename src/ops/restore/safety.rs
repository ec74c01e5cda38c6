//! The safety backup of the current state, and whether the restore fits.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::super::archiving::{copy_components, new_manifest, preflight_checks, publish};
use super::super::event::{Event, Sink};
use super::super::preflight::Estimate;
use super::super::{lock_store, restic, Context, OpError};
use super::options::RestoreOptions;
use super::place::has_entries;
use crate::install::Installation;
use crate::ops::placement::Placement;
use crate::repo::generation::Repo;
use crate::repo::lock::Lock;
use crate::repo::manifest::{Manifest, Timings};
use crate::repo::store::Store;

pub const SAFETY_LABEL: &str = "pre-restore";

/// The safety backup a restore takes of the current state, decided and checked
/// before anything stops.
pub(super) struct Safety {
    /// The components that exist and hold something: a target that does not exist
    /// yet (a fresh server) or is empty has nothing to save.
    saved: Installation,
    take: bool,
    /// The archive kind's preflight of the safety backup.
    estimate: Option<Estimate>,
    /// The archive repository's folder, where it goes.
    repo: Option<PathBuf>,
    /// The repository, which receives it, when the generation comes from elsewhere.
    _lock: Option<Lock>,
}

impl Safety {
    pub(super) fn prepare(
        ctx: &Context,
        from: &Store,
        opts: &RestoreOptions,
        on: Sink,
    ) -> Result<Safety, OpError> {
        let saved = ctx.inst.only(|c| has_entries(&c.path));
        for c in ctx.inst.components.iter().filter(|c| !has_entries(&c.path)) {
            on(Event::Info(format!(
                "nothing to save: {} {}",
                c.path.display(),
                if c.path.exists() {
                    "is empty"
                } else {
                    "does not exist"
                }
            )));
        }
        let take = opts.safety_backup && !saved.components.is_empty();
        let same = same_store(from, &ctx.store);
        let lock = match take && !same {
            true => lock_store(&ctx.store, "restore")?,
            false => None,
        };
        let mut safety = Safety {
            saved,
            take,
            estimate: None,
            repo: ctx.store.archive().map(|r| r.root.clone()),
            _lock: lock,
        };
        safety.estimate = match (&ctx.store, take) {
            (Store::Archive(repo), true) => Some(preflight_checks(&safety.context(ctx), repo, on)?),
            (Store::Restic(r), true) if !r.exists()? => {
                return Err(OpError::Refused(format!(
                    "the safety backup goes into the restic repository {}, which does not exist: create it with `structr-backup init`, or restore with --no-safety-backup. Nothing was stopped",
                    r.location
                )))
            }
            _ => None,
        };
        Ok(safety)
    }

    /// The context the safety backup runs in: only the saved components, no
    /// off-site copies, no application export, no staging.
    fn context<'a>(&'a self, ctx: &Context) -> Context<'a> {
        Context {
            archive: ctx.archive.clone(),
            cancel: ctx.cancel.clone(),
            configured: ctx.configured.clone(),
            ..Context::preview(&self.saved, ctx.store.clone())
        }
    }

    /// What the safety backup needs in the repository, for the space check.
    pub(super) fn space(&self) -> Option<(&Estimate, &PathBuf)> {
        self.estimate.as_ref().zip(self.repo.as_ref())
    }

    /// Takes it (the services are stopped), when one is to be taken.
    pub(super) fn take(
        &self,
        ctx: &Context,
        restoring: &str,
        on: Sink,
    ) -> Result<Option<Manifest>, OpError> {
        if !self.take {
            return Ok(None);
        }
        let sctx = self.context(ctx);
        match (&ctx.store, &self.estimate) {
            (Store::Archive(repo), Some(estimate)) => {
                safety_backup(&sctx, repo, estimate, restoring, on).map(Some)
            }
            (Store::Restic(r), _) => restic::safety_backup(&sctx, r, SAFETY_LABEL, restoring, on)
                .map(Some)
                .map_err(safety_failed),
            _ => Err(OpError::failed(
                "the safety backup has no repository to go to",
            )),
        }
    }
}

/// Whether two stores are the same repository (as far as their location says).
fn same_store(a: &Store, b: &Store) -> bool {
    a.kind() == b.kind() && a.location() == b.location()
}

/// Compares what the restore will write with the free space of every file system
/// it writes to, before anything stops: the extracted copies (sized from the file
/// indexes, so a damaged or hostile manifest cannot understate them) beside their
/// targets, and the safety backup in the repository. The old folders are kept, so
/// their space is not freed; 2% and 16 MiB are kept free on top.
pub(super) fn check_target_space(
    placements: &[Placement],
    sizes: &[u64],
    safety: Option<(&Estimate, &PathBuf)>,
) -> Result<(), OpError> {
    // A folder that does not exist yet is made on the file system of its nearest
    // existing ancestor.
    let dev_of = |p: &Path| {
        let p = p.ancestors().find(|a| a.exists()).unwrap_or(Path::new("/"));
        fs::metadata(p)
            .map(|m| m.dev())
            .map_err(|e| OpError::Refused(format!("cannot read {}: {e}", p.display())))
    };
    // Per file system: a folder on it, and the bytes that go there.
    let mut needs: BTreeMap<u64, (PathBuf, u64)> = BTreeMap::new();
    for (p, size) in placements.iter().zip(sizes) {
        let parent = p.staging.parent().unwrap_or(Path::new("/"));
        let entry = needs
            .entry(dev_of(parent)?)
            .or_insert((parent.to_path_buf(), 0));
        entry.1 = entry.1.saturating_add(*size);
    }
    if let Some((e, repo)) = safety {
        let entry = needs.entry(dev_of(repo)?).or_insert((repo.clone(), 0));
        entry.1 = entry.1.saturating_add(e.needed_bytes);
    }
    for (dir, bytes) in needs.values() {
        let needed = bytes.saturating_add(bytes / 50).saturating_add(16 << 20);
        let free = super::super::preflight::free_space(dir)?;
        if free < needed {
            return Err(OpError::Refused(format!(
                "not enough free space on the file system of {} for the restore: {} needed (the restored copies{}; the current folders are kept), {} free. Nothing was stopped",
                dir.display(),
                crate::units::bytes(needed),
                if safety.is_some() { " and the safety backup" } else { "" },
                crate::units::bytes(free)
            )));
        }
    }
    Ok(())
}

/// The safety backup of a restore of generation `restoring`.
fn safety_backup(
    ctx: &Context,
    repo: &Repo,
    estimate: &Estimate,
    restoring: &str,
    on: Sink,
) -> Result<Manifest, OpError> {
    let created = chrono::Utc::now();
    let id = repo.new_id(created);
    let partial = repo.create_partial(&id)?;
    let result =
        copy_components(ctx, &partial, estimate, None, SAFETY_LABEL, on).and_then(|components| {
            let mut m = new_manifest(
                ctx,
                &id,
                created,
                SAFETY_LABEL,
                components,
                &estimate.sources,
                Timings::default(),
            );
            m.restoring = Some(restoring.to_string());
            publish(ctx, repo, &partial, &m)?;
            Ok(m)
        });
    match result {
        Ok(m) => {
            on(Event::Info(format!(
                "safety backup written as generation {}",
                m.id
            )));
            Ok(m)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            Err(safety_failed(e))
        }
    }
}

/// A safety backup that did not finish: a cancel stays a cancel (not "the safety
/// backup failed: cancelled: …"), anything else says it was the safety backup.
fn safety_failed(e: OpError) -> OpError {
    match e {
        OpError::Cancelled { .. } => e,
        other => OpError::failed(format!("the safety backup failed: {other}")),
    }
}

#[cfg(test)]
mod safety_tests {
    use super::*;

    #[test]
    fn a_cancelled_safety_backup_is_said_once_as_a_cancel() {
        let e = safety_failed(OpError::Cancelled {
            detail: super::super::super::error::STOPPED.into(),
        });
        assert!(matches!(e, OpError::Cancelled { .. }));
        assert_eq!(e.to_string(), "cancelled: stopped before it finished");
        let f = safety_failed(OpError::failed("disk full"));
        assert_eq!(f.to_string(), "the safety backup failed: disk full");
    }
}
