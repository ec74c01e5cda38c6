//! Where an application export lands, so that root never writes through a path
//! another user can change: the download goes into an unnamed file in the
//! private state folder; the export is unpacked into a fresh folder (mkdtemp:
//! unpredictable name, exclusive, 0700) beside its destination, written relative
//! to that folder's open handle, and renamed into place at the end, never over
//! anything but an empty folder of ours or our own previous export. The free
//! space for the worst case is checked before anything is asked.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{renameat, renameat2, AtFlags, RenameFlags};
use nix::sys::stat::{fstat, fstatat};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::repo::unzip;

/// What may stand where the export goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// A folder of ours that the new export replaces (the work folder in the
    /// private state folder, the incoming folder of a git working tree).
    Replace,
    /// Nothing, or an empty folder of our own (`export-app --to DIR`).
    NewOrEmpty,
}

/// `dir`'s parent and last part.
pub(super) fn split(dir: &Path) -> Result<(&Path, &Path), String> {
    match (dir.parent(), dir.file_name()) {
        (Some(p), Some(n)) if !p.as_os_str().is_empty() => Ok((p, Path::new(n))),
        _ => Err(format!("{} names no folder inside another", dir.display())),
    }
}

/// The prefix of the fresh folders made beside `leaf`.
fn fresh_prefix(leaf: &Path) -> String {
    format!(".{}.incoming-", leaf.display())
}

/// A fresh folder beside `leaf`, made with an unpredictable name (mkdtemp: mode
/// 0700, exclusive), opened without following links and checked to be ours.
pub(super) fn fresh_dir(
    parent_fd: &OwnedFd,
    parent: &Path,
    leaf: &Path,
) -> Result<(PathBuf, OwnedFd), String> {
    let template = parent.join(format!("{}XXXXXX", fresh_prefix(leaf)));
    let made = nix::unistd::mkdtemp(&template)
        .map_err(|e| format!("cannot create a folder in {}: {e}", parent.display()))?;
    let name = made.file_name().map(PathBuf::from).unwrap_or_default();
    let fd = unzip::open_dir(Some(parent_fd), &name)
        .map_err(|e| format!("cannot open {}: {e}", made.display()))?;
    let st = fstat(&fd).map_err(|e| format!("cannot read {}: {e}", made.display()))?;
    if st.st_uid != nix::unistd::geteuid().as_raw() {
        return Err(format!(
            "{} was replaced by another user's folder; nothing was written",
            made.display()
        ));
    }
    Ok((made, fd))
}

/// Fresh folders a killed run left beside `leaf` (in a place of our own).
pub(super) fn remove_leftovers(parent: &Path, leaf: &Path) {
    let prefix = fresh_prefix(leaf);
    let me = nix::unistd::geteuid().as_raw();
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let ours = e.metadata().is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.is_dir() && m.uid() == me
        });
        if ours && name.to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// What stands at `leaf` (relative to the open parent) may be replaced by the export.
