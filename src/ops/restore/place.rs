//! Where each component of a generation goes in this installation, and what a
//! restore over it loses: no side effects, used by confirmation screens too.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::super::{swap, Context, OpError};
use crate::install::ComponentSpec;
use crate::ops::placement::Placement;
use crate::repo::manifest::{Component, Manifest};

/// Where each component of `m` would go, checked against this installation and
/// the file systems. Every path comes from the installation and the checked id,
/// none from the manifest. No side effects: used for confirmation screens too.
pub fn placements(ctx: &Context, m: &Manifest) -> Result<Vec<Placement>, OpError> {
    let mut out = Vec::new();
    for c in m
        .components
        .iter()
        .filter(|c| super::super::app_export::goes_into_installation(c))
    {
        let spec = target_for(ctx, c)?;
        let target = spec.path.clone();
        if target.parent().is_none() {
            return Err(OpError::Refused(format!(
                "cannot restore {} to {}: it has no parent folder",
                c.name,
                target.display()
            )));
        }
        if is_mount_point(&target) {
            return Err(OpError::Refused(format!(
                "{} is a mount point, so it cannot be swapped by rename; restore it by hand (see the README, manual restore)",
                target.display()
            )));
        }
        if let Some(m) = mounts_inside(&target).first() {
            return Err(OpError::Refused(format!(
                "{} has a file system mounted inside it at {}; swapping the folder by rename would move that mount aside with the old folder. Unmount it first (its contents are not in the generation), then restore again",
                target.display(),
                m.display()
            )));
        }
        out.push(Placement {
            name: c.name.clone(),
            staging: swap::staging_path(&target, &m.id)
                .map_err(|e| OpError::Refused(e.to_string()))?,
            kept: swap::kept_path(&target, &m.id),
            target,
            bytes: c.bytes,
            files: c.files,
        });
    }
    Ok(out)
}

/// Whether `dir` is a folder with something in it.
pub(super) fn has_entries(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// What a restore of `m` over `target` loses, in words a user can judge: how many
/// files there were changed after the backup was taken, and the newest change.
pub fn what_is_lost(target: &Path, m: &Manifest) -> String {
    if !target.exists() {
        return format!(
            "nothing: {} does not exist yet, it is created",
            target.display()
        );
    }
    match crate::repo::tree::changed_since(target, m.created_at.into()) {
        Ok((0, _)) => "nothing there changed since the backup was taken".into(),
        // Not "lost": the current folder is kept beside the target.
        Ok((n, newest)) => format!(
            "CHANGES NOT IN THE BACKUP: {n} file(s) there changed since it was taken (the newest {}); the restored folder will not have them, the kept one does",
            newest.map_or("?".into(), |t| chrono::DateTime::<chrono::Local>::from(t)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string())
        ),
        Err(e) => format!("cannot tell what changed since the backup: {e}"),
    }
}

fn target_for<'a>(ctx: &'a Context, c: &Component) -> Result<&'a ComponentSpec, OpError> {
    ctx.inst
        .component(&c.name)
        .or_else(|| ctx.inst.components.iter().find(|s| s.role == c.role))
        .ok_or_else(|| {
            OpError::Refused(format!(
                "the generation holds {} ({}) but this installation has no place for it",
                c.name, c.role
            ))
        })
}

/// Mount points below `dir`, from the kernel's mount table (no walk of the tree).
fn mounts_inside(dir: &Path) -> Vec<PathBuf> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p != &dir && p.starts_with(&dir))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape_mount_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_mount_point(path: &Path) -> bool {
    match (fs::metadata(path), path.parent().map(fs::metadata)) {
        (Ok(p), Some(Ok(parent))) => p.dev() != parent.dev(),
        _ => false,
    }
}
