//! Mirror staging: a persistent copy of every component on local disk, brought
//! up to date while the services are stopped by copying only what changed
//! (rsync's quick check: size and modification time; removed files removed),
//! and archived or backed up after they run again. The window then costs what
//! copying the changed files costs, not compressing the whole installation.
//!
//! A reflink mirror (XFS, btrfs) lies on the sources' own file system and
//! clones the changed files before rsync's pass (`reflink.rs`), so the window
//! costs their metadata only; it shares its blocks with the sources.
//!
//! Trust: the mirror lives in a folder only root can write (made owner-only,
//! checked every run). After a successful update its listing (path, inode,
//! change time, size, modification time of every entry) is sealed in a marker
//! file; the next run compares the listing with the seal before trusting it:
//! - no seal (a run killed mid-update, or never finished): rsync repairs it, as
//!   a killed rsync leaves each file either old or whole and new;
//! - a seal that does not match (someone changed a file, even keeping its size
//!   and time: its change time moves): the mirror is removed and made afresh.
//!
//! A mirror whose components lie on different file systems has one seal per
//! root folder.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::Digest;

use crate::ops::event::{Event, Sink, Step};
use crate::ops::{state, Context, OpError};
use crate::process::{self, Cmd, RunError};
use crate::repo::tree;

/// The seal of an up-to-date mirror.
const SEAL: &str = "SEALED";

pub struct Mirror {
    /// Each component's name and the folder holding its mirror
    /// (`<root>/<name>`); the root is `<folder>/<installation key>/`.
    parts: Vec<(String, PathBuf)>,
    /// A reflink mirror: the changed files are cloned before rsync's pass
    /// (`reflink.rs`); its roots lie on the sources' own file systems.
    reflink: bool,
    /// The rsync mirror a reflink mirror replaces (`<folder>/<key>`), named
    /// in `prepare` when it is still there: it is never removed for the user.
    replaced: Option<PathBuf>,
}

impl Mirror {
    /// The mirror of this installation inside `folder`.
    pub fn new(ctx: &Context, folder: &Path) -> Self {
        let root = folder.join(ctx.inst.key());
        Mirror {
            parts: ctx
                .inst
                .components
                .iter()
                .map(|c| (c.name.clone(), root.clone()))
                .collect(),
            reflink: false,
            replaced: None,
        }
    }

    /// A reflink mirror whose component `i` lives in `roots[i]` (a folder on
    /// that component's file system, `<…>/<installation key>`), in place of
    /// an rsync mirror in `folder`.
    pub fn reflink(ctx: &Context, roots: Vec<PathBuf>, folder: &Path) -> Self {
        let names = ctx.inst.components.iter().map(|c| c.name.clone());
        let old = folder.join(ctx.inst.key());
        Mirror {
            replaced: Some(old).filter(|o| !roots.contains(o)),
            parts: names.zip(roots).collect(),
            reflink: true,
        }
    }

    pub fn is_reflink(&self) -> bool {
        self.reflink
    }