pub(super) fn check_destination(
    parent_fd: &OwnedFd,
    dir: &Path,
    leaf: &Path,
    existing: Existing,
) -> Result<(), String> {
    let st = match fstatat(parent_fd, leaf, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let kind = st.st_mode & libc::S_IFMT;
    if kind == libc::S_IFLNK {
        return Err(format!(
            "{} is a symbolic link; name a new folder (the export is never written through a link)",
            dir.display()
        ));
    }
    if kind != libc::S_IFDIR {
        return Err(format!(
            "{} exists and is not a folder; name a new or empty folder",
            dir.display()
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != me {
        return Err(format!(
            "{} belongs to uid {}, not to uid {me} who runs this; name a new folder (the export is never written into a folder another user controls)",
            dir.display(),
            st.st_uid
        ));
    }
    if existing == Existing::NewOrEmpty
        && fs::read_dir(dir).map_or(true, |mut d| d.next().is_some())
    {
        return Err(format!(
            "{} is not empty; name a new or empty folder",
            dir.display()
        ));
    }
    Ok(())
}

/// Renames the fresh folder to `leaf`, never over anything but an empty folder
/// of ours (NewOrEmpty) or our own previous export (Replace).
pub(super) fn place(
    parent_fd: &OwnedFd,
    fresh: &Path,
    dir: &Path,
    leaf: &Path,
    existing: Existing,
) -> Result<(), String> {
    check_destination(parent_fd, dir, leaf, existing)?;
    let removed = match existing {
        // rmdir: only an empty folder goes, whatever came in since the check.
        Existing::NewOrEmpty => unlinkat(parent_fd, leaf, UnlinkatFlags::RemoveDir),
        Existing::Replace => fs::remove_dir_all(dir)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
    };
    match removed {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(format!("cannot replace {}: {e}", dir.display())),
    }
    let renamed = match renameat2(
        parent_fd,
        fresh,
        parent_fd,
        leaf,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        // A file system without RENAME_NOREPLACE: a plain rename still never
        // replaces a folder that holds anything, nor a link or file with a folder.
        Err(Errno::EINVAL) => renameat(parent_fd, fresh, parent_fd, leaf),
        other => other,
    };
    renamed.map_err(|e| match e {
        Errno::EEXIST | Errno::ENOTEMPTY | Errno::ENOTDIR => format!(
            "{} appeared while the export was taken; nothing was written there, name a new folder",
            dir.display()
        ),
        e => format!("cannot move the export to {}: {e}", dir.display()),
    })
}

/// An unnamed file in `dir` (made with an unpredictable name, exclusively, mode
/// 0600, and unlinked at once): gone when closed, whatever ends the run.
pub(super) fn unnamed_file(dir: &Path) -> Result<fs::File, String> {
    let (fd, path) = nix::unistd::mkstemp(&dir.join("app-download-XXXXXX"))
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
    let _ = fs::remove_file(&path);
    Ok(fs::File::from(fd))
}

/// Each file system holding one of `needs` (a folder and what may be written
/// there) has room for all that goes to it.
pub(super) fn check_space(needs: &[(&Path, u64)]) -> Result<(), String> {
    let mut per_fs: Vec<(u64, &Path, u64, u64)> = Vec::new();
    for (dir, bytes) in needs {
        let st = nix::sys::statvfs::statvfs(*dir)
            .map_err(|e| format!("cannot tell the free space of {}: {e}", dir.display()))?;
        let free = st.blocks_available().saturating_mul(st.fragment_size());
        match per_fs.iter_mut().find(|f| f.0 == st.filesystem_id()) {
            Some(f) => f.2 = f.2.saturating_add(*bytes),
            None => per_fs.push((st.filesystem_id(), dir, *bytes, free)),
        }
    }
    match per_fs.iter().find(|(_, _, need, free)| free < need) {
        None => Ok(()),
        Some((_, dir, need, free)) => Err(format!(
            "{} has {} free, and the export may need {} there ([application] max_size_mb bounds the download and the unpacked export each); free space or lower max_size_mb",
            dir.display(),
            crate::units::bytes(*free),
            crate::units::bytes(*need)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder beside `dir` holding one file, then placed as `dir`.
    fn land(dir: &Path, existing: Existing) -> Result<(), String> {
        let (parent, leaf) = split(dir)?;
        let parent_fd = unzip::open_dir(None, parent).unwrap();
        check_destination(&parent_fd, dir, leaf, existing)?;
        let (fresh, _fd) = fresh_dir(&parent_fd, parent, leaf)?;
        fs::write(fresh.join("schema.json"), "{}").unwrap();
        let fresh_leaf = PathBuf::from(fresh.file_name().unwrap());
        let placed = place(&parent_fd, &fresh_leaf, dir, leaf, existing);
        if placed.is_err() {
            fs::remove_dir_all(&fresh).unwrap();
        }
        placed
    }

    #[test]
    fn lands_only_where_nothing_or_our_own_empty_folder_stands() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("app");
        fs::write(t.path().join("app.zip"), "precious").unwrap();
        land(&dir, Existing::NewOrEmpty).unwrap();
        assert!(dir.join("schema.json").is_file());
        assert_eq!(
            fs::read_to_string(t.path().join("app.zip")).unwrap(),
            "precious"
        );

        let err = land(&dir, Existing::NewOrEmpty).unwrap_err();
        assert!(err.contains("is not empty"), "{err}");
        // Our own previous export is what Replace replaces.
        fs::write(dir.join("old.json"), "old").unwrap();
        land(&dir, Existing::Replace).unwrap();
        assert!(!dir.join("old.json").exists() && dir.join("schema.json").is_file());

        let empty = t.path().join("empty");
        fs::create_dir(&empty).unwrap();
        land(&empty, Existing::NewOrEmpty).unwrap();
        assert!(empty.join("schema.json").is_file());

        let link = t.path().join("link");
        std::os::unix::fs::symlink(&empty, &link).unwrap();
        for existing in [Existing::NewOrEmpty, Existing::Replace] {
            let err = land(&link, existing).unwrap_err();
            assert!(err.contains("is a symbolic link"), "{err}");
        }
        let left: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("incoming"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_unnamed_download_file_has_no_name() {
        let t = tempfile::tempdir().unwrap();
        let mut f = unnamed_file(t.path()).unwrap();
        use std::io::Write;
        f.write_all(b"zip").unwrap();
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn free_space_is_summed_per_file_system() {
        let t = tempfile::tempdir().unwrap();
        check_space(&[(t.path(), 1), (t.path(), 1)]).unwrap();
        let err = check_space(&[(t.path(), u64::MAX / 2), (t.path(), u64::MAX / 2)]).unwrap_err();
        assert!(err.contains("free space or lower max_size_mb"), "{err}");
    }
}
