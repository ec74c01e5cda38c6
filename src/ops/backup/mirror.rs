//! Mirror staging: a persistent copy of every component on local disk, brought
//! up to date while the services are stopped by copying only what changed
//! (rsync's quick check: size and modification time; removed files removed),
//! and archived or backed up after they run again. The window then costs what
//! copying the changed files costs, not compressing the whole installation.
//!
//! Trust: the mirror lives in a folder only root can write (made owner-only,
//! checked every run). After a successful update its listing (path, inode,
//! change time, size, modification time of every entry) is sealed in a marker
//! file; the next run compares the listing with the seal before trusting it:
//! - no seal (a run killed mid-update, or never finished): rsync repairs it, as
//!   a killed rsync leaves each file either old or whole and new;
//! - a seal that does not match (someone changed a file, even keeping its size
//!   and time: its change time moves): the mirror is removed and made afresh.

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
    /// The mirror's own folder: `<folder>/<installation key>/`.
    root: PathBuf,
    names: Vec<String>,
}

impl Mirror {
    /// The mirror of this installation inside `folder`.
    pub fn new(ctx: &Context, folder: &Path) -> Self {
        Mirror {
            root: folder.join(ctx.inst.key()),
            names: ctx.inst.components.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// Whether rsync is installed (the mirror is updated with it).
    pub fn available() -> bool {
        Cmd::new("rsync")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.success())
    }

    pub fn dir_of(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The mirrors, in component order.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.names.iter().map(|n| self.dir_of(n)).collect()
    }

    /// The bytes the mirror holds now (what an update need not write again).
    pub fn bytes(&self) -> u64 {
        tree::walk(&self.root)
            .flatten()
            .filter(|n| n.meta.is_file())
            .map(|n| n.meta.len())
            .sum()
    }

    /// Before anything stops: the folder is ours alone, and a mirror whose seal
    /// does not match is removed (made afresh in the window). Says what it found.
    pub fn prepare(&self, on: Sink) -> Result<(), OpError> {
        if let Some(parent) = self.root.parent() {
            state::private_dir(parent).map_err(OpError::Refused)?;
        }
        state::private_dir(&self.root).map_err(OpError::Refused)?;
        let seal = fs::read_to_string(self.root.join(SEAL)).ok();
        match seal {
            None if self.dirs().iter().any(|d| d.exists()) => on(Event::Info(
                "the mirror was not sealed by the last run (interrupted?): it is brought up to date from the sources".into(),
            )),
            None => on(Event::Info(format!(
                "no mirror yet: {} is made now, so this window copies everything once",
                self.root.display()
            ))),
            Some(s) if s.trim() == self.listing()? => {}
            Some(_) => {
                on(Event::Warning(format!(
                    "the mirror {} changed since it was sealed: it is made afresh",
                    self.root.display()
                )));
                self.remove_contents()?;
            }
        }
        Ok(())
    }

    /// While stopped: unseals, then brings every component's mirror up to date.
    pub fn update(&self, ctx: &Context, on: Sink) -> Result<Vec<PathBuf>, OpError> {
        remove_if_there(&self.root.join(SEAL))?;
        for c in &ctx.inst.components {
            let step = Step::Mirror(c.name.clone());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            if let Err(e) = rsync(&c.path, &self.dir_of(&c.name), ctx) {
                on(Event::Failed(step, e.to_string()));
                return Err(e);
            }
            on(Event::Finished(step, t.elapsed()));
        }
        Ok(self.dirs())
    }

    /// Seals the mirror as it is now: call once it matches the sources.
    pub fn seal(&self) -> Result<(), OpError> {
        let listing = self.listing()?;
        crate::repo::files::write_file_atomic(&self.root.join(SEAL), listing.as_bytes())
            .map_err(OpError::from)
    }

    /// A digest of every entry's path, inode, change time, size and
    /// modification time (the seal itself left out).
    fn listing(&self) -> Result<String, OpError> {
        let mut h = sha2::Sha256::new();
        for node in tree::walk(&self.root) {
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

    fn remove_contents(&self) -> Result<(), OpError> {
        for e in fs::read_dir(&self.root)
            .map_err(|e| OpError::failed(format!("cannot read {}: {e}", self.root.display())))?
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
