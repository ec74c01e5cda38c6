//! Where a reflink mirror lives. Clones cannot cross file systems, so each
//! component's mirror lies on that component's own file system: in `[staging]
//! folder` when the folder is there, else in `.structr-backup-staging/` at the
//! mount point of that file system (made owner-only by the mirror's
//! `prepare`). Never inside one of the installation's folders, and none of
//! them inside it: the mirror must not be backed up with the installation, nor
//! taken for it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::ops::Context;

/// The folder made at a file system's mount point when `[staging] folder`
/// lies on another file system.
pub const AT_MOUNT: &str = ".structr-backup-staging";

/// Whether `p` lies on a file system that can clone files (XFS, btrfs), told
/// from its type alone, without writing anything. (An XFS made without
/// reflink support passes this and fails the probe of a run.)
pub fn clones_by_type(p: &Path) -> bool {
    use nix::sys::statfs::{statfs, BTRFS_SUPER_MAGIC, XFS_SUPER_MAGIC};
    statfs(p).is_ok_and(|s| {
        s.filesystem_type() == XFS_SUPER_MAGIC || s.filesystem_type() == BTRFS_SUPER_MAGIC
    })
}

/// The root folder of each component's reflink mirror (in component order),
/// or why a reflink mirror cannot be had; decided without writing anything.
pub fn reflink_roots(ctx: &Context, folder: &Path) -> Result<Vec<PathBuf>, String> {
    if !ctx.reflink {
        return Err("reflinks are turned off ([repository] reflink = false)".into());
    }
    let mut roots = Vec::new();
    for c in &ctx.inst.components {
        let path = fs::canonicalize(&c.path)
            .map_err(|e| format!("cannot read {}: {e}", c.path.display()))?;
        if !clones_by_type(&path) {
            return Err(format!(
                "{} ({}) is not on a file system that clones files (XFS with reflink, btrfs)",
                path.display(),
                c.name
            ));
        }
        let dev = fs::metadata(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .dev();
        let base = match existing_dev(folder) {
            Some(d) if d == dev => folder.to_path_buf(),
            _ => {
                let top = mount_point(&path, dev);
                if !owned_by_us_alone(&top) {
                    return Err(format!(
                        "the top folder {} of the file system of {} can be changed by other users; set [staging] folder to a root-only folder on that file system",
                        top.display(),
                        c.name
                    ));
                }
                top.join(AT_MOUNT)
            }
        };
        let root = base.join(ctx.inst.key());
        if let Some(clash) = clash(ctx, &root) {
            return Err(format!(
                "the reflink mirror of {} would be {}, which overlaps the installation's {}; set [staging] folder to a folder on the same file system outside the installation",
                c.name,
                root.display(),
                clash.display()
            ));
        }
        roots.push(root);
    }
    Ok(roots)
}

/// The device of `p`, or of its nearest existing parent (where it would be made).
fn existing_dev(p: &Path) -> Option<u64> {
    p.ancestors()
        .find_map(|a| fs::metadata(a).ok())
        .map(|m| m.dev())
}

/// The top folder of `path`'s file system (`dev`): its highest parent on it.
fn mount_point(path: &Path, dev: u64) -> PathBuf {
    let mut top = path;
    while let Some(up) = top.parent() {
        match fs::metadata(up) {
            Ok(m) if m.dev() == dev => top = up,
            _ => break,
        }
    }
    top.to_path_buf()
}

/// Whether only we (or root) can change what `dir` holds: no one else can then
/// swap the mirror's folder made in it for a link.
fn owned_by_us_alone(dir: &Path) -> bool {
    let me = nix::unistd::geteuid().as_raw();
    fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && (m.uid() == 0 || m.uid() == me) && m.mode() & 0o022 == 0)
}

/// A folder of the installation that `root` lies inside, or that lies inside `root`.
fn clash<'a>(ctx: &'a Context, root: &Path) -> Option<&'a Path> {
    ctx.inst
        .components
        .iter()
        .map(|c| c.path.as_path())
        .find(|p| {
            let p = fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            root.starts_with(&p) || p.starts_with(root)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_point_is_the_highest_folder_on_the_same_device() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("a/b");
        fs::create_dir_all(&deep).unwrap();
        let dev = fs::metadata(&deep).unwrap().dev();
        let top = mount_point(&deep, dev);
        assert!(deep.starts_with(&top));
        assert_eq!(fs::metadata(&top).unwrap().dev(), dev);
        if let Some(up) = top.parent() {
            assert_ne!(fs::metadata(up).unwrap().dev(), dev);
        }
        assert_eq!(existing_dev(&deep.join("not/made/yet")), Some(dev));
    }

    #[test]
    fn a_top_folder_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(owned_by_us_alone(d.path()));
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(!owned_by_us_alone(d.path()));
    }
}
