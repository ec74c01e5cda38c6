//! Swapping a restored folder into place by rename: the target moves aside to
//! `<target>.pre-restore-<id>` and the staging folder `.<name>.restore-<id>` (made
//! beside the target, so both renames stay on one file system) takes its name. The
//! parent folder is fsynced after the renames, so a swap reported done survives a
//! power cut. Names are derived from the configured target and a checked id only;
//! `recover` accepts nothing else from a journal.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ids::is_generation_id;

#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("cannot move {} to {}: {source}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
    #[error("cannot sync the folder {}: {source}", path.display())]
    Sync { path: PathBuf, source: io::Error },
    #[error("{} has no parent folder", target.display())]
    NoParent { target: PathBuf },
    #[error("cannot create a folder beside {}: {source}", target.display())]
    Create { target: PathBuf, source: io::Error },
}

fn file_name(target: &Path) -> String {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parent(target: &Path) -> Result<&Path, SwapError> {
    target.parent().ok_or_else(|| SwapError::NoParent {
        target: target.to_path_buf(),
    })
}

/// `.<name>.restore-<id>` beside the target.
pub fn staging_path(target: &Path, id: &str) -> Result<PathBuf, SwapError> {
    Ok(parent(target)?.join(format!(".{}.restore-{id}", file_name(target))))
}

/// `<target>.pre-restore-<id>`, or with `.2`, `.3`, ... when that name is taken.
pub fn kept_path(target: &Path, id: &str) -> PathBuf {
    let base = PathBuf::from(format!("{}.pre-restore-{id}", target.display()));
    if !base.exists() {
        return base;
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}.{n}", base.display())))
        .find(|p| !p.exists())
        .unwrap_or(base)
}

/// Whether `kept` is a name `kept_path` could have given for `target`.
pub fn is_kept_path(target: &Path, kept: &Path) -> bool {
    let prefix = format!("{}.pre-restore-", target.display());
    let Some(rest) = kept.to_str().and_then(|k| k.strip_prefix(&prefix)) else {
        return false;
    };
    let id = match rest.rsplit_once('.') {
        Some((id, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => id,
        _ => rest,
    };
    is_generation_id(id)
}

/// Makes `.<name>.restic-<id>.XXXXXX` beside the target, with an unpredictable
/// suffix, exclusively and mode 0700 (mkdtemp): where restic restores the
/// component (under its full path) before it is moved to the staging folder. A
/// name nobody can guess or make first, in a folder nobody else can enter, even
/// when the target's parent is a shared (1777) folder.
pub fn make_unpack_dir(target: &Path, id: &str) -> Result<PathBuf, SwapError> {
    let template = parent(target)?.join(format!(".{}.restic-{id}.XXXXXX", file_name(target)));
    nix::unistd::mkdtemp(&template).map_err(|e| SwapError::Create {
        target: target.to_path_buf(),
        source: io::Error::from(e),
    })
}

/// Whether `name` (a folder beside `target`) is one of our staging (or restic
/// unpack) folders for it.
pub fn is_staging_name(target: &Path, name: &str) -> bool {
    let restic_unpack = |rest: &str| {
        rest.rsplit_once('.').is_some_and(|(id, random)| {
            is_generation_id(id)
                && random.len() == 6
                && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
    };
    let base = file_name(target);
    name.strip_prefix(&format!(".{base}.restore-"))
        .is_some_and(is_generation_id)
        || name
            .strip_prefix(&format!(".{base}.restic-"))
            .is_some_and(restic_unpack)
}

/// Where `recover` moves a half-restored target before putting the old one back.
pub fn discard_path(target: &Path) -> PathBuf {
    PathBuf::from(format!("{}.restore-failed", target.display()))
}

fn rename(from: &Path, to: &Path) -> Result<(), SwapError> {
    fs::rename(from, to).map_err(|source| SwapError::Rename {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    })
}

pub fn sync_dir(dir: &Path) -> Result<(), SwapError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| SwapError::Sync {
            path: dir.to_path_buf(),
            source,
        })
}

/// Moves `target` (if it exists) to `kept` and `staging` to `target`, then syncs
/// the parent. On a failure of the second rename the first is undone.
pub fn swap_in(target: &Path, staging: &Path, kept: &Path) -> Result<(), SwapError> {
    let had_target = fs::symlink_metadata(target).is_ok();
    if had_target {
        rename(target, kept)?;
    }
    if let Err(e) = rename(staging, target) {
        if had_target {
            let _ = rename(kept, target);
        }
        return Err(e);
    }
    sync_dir(parent(target)?)
}

/// If `kept` exists, the swap of `target` happened (fully or half): move whatever is
/// at `target` to `discard` (and remove it) and `kept` back to `target`. Returns
/// whether anything was moved, so callers report only what they did.
pub fn undo(target: &Path, kept: &Path, discard: &Path) -> Result<bool, SwapError> {
    if fs::symlink_metadata(kept).is_err() {
        return Ok(false);
    }
    if fs::symlink_metadata(target).is_ok() {
        rename(target, discard)?;
    }
    rename(kept, target)?;
    sync_dir(parent(target)?)?;
    let _ = fs::remove_dir_all(discard);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_unpack_folders_are_fresh_private_and_recognised() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("app");
        let id = "20261124T031500Z";
        let a = make_unpack_dir(&target, id).unwrap();
        let b = make_unpack_dir(&target, id).unwrap();
        assert_ne!(a, b, "unpredictable, never the same");
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::symlink_metadata(&a).unwrap();
        assert!(meta.is_dir() && meta.permissions().mode() & 0o777 == 0o700);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(".app.restic-20261124T031500Z."), "{name}");
        assert!(is_staging_name(&target, name));
    }

    #[test]
    fn names_are_derived_and_recognised() {
        let t = Path::new("/var/lib/neo4j/data");
        let id = "20261124T031500Z";
        assert_eq!(
            staging_path(t, id).unwrap(),
            Path::new("/var/lib/neo4j/.data.restore-20261124T031500Z")
        );
        assert!(is_staging_name(t, ".data.restore-20261124T031500Z"));
        assert!(!is_staging_name(t, ".data.restore-../../etc"));
        assert!(!is_staging_name(t, ".other.restore-20261124T031500Z"));
        assert!(is_staging_name(t, ".data.restic-20261124T031500Z.a1B2c3"));
        assert!(!is_staging_name(t, ".data.restic-20261124T031500Z"));
        assert!(!is_staging_name(t, ".data.restic-20261124T031500Z.../.."));
        assert!(is_kept_path(
            t,
            Path::new("/var/lib/neo4j/data.pre-restore-20261124T031500Z")
        ));
        assert!(is_kept_path(
            t,
            Path::new("/var/lib/neo4j/data.pre-restore-20261124T031500Z-2.3")
        ));
        assert!(!is_kept_path(t, Path::new("/etc")));
        assert!(!is_kept_path(
            t,
            Path::new("/var/lib/neo4j/data.pre-restore-x/../../../etc")
        ));
    }

    #[test]
    fn swap_then_undo_puts_the_old_folder_back() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("data");
        let staging = staging_path(&target, "20260101T000000Z").unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(target.join("old"), "old").unwrap();
        fs::create_dir(&staging).unwrap();
        fs::write(staging.join("new"), "new").unwrap();
        let kept = kept_path(&target, "20260101T000000Z");
        swap_in(&target, &staging, &kept).unwrap();
        assert!(target.join("new").exists() && kept.join("old").exists());
        assert!(undo(&target, &kept, &discard_path(&target)).unwrap());
        assert!(target.join("old").exists() && !kept.exists());
        assert!(!undo(&target, &kept, &discard_path(&target)).unwrap());
    }
}
