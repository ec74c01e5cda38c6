//! Which staging a cold backup of the archive kind uses (`[staging] mode`),
//! decided before anything stops, and the mirror's disk space.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::lvm::LvmStage;
use super::mirror::Mirror;
use crate::config::staging::StagingMode;
use crate::ops::event::{Event, Sink};
use crate::ops::preflight::free_space;
use crate::ops::{state, Context, OpError};
use crate::repo::generation::Repo;
use crate::repo::store::Store;

/// How the point-in-time copy is taken.
pub enum Staging {
    /// The archives are written from the live folders while the services are
    /// stopped (or from reflink clones, where the file systems allow them).
    Direct,
    /// Reflink clones next to the generation while stopped; archived after the start.
    Reflink,
    /// LVM snapshots while stopped, mounted read-only and archived after the start.
    Lvm(LvmStage),
    /// A persistent mirror updated with the changed files while stopped; archived
    /// after the start.
    Mirror(Mirror),
}

/// The folder of mirrors and clones: `[staging] folder`, else in the state folder.
pub fn folder(ctx: &Context) -> PathBuf {
    ctx.staging
        .folder
        .clone()
        .unwrap_or_else(|| state::state_dir().join("staging"))
}

/// The staging for this run: reflink clones where the sources and the
/// repository share a file system that clones; else, run as root (who can read
/// every file of the installation), a mirror when rsync is there; else none. A
/// mode that was asked for and cannot be had is refused.
pub fn choose(ctx: &Context, repo: &Repo) -> Result<Staging, OpError> {
    let reflink = ctx.reflink && super::reflink::possible(ctx, repo);
    let root = nix::unistd::geteuid().is_root();
    match ctx.staging.mode {
        StagingMode::Off => Ok(Staging::Direct),
        StagingMode::Auto if reflink => Ok(Staging::Reflink),
        StagingMode::Auto if root && Mirror::available() => {
            Ok(Staging::Mirror(Mirror::new(ctx, &folder(ctx))))
        }
        StagingMode::Auto => Ok(Staging::Direct),
        StagingMode::Reflink if reflink => Ok(Staging::Reflink),
        StagingMode::Reflink => Err(OpError::Refused(format!(
            "[staging] mode = \"reflink\", but the sources and the repository {} do not share a file system that clones files (XFS with reflink, btrfs); set mode = \"auto\" or \"mirror\". Nothing was stopped",
            repo.root.display()
        ))),
        StagingMode::Mirror if Mirror::available() => {
            Ok(Staging::Mirror(Mirror::new(ctx, &folder(ctx))))
        }
        StagingMode::Mirror => Err(OpError::Refused(
            "[staging] mode = \"mirror\" needs rsync: install it (apt-get install rsync) or set mode = \"auto\". Nothing was stopped".into(),
        )),
    }
}

/// What the window of a cold backup will copy, in a line for a plan shown
/// before anything stops. It writes nothing (the run itself probes whether
/// clones work, after taking its locks), so it says "where the file system
/// clones" when the sources and the repository only share one.
pub fn describe(ctx: &Context) -> String {
    let mirror = || {
        format!(
            "window      only the changed files are copied into the mirror in {}; the archives are written after the start",
            folder(ctx).display()
        )
    };
    let direct = || "window      everything is copied while the services are stopped".to_string();
    let root = nix::unistd::geteuid().is_root();
    match (&ctx.store, ctx.staging.mode) {
        (Store::Rclone(_), _) => String::new(),
        (_, StagingMode::Off) => direct(),
        (Store::Archive(repo), StagingMode::Auto | StagingMode::Reflink)
            if ctx.reflink && shares_file_system(ctx, &repo.root) =>
        {
            "window      reflink clones where the file system clones; the archives are written after the start".into()
        }
        (Store::Restic(_), StagingMode::Reflink) | (_, StagingMode::Reflink) => {
            "Cannot back up: [staging] mode = \"reflink\" needs the sources and the repository on one XFS or btrfs file system".into()
        }
        (_, StagingMode::Auto) if root && Mirror::available() => mirror(),
        (_, StagingMode::Auto) => direct(),
        (_, StagingMode::Mirror) if Mirror::available() => mirror(),
        (_, StagingMode::Mirror) => {
            "Cannot back up: [staging] mode = \"mirror\" needs rsync".into()
        }
    }
}

