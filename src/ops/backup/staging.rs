//! Which staging a cold backup uses (`[staging] mode`), decided before
//! anything stops by one function (`decide`) for the run and its plan alike,
//! and the mirror's disk space.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::lvm::LvmStage;
use super::mirror::Mirror;
use super::placement;
use crate::config::staging::StagingMode;
use crate::ops::event::{Event, Sink};
use crate::ops::preflight::free_space;
use crate::ops::{state, Context, OpError};
use crate::repo::clone;
use crate::repo::store::Store;

/// How the point-in-time copy is taken.
pub enum Staging {
    /// The archives are written from the live folders while the services are stopped.
    Direct,
    /// LVM snapshots while stopped, mounted read-only and archived after the start.
    Lvm(LvmStage),
    /// A persistent mirror (rsync, or a reflink mirror) updated with the
    /// changed files while stopped; archived after the start.
    Mirror(Mirror),
}

/// The folder of mirrors: `[staging] folder`, else in the state folder.
pub fn folder(ctx: &Context) -> PathBuf {
    ctx.staging
        .folder
        .clone()
        .unwrap_or_else(|| state::state_dir().join("staging"))
}

/// Which repository kind the copy is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Archive,
    Restic,
}

/// What the decision depends on, gathered before anything stops.
#[derive(Clone, Debug)]
pub struct Facts {
    pub root: bool,
    pub rsync: bool,
    /// Each component's reflink mirror root, or why there can be none.
    pub reflink: Result<Vec<PathBuf>, String>,
}

impl Facts {
    /// Looked at without writing anything: whether the file systems clone is
    /// told from their type (for a plan shown before the run).
    pub fn look(ctx: &Context) -> Facts {
        Facts {
            root: nix::unistd::geteuid().is_root(),
            rsync: Mirror::available(),
            reflink: placement::reflink_roots(ctx, &folder(ctx)),
        }
    }

    /// A clone is tried in each reflink mirror's folder (made owner-only for
    /// it): the type of a file system does not tell whether it clones.
    fn probe(&mut self) {
        if let Ok(roots) = &self.reflink {
            if let Some(bad) = roots.iter().find(|r| !clones_in(r)) {
                self.reflink = Err(format!(
                    "{} is on a file system that does not clone files (an XFS made without reflink=1?)",
                    bad.display()
                ));
            }
        }
    }
}

/// The run's decision, after its locks: as the plan's, and where that is the
/// reflink mirror, again once a clone was tried there (nothing is written
/// where another mode was chosen anyway).
fn decide_for_run(ctx: &Context, kind: Kind) -> Choice {
    let mut facts = Facts::look(ctx);
    let choice = decide(ctx.staging.mode, kind, &facts);
    if !matches!(choice, Choice::ReflinkMirror(_)) {
        return choice;
    }
    facts.probe();
    decide(ctx.staging.mode, kind, &facts)
}

/// Whether a clone works in `root` (made owner-only for the try; folders this
/// made are removed again when it does not).
fn clones_in(root: &Path) -> bool {
    let made: Vec<PathBuf> = root
        .ancestors()
        .take(2)
        .filter(|p| !p.exists())
        .map(Path::to_path_buf)
        .collect();
    let parent_ok = root.parent().is_none_or(|p| state::private_dir(p).is_ok());
    let ok = parent_ok && state::private_dir(root).is_ok() && clone::supported(root);
    if !ok {
        made.iter().for_each(|p| drop(std::fs::remove_dir(p)));
    }
    ok
}

/// What the window copies; `Refused` says why a mode asked for cannot be had.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    Direct,
    /// The reflink mirror, with each component's root folder.
    ReflinkMirror(Vec<PathBuf>),
    Mirror,
    Refused(String),
}