    /// Whether rsync is installed (the mirror is updated with it).
    pub fn available() -> bool {
        Cmd::new("rsync")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.success())
    }

    pub fn dir_of(&self, name: &str) -> PathBuf {
        let root = self.parts.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        root.map_or_else(PathBuf::new, |r| r.join(name))
    }

    /// The mirrors, in component order.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.parts.iter().map(|(n, r)| r.join(n)).collect()
    }

    /// The distinct roots (one per file system at most), each sealed on its own.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for (_, r) in &self.parts {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }

    /// The plan's step of one component's update.
    pub fn step(&self, name: &str) -> Step {
        match self.reflink {
            true => Step::Clone(name.to_string()),
            false => Step::Mirror(name.to_string()),
        }
    }

    /// The bytes the mirror holds now (what an update need not write again).
    pub fn bytes(&self) -> u64 {
        let sizes = self
            .roots()
            .into_iter()
            .flat_map(|r| tree::walk(&r).flatten());
        sizes
            .filter(|n| n.meta.is_file())
            .map(|n| n.meta.len())
            .sum()
    }

    /// Before anything stops: the folders are ours alone, and a mirror whose
    /// seal does not match is removed (made afresh in the window). Says what
    /// it found.
    pub fn prepare(&self, on: Sink) -> Result<(), OpError> {
        if let Some(old) = self.replaced.as_ref().filter(|o| o.join(SEAL).exists()) {
            on(Event::Info(format!(
                "the mirror {} is no longer used (a reflink mirror replaces it): remove it to free its space",
                old.display()
            )));
        }
        for root in self.roots() {
            if let Some(parent) = root.parent() {
                state::private_dir(parent).map_err(OpError::Refused)?;
            }
            state::private_dir(&root).map_err(OpError::Refused)?;
            let seal = fs::read_to_string(root.join(SEAL)).ok();
            let mine = self.parts.iter().filter(|(_, r)| *r == root);
            match seal {
                None if mine.map(|(n, r)| r.join(n)).any(|d| d.exists()) => on(Event::Info(format!(
                    "the mirror {} was not sealed by the last run (interrupted?): it is brought up to date from the sources",
                    root.display()
                ))),
                None => on(Event::Info(format!(
                    "no mirror yet: {} is made now, so this window {} everything once",
                    root.display(),
                    if self.reflink { "clones" } else { "copies" }
                ))),
                Some(s) if s.trim() == listing(&root)? => {}
                Some(_) => {
                    on(Event::Warning(format!(
                        "the mirror {} changed since it was sealed: it is made afresh",
                        root.display()
                    )));
                    remove_contents(&root)?;
                }
            }
        }
        Ok(())
    }

    /// While stopped: unseals, then brings every component's mirror up to
    /// date (a reflink mirror clones the changed files first).
    pub fn update(&self, ctx: &Context, on: Sink) -> Result<Vec<PathBuf>, OpError> {
        for root in self.roots() {
            remove_if_there(&root.join(SEAL))?;
        }
        for c in &ctx.inst.components {
            let step = self.step(&c.name);
            on(Event::Started(step.clone()));
            let t = Instant::now();
            if let Err(e) = self.update_one(&c.path, &c.name, ctx, on) {
                on(Event::Failed(step, e.to_string()));
                return Err(e);
            }
            on(Event::Finished(step, t.elapsed()));
        }
        Ok(self.dirs())
    }

    fn update_one(&self, src: &Path, name: &str, ctx: &Context, on: Sink) -> Result<(), OpError> {
        let dest = self.dir_of(name);
        if self.reflink {
            let done = super::reflink::clone_changed(src, &dest, ctx)?;
            on(Event::Info(format!(
                "reflink mirror of {name}: cloned {} changed files ({})",
                done.files,
                crate::units::bytes(done.bytes)
            )));
            if let Some(why) = done.refused {
                on(Event::Warning(format!(
                    "a clone was refused ({why}): the rest of {name} is copied by rsync"
                )));
            }
        }
        rsync(src, &dest, ctx)
    }

    /// Seals the mirror as it is now: call once it matches the sources.
    pub fn seal(&self) -> Result<(), OpError> {
        for root in self.roots() {
            let listing = listing(&root)?;
            crate::repo::files::write_file_atomic(&root.join(SEAL), listing.as_bytes())
                .map_err(OpError::from)?;
        }
        Ok(())
    }
}