/// Whether every component lies on the file system of `dir`, and it is one
/// that can clone (XFS, btrfs), told from its type without writing anything.
fn shares_file_system(ctx: &Context, dir: &Path) -> bool {
    use nix::sys::statfs::{statfs, BTRFS_SUPER_MAGIC, XFS_SUPER_MAGIC};
    let clones = statfs(dir).is_ok_and(|s| {
        s.filesystem_type() == XFS_SUPER_MAGIC || s.filesystem_type() == BTRFS_SUPER_MAGIC
    });
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    let Some(d) = dev(dir).filter(|_| clones) else {
        return false;
    };
    ctx.inst.components.iter().all(|c| dev(&c.path) == Some(d))
}

/// The staging of the restic kind: a mirror (restic reads it after the start
/// at the installation's own paths, through a mount namespace of its own,
/// which needs root), or none.
pub fn choose_for_restic(ctx: &Context) -> Result<Option<Mirror>, OpError> {
    let root = nix::unistd::geteuid().is_root();
    match ctx.staging.mode {
        StagingMode::Off => Ok(None),
        StagingMode::Auto if root && Mirror::available() => {
            Ok(Some(Mirror::new(ctx, &folder(ctx))))
        }
        StagingMode::Auto => Ok(None),
        StagingMode::Reflink => Err(OpError::Refused(
            "[staging] mode = \"reflink\" is for the archive kind; for a restic repository set mode = \"auto\" or \"mirror\". Nothing was stopped".into(),
        )),
        StagingMode::Mirror if !root => Err(OpError::Refused(
            "[staging] mode = \"mirror\" with a restic repository needs root (restic reads the mirror at the installation's paths in a mount namespace of its own). Nothing was stopped".into(),
        )),
        StagingMode::Mirror if Mirror::available() => Ok(Some(Mirror::new(ctx, &folder(ctx)))),
        StagingMode::Mirror => Err(OpError::Refused(
            "[staging] mode = \"mirror\" needs rsync: install it (apt-get install rsync) or set mode = \"auto\". Nothing was stopped".into(),
        )),
    }
}

/// Before anything stops: the mirror's file system has room for what the update
/// may add (everything not mirrored yet, of `total` bytes), beside `also` bytes
/// when the repository (`repo`) is on the same file system.
pub fn check_mirror_space(
    m: &Mirror,
    total: u64,
    repo: Option<(&Path, u64)>,
    on: Sink,
) -> Result<(), OpError> {
    let have = m.bytes();
    let mut need = total.saturating_sub(have) + (16 << 20);
    let dir = m.dir_of("");
    if let Some((root, also)) = repo {
        let same_fs = matches!(
            (std::fs::metadata(&dir), std::fs::metadata(root)),
            (Ok(a), Ok(b)) if a.dev() == b.dev()
        );
        if same_fs {
            need += also;
        }
    }
    let free = free_space(&dir)?;
    on(Event::Info(format!(
        "staging: the mirror {} holds {} and may grow by {}; only what changed is copied while the services are stopped",
        dir.display(),
        crate::units::bytes(have),
        crate::units::bytes(total.saturating_sub(have))
    )));
    if free < need {
        return Err(OpError::Refused(format!(
            "the mirror at {} needs up to {} but its file system has {} free: free space there, set [staging] folder to another local disk, or mode = \"off\". Nothing was stopped",
            dir.display(),
            crate::units::bytes(need),
            crate::units::bytes(free)
        )));
    }
    Ok(())
}