/// The one decision, for the run (`choose`, `choose_for_restic`) and its plan
/// (`describe`) alike. Mirrors need rsync and, in `auto`, root (who reads
/// every file of the installation); the restic kind reads a mirror at the
/// installation's own paths through a mount namespace, which needs root too.
pub fn decide(mode: StagingMode, kind: Kind, f: &Facts) -> Choice {
    const NO_RSYNC: &str = "needs rsync: install it (apt-get install rsync)";
    match mode {
        StagingMode::Off => Choice::Direct,
        StagingMode::Auto if f.root && f.rsync => match &f.reflink {
            Ok(roots) => Choice::ReflinkMirror(roots.clone()),
            Err(_) => Choice::Mirror,
        },
        StagingMode::Auto => Choice::Direct,
        StagingMode::Reflink => match &f.reflink {
            Err(why) => Choice::Refused(format!(
                "[staging] mode = \"reflink\" needs the installation on a file system that clones files: {why}; set mode = \"auto\" or \"mirror\""
            )),
            Ok(_) if !f.root => Choice::Refused(
                "[staging] mode = \"reflink\" needs root (the mirror keeps every file's owner)".into(),
            ),
            Ok(_) if !f.rsync => Choice::Refused(format!("[staging] mode = \"reflink\" {NO_RSYNC}")),
            Ok(roots) => Choice::ReflinkMirror(roots.clone()),
        },
        StagingMode::Mirror if kind == Kind::Restic && !f.root => Choice::Refused(
            "[staging] mode = \"mirror\" with a restic repository needs root (restic reads the mirror at the installation's paths in a mount namespace of its own)".into(),
        ),
        StagingMode::Mirror if f.rsync => Choice::Mirror,
        StagingMode::Mirror => Choice::Refused(format!(
            "[staging] mode = \"mirror\" {NO_RSYNC} or set mode = \"auto\""
        )),
    }
}

/// The mirror a choice makes, if any; a refusal as the run's error.
fn mirror_of(ctx: &Context, choice: Choice) -> Result<Option<Mirror>, OpError> {
    match choice {
        Choice::Direct => Ok(None),
        Choice::ReflinkMirror(roots) => Ok(Some(Mirror::reflink(ctx, roots, &folder(ctx)))),
        Choice::Mirror => Ok(Some(Mirror::new(ctx, &folder(ctx)))),
        Choice::Refused(why) => Err(OpError::Refused(format!("{why}. Nothing was stopped"))),
    }
}

/// The staging of the archive kind for this run, decided after its locks and
/// before anything stops.
pub fn choose(ctx: &Context) -> Result<Staging, OpError> {
    let choice = decide_for_run(ctx, Kind::Archive);
    Ok(mirror_of(ctx, choice)?.map_or(Staging::Direct, Staging::Mirror))
}

/// The staging of the restic kind: a mirror restic reads after the start at
/// the installation's own paths (through a mount namespace of its own), or none.
pub fn choose_for_restic(ctx: &Context) -> Result<Option<Mirror>, OpError> {
    mirror_of(ctx, decide_for_run(ctx, Kind::Restic))
}

/// What the window of a cold backup will copy, in a line for a plan shown
/// before anything stops: the same decision as the run's, from facts gathered
/// without writing anything.
pub fn describe(ctx: &Context) -> String {
    let kind = match &ctx.store {
        Store::Rclone(_) => return String::new(),
        Store::Archive(_) => Kind::Archive,
        Store::Restic(_) => Kind::Restic,
    };
    line(
        ctx,
        kind,
        &decide(ctx.staging.mode, kind, &Facts::look(ctx)),
    )
}

/// The plan's line for `choice`.
pub fn line(ctx: &Context, kind: Kind, choice: &Choice) -> String {
    let after = match kind {
        Kind::Archive => "the archives are written after the start",
        Kind::Restic => "restic reads it after the start, at the installation's own paths",
    };
    match choice {
        Choice::Direct => "window      everything is copied while the services are stopped".into(),
        Choice::ReflinkMirror(roots) => format!(
            "window      reflink mirror in {}: only the files changed since the last backup are cloned (it shares its blocks with the sources); {after}",
            shown(roots)
        ),
        Choice::Mirror => format!(
            "window      only the changed files are copied into the mirror in {}; {after}",
            folder(ctx).display()
        ),
        Choice::Refused(why) => format!("Cannot back up: {why}"),
    }
}

