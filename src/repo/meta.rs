//! A file's metadata as the archive keeps it (owner, mode, mtime to the
//! nanosecond, extended attributes including ACLs and file capabilities), read
//! from a path and applied to a path. Archive writing, cloning and extraction
//! all go through here, so the order of the steps is decided once.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One extended attribute: its full name (`user.x`, `security.capability`,
/// `system.posix_acl_access`, ...) and its raw value.
pub type Xattr = (Vec<u8>, Vec<u8>);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits with setuid, setgid and sticky (`& 0o7777`).
    pub mode: u32,
    pub mtime: i64,
    /// 0..1_000_000_000.
    pub mtime_nsec: u32,
    /// Sorted by name.
    pub xattrs: Vec<Xattr>,
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a path with a NUL byte cannot be used",
        )
    })
}

fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::ENOSYS))
}

impl Meta {
    /// Reads `path`'s metadata (`meta` from `symlink_metadata` of it) and its
    /// extended attributes, without following a symlink.
    pub fn capture(path: &Path, meta: &Metadata) -> io::Result<Meta> {
        Ok(Meta {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec().clamp(0, 999_999_999) as u32,
            xattrs: read_xattrs(path)?,
        })
    }
}

/// All extended attributes of `path` this process may read (a symlink's own).
/// A file system without extended attributes has none.
pub fn read_xattrs(path: &Path) -> io::Result<Vec<Xattr>> {
    let c = c_path(path)?;
    let names = match grow(|buf, len| {
        // SAFETY: `c` is NUL-terminated; buf/len describe a writable buffer (or null/0).
        unsafe { libc::llistxattr(c.as_ptr(), buf.cast(), len) }
    }) {
        Ok(n) => n,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).map_err(|_| io::Error::other("bad xattr name"))?;
        let value = grow(|buf, len| {
            // SAFETY: as above; `cname` is NUL-terminated.
            unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), buf.cast(), len) }
        });
        match value {
            Ok(v) => out.push((name.to_vec(), v)),
            // Removed between listing and reading: nothing to keep.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}

/// Calls a size-query-then-fill syscall, growing the buffer when the value grew
/// between the two calls (ERANGE).
fn grow(mut call: impl FnMut(*mut u8, usize) -> isize) -> io::Result<Vec<u8>> {
    loop {
        let size = call(std::ptr::null_mut(), 0);
        if size < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; size as usize + 64];
        let n = call(buf.as_mut_ptr(), buf.len());
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    }
}

fn set_xattr(path: &CString, name: &[u8], value: &[u8]) -> io::Result<()> {
    let cname = CString::new(name).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "an xattr name with a NUL byte")
    })?;
    // SAFETY: both strings are NUL-terminated; value is a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Applies metadata to paths, collecting what could not be applied (as the user
/// we are, or on the target file system) for one warning each at the end,
/// instead of failing a restore over a label.
#[derive(Debug)]
pub struct Applier {
    root: bool,
    /// uid/gid translation by owner name (a restore onto another machine).
    owners: crate::repo::owners::OwnerMap,
    ownership_skipped: bool,
    /// (xattr name, error) → (how often, first path).
    xattr_failures: BTreeMap<(String, String), (u64, PathBuf)>,
}

impl Default for Applier {
    fn default() -> Self {
        Self::new()
    }
}

impl Applier {
    pub fn new() -> Self {
        Applier {
            root: nix::unistd::geteuid().is_root(),
            owners: Default::default(),
            ownership_skipped: false,
            xattr_failures: BTreeMap::new(),
        }
    }

    /// Owners are set through `owners` (see `repo::owners`).
    pub fn with_owners(owners: crate::repo::owners::OwnerMap) -> Self {
        Applier {
            owners,
            ..Self::new()
        }
    }