/// A digest of every entry's path, inode, change time, size and modification
/// time under `root` (the seal itself left out).
fn listing(root: &Path) -> Result<String, OpError> {
    let mut h = sha2::Sha256::new();
    for node in tree::walk(root) {
        let node = node.map_err(|e| {
            OpError::failed(format!(
                "cannot read the mirror at {}: {}",
                e.path.display(),
                e.source
            ))
        })?;
        // The seal itself, and the folder it is written into (whose times
        // change with it), are not part of what the seal covers.
        if node.rel == Path::new(SEAL) || node.rel == Path::new(".") {
            continue;
        }
        let m = &node.meta;
        h.update(node.rel.as_os_str().as_encoded_bytes());
        for n in [m.ino(), m.ctime() as u64, m.ctime_nsec() as u64, m.size()] {
            h.update(n.to_le_bytes());
        }
        for n in [m.mtime() as u64, m.mtime_nsec() as u64, u64::from(m.mode())] {
            h.update(n.to_le_bytes());
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn remove_contents(root: &Path) -> Result<(), OpError> {
    for e in fs::read_dir(root)
        .map_err(|e| OpError::failed(format!("cannot read {}: {e}", root.display())))?
        .flatten()
    {
        let p = e.path();
        let r = match e.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&p),
            _ => fs::remove_file(&p),
        };
        r.map_err(|e| OpError::failed(format!("cannot remove {}: {e}", p.display())))?;
    }
    Ok(())
}

fn remove_if_there(p: &Path) -> Result<(), OpError> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(OpError::failed(format!(
            "cannot remove {}: {e}",
            p.display()
        ))),
        _ => Ok(()),
    }
}

/// `rsync` of `src` onto `dest`: owners by number, modes, times, hard links,
/// ACLs, extended attributes and sparse files kept; files gone from `src`
/// removed; no other file system entered (as the archives do).
/// Whether the file system of `dir` has (almost) no room left.
fn full(dir: &Path) -> bool {
    crate::ops::preflight::free_space(dir).is_ok_and(|free| free < 1 << 20)
}

fn rsync(src: &Path, dest: &Path, ctx: &Context) -> Result<(), OpError> {
    let argv = [
        "rsync",
        "--archive",
        "--hard-links",
        "--acls",
        "--xattrs",
        "--sparse",
        "--one-file-system",
        "--numeric-ids",
        "--delete",
        // Times compared to the nanosecond: rsync's default window compares whole
        // seconds, and a store file rewritten within the second it was mirrored,
        // at the same size, would be left stale.
        "--modify-window=-1",
        // In place: no second copy of a large changed file beside it; a killed
        // run leaves it with its old time, so the next run copies it again.
        "--inplace",
    ];
    // The trailing slashes copy the folder's contents onto the mirror folder.
    let from = format!("{}/", src.display());
    let to = format!("{}/", dest.display());
    let out = Cmd::new(argv[0])
        .args(&argv[1..])
        .arg(&from)
        .arg(&to)
        .cancel(&ctx.cancel)
        // A killed run must not leave rsync writing into the mirror behind it.
        .die_with_us(nix::sys::signal::Signal::SIGKILL)
        .output();
    let shown = process::display(
        &argv
            .iter()
            .map(|s| s.to_string())
            .chain([from, to])
            .collect::<Vec<_>>(),
    );
    match out {
        Ok(o) if o.success() => Ok(()),
        // A disk that filled while the services were down: say where and what to do
        // before rsync's own words. Told from the file system itself, not from
        // rsync's message (which the locale translates).
        Ok(o) if full(dest) => Err(OpError::failed(format!(
            "the file system of the mirror {} is full (something else wrote there after the \
             space check): free space there, or set [staging] folder to another local disk; \
             the half-updated mirror is not used, the next backup brings it up to date. \
             `{shown}` said: {}",
            dest.display(),
            o.tail()
        ))),
        Ok(o) => Err(OpError::failed(format!(
            "`{shown}` failed (exit status {}): {}",
            o.status.map_or("none".into(), |s| s.to_string()),
            o.tail()
        ))),
        Err(RunError::Cancelled { .. }) => Err(OpError::Cancelled {
            detail: crate::ops::error::STOPPED.into(),
        }),
        Err(e) => Err(OpError::failed(e.to_string())),
    }
}