/// The distinct folders, joined for a line.
pub fn shown(roots: &[PathBuf]) -> String {
    let mut out: Vec<String> = Vec::new();
    for r in roots.iter().map(|r| r.display().to_string()) {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out.join(" and ")
}

/// Before anything stops: the mirror's file system has room for what the update
/// may add (everything not mirrored yet, of `total` bytes; for a reflink mirror,
/// whose clones share the sources' blocks, a margin for their metadata), beside
/// `also` bytes when the repository (`repo`) is on the same file system.
pub fn check_mirror_space(
    m: &Mirror,
    total: u64,
    repo: Option<(&Path, u64)>,
    on: Sink,
) -> Result<(), OpError> {
    const MARGIN: u64 = 16 << 20;
    let roots = m.roots();
    if m.is_reflink() {
        on(Event::Info(format!(
            "staging: reflink mirror in {}; it shares its blocks with the sources and costs only the blocks they rewrite until the next backup; only the changed files are cloned while the services are stopped",
            shown(&roots)
        )));
    }
    for dir in roots {
        let have = if m.is_reflink() { total } else { m.bytes() };
        let mut need = total.saturating_sub(have) + MARGIN;
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
        if !m.is_reflink() {
            on(Event::Info(format!(
                "staging: the mirror {} holds {} and may grow by {}; only what changed is copied while the services are stopped",
                dir.display(),
                crate::units::bytes(have),
                crate::units::bytes(total.saturating_sub(have))
            )));
        }
        if free < need {
            return Err(OpError::Refused(format!(
                "the mirror at {} needs up to {} but its file system has {} free: free space there, set [staging] folder to another local disk, or mode = \"off\". Nothing was stopped",
                dir.display(),
                crate::units::bytes(need),
                crate::units::bytes(free)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(root: bool, rsync: bool, clones: bool) -> Facts {
        Facts {
            root,
            rsync,
            reflink: match clones {
                true => Ok(vec![PathBuf::from("/x/.structr-backup-staging/k")]),
                false => Err("not XFS".into()),
            },
        }
    }

    #[test]
    fn a_restic_mirror_run_as_another_user_is_refused_by_the_run_and_its_plan_alike() {
        // Once, the plan said "mirror" here while the run refused.
        let c = decide(
            StagingMode::Mirror,
            Kind::Restic,
            &facts(false, true, false),
        );
        assert!(
            matches!(&c, Choice::Refused(w) if w.contains("needs root")),
            "{c:?}"
        );
        assert_eq!(
            decide(
                StagingMode::Mirror,
                Kind::Archive,
                &facts(false, true, false)
            ),
            Choice::Mirror
        );
    }

    #[test]
    fn reflink_file_systems_get_the_reflink_mirror_for_both_kinds() {
        for kind in [Kind::Archive, Kind::Restic] {
            for mode in [StagingMode::Auto, StagingMode::Reflink] {
                let c = decide(mode, kind, &facts(true, true, true));
                assert!(
                    matches!(c, Choice::ReflinkMirror(_)),
                    "{mode} {kind:?}: {c:?}"
                );
            }
            let c = decide(StagingMode::Auto, kind, &facts(true, true, false));
            assert_eq!(c, Choice::Mirror, "{kind:?}");
            let c = decide(StagingMode::Reflink, kind, &facts(true, true, false));
            assert!(
                matches!(&c, Choice::Refused(w) if w.contains("not XFS")),
                "{c:?}"
            );
            let c = decide(StagingMode::Reflink, kind, &facts(true, false, true));
            assert!(
                matches!(&c, Choice::Refused(w) if w.contains("rsync")),
                "{c:?}"
            );
            assert_eq!(
                decide(StagingMode::Off, kind, &facts(true, true, true)),
                Choice::Direct
            );
            assert_eq!(
                decide(StagingMode::Auto, kind, &facts(false, true, true)),
                Choice::Direct
            );
        }
    }
}