    /// Applies `meta` to `path` (a symlink itself when `symlink`) in the one order
    /// that keeps everything: owner first (chown clears setuid bits and file
    /// capabilities), then the mode, then the extended attributes (ACLs and
    /// capabilities, after chown), and the mtime last (everything before it
    /// would count as a change). Errors are the path's; callers name it.
    pub fn apply(&mut self, path: &Path, meta: &Meta, symlink: bool) -> io::Result<()> {
        let (uid, gid) = (self.owners.uid(meta.uid), self.owners.gid(meta.gid));
        if self.root {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        } else if uid != nix::unistd::geteuid().as_raw() || gid != nix::unistd::getegid().as_raw() {
            self.ownership_skipped = true;
        }
        if !symlink {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode & 0o7777))?;
        }
        if !meta.xattrs.is_empty() {
            let c = c_path(path)?;
            for (name, value) in &meta.xattrs {
                if let Err(e) = set_xattr(&c, name, value) {
                    // A full or broken disk fails the run; a refused attribute does not.
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSPC)
                            | Some(libc::EDQUOT)
                            | Some(libc::EIO)
                            | Some(libc::EROFS)
                    ) {
                        return Err(e);
                    }
                    let key = (String::from_utf8_lossy(name).into_owned(), e.to_string());
                    self.xattr_failures
                        .entry(key)
                        .or_insert((0, path.to_path_buf()))
                        .0 += 1;
                }
            }
        }
        let t = nix::sys::time::TimeSpec::new(meta.mtime, i64::from(meta.mtime_nsec));
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(io::Error::from)
    }

    /// Whether some ownership differed from ours but could not be set (not root).
    pub fn ownership_skipped(&self) -> bool {
        self.ownership_skipped
    }

    /// One warning per attribute name and reason that could not be set.
    pub fn xattr_warnings(&self) -> Vec<String> {
        self.xattr_failures
            .iter()
            .map(|((name, err), (count, first))| {
                let more = if *count > 1 {
                    format!(" and {} more", count - 1)
                } else {
                    String::new()
                };
                format!(
                    "the extended attribute {name} could not be set on {}{more}: {err}. \
                     Run as root, and use a file system with extended attributes and ACLs \
                     (ext4, XFS, btrfs) to keep it",
                    first.display()
                )
            })
            .collect()
    }
}

/// Gives every entry under `root` whose owner `map` translates its owner here,
/// keeping its mode, extended attributes (chown drops setuid bits and file
/// capabilities) and mtime: for trees another program restored by number
/// (restic). Returns how many entries changed.
pub fn remap_tree(
    root: &std::path::Path,
    map: &crate::repo::owners::OwnerMap,
) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    if map.is_empty() {
        return Ok(0);
    }
    let mut applier = Applier::with_owners(map.clone());
    let mut changed = 0;
    for node in crate::repo::tree::walk(root) {
        let node = node?;
        let m = &node.meta;
        if map.uid(m.uid()) == m.uid() && map.gid(m.gid()) == m.gid() {
            continue;
        }
        let meta = Meta::capture(&node.abs, m)?;
        let symlink = m.file_type().is_symlink();
        applier
            .apply(&node.abs, &meta, symlink)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", node.abs.display())))?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_and_apply_round_trip_mode_mtime_and_user_xattrs() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"x").unwrap();
        std::fs::write(&b, b"y").unwrap();
        let ca = c_path(&a).unwrap();
        if let Err(e) = set_xattr(&ca, b"user.test", b"bin\n\0ary") {
            panic!(
                "the temp folder {} has no user xattrs ({e}): run the tests with TMPDIR on \
                 ext4, XFS or btrfs (or tmpfs on Linux 6.6 or later)",
                dir.path().display()
            );
        }
        let t = nix::sys::time::TimeSpec::new(1_700_000_000, 123_456_789);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &a,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        let m = Meta::capture(&a, &std::fs::symlink_metadata(&a).unwrap()).unwrap();
        assert_eq!(m.mtime_nsec, 123_456_789);
        assert_eq!(
            m.xattrs,
            vec![(b"user.test".to_vec(), b"bin\n\0ary".to_vec())]
        );
        let mut ap = Applier::new();
        ap.apply(&b, &m, false).unwrap();
        let got = Meta::capture(&b, &std::fs::symlink_metadata(&b).unwrap()).unwrap();
        assert_eq!(got, m);
        assert!(ap.xattr_warnings().is_empty());
    }

    #[test]
    fn a_refused_xattr_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let m = Meta {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            mode: 0o640,
            mtime: 1,
            mtime_nsec: 2,
            xattrs: vec![(b"nonamespace.x".to_vec(), b"v".to_vec())],
        };
        let mut ap = Applier::new();
        ap.apply(&a, &m, false).unwrap();
        let w = ap.xattr_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("nonamespace.x") && w[0].contains("a"),
            "{w:?}"
        );
    }
}
