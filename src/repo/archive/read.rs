//! Reading an archive back: extraction into a fresh staging folder (hostile-input
//! safe, every file checked against the index) and deep verification (the same
//! walk without writing).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::hashing::hex;
use super::{ArchiveError, ArchiveEvent, BUF};
use crate::cancel::Cancel;
use crate::repo::file_index::{EntryKind, IndexEntry};

#[derive(Debug, Default)]
pub struct ExtractSummary {
    pub entries: u64,
    pub bytes: u64,
}

pub type VerifySummary = ExtractSummary;

/// Extracts `archive` into `dest`, which must not exist or be empty.
pub fn extract_archive(
    archive: &Path,
    dest: &Path,
    index: &[IndexEntry],
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<ExtractSummary, ArchiveError> {
    let not_empty = fs::read_dir(dest)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if not_empty {
        return Err(ArchiveError::Io {
            action: "cannot extract into",
            path: dest.to_path_buf(),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "the folder is not empty"),
        });
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dest)
        .map_err(|e| ArchiveError::io("cannot create", dest, e))?;
    walk(archive, Some(dest), index, cancel, on)
}

/// Reads every entry and checks it against the index; writes nothing.
pub fn deep_verify(
    archive: &Path,
    index: &[IndexEntry],
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<VerifySummary, ArchiveError> {
    walk(archive, None, index, cancel, on)
}

/// Metadata applied once a folder's contents are in place (deepest first).
struct DirMeta {
    path: PathBuf,
    header: tar::Header,
}

fn walk(
    archive: &Path,
    dest: Option<&Path>,
    index: &[IndexEntry],
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<ExtractSummary, ArchiveError> {
    let corrupt = |detail: String| ArchiveError::Corrupt {
        archive: archive.to_path_buf(),
        detail,
    };
    let expected: HashMap<&[u8], &IndexEntry> =
        index.iter().map(|e| (e.path.as_slice(), e)).collect();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut dirs: Vec<DirMeta> = Vec::new();
    let mut summary = ExtractSummary::default();
    let mut ownership_skipped = false;
    let root_user = nix::unistd::geteuid().is_root();

    let file = File::open(archive).map_err(|e| ArchiveError::io("cannot read", archive, e))?;
    let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(BUF, file))
        .map_err(|e| corrupt(e.to_string()))?;
    let mut tar = tar::Archive::new(decoder);
    let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        if cancel.is_cancelled() {
            return Err(ArchiveError::Cancelled);
        }
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let rel = normalise(&raw)?;
        let kind = entry.header().entry_type();
        let want = match kind {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::HardLink,
            other => {
                return Err(ArchiveError::Unsafe {
                    entry: raw,
                    reason: format!(
                        "entries of type {other:?} (devices, fifos) are never restored"
                    ),
                })
            }
        };
        let Some(ix) = expected.get(rel.as_slice()) else {
            return Err(ArchiveError::Unsafe {
                entry: raw,
                reason: "it is not in the file index".into(),
            });
        };
        if ix.kind != want || !seen.insert(rel.clone()) {
            return Err(ArchiveError::Unsafe {
                entry: raw,
                reason: "its type differs from the file index, or it appears twice".into(),
            });
        }
        let is_root = rel == b".";
        // Every entry's parent must be a folder this archive created (the root
        // included): no entry can land behind a symlink or outside `dest`.
        if !is_root {
            let parent = parent_of(&rel);
            let parent_ok = parent == b"."
                || expected
                    .get(parent)
                    .is_some_and(|p| p.kind == EntryKind::Dir)
                    && seen.contains(parent);
            if !parent_ok {
                return Err(ArchiveError::Unsafe {
                    entry: raw,
                    reason: "its parent is not a folder created earlier in this archive".into(),
                });
            }
        }
        let target = dest.map(|d| {
            if is_root {
                d.to_path_buf()
            } else {
                d.join(std::ffi::OsStr::from_bytes(&rel))
            }
        });
        (on)(ArchiveEvent::File(Path::new(std::ffi::OsStr::from_bytes(
            &rel,
        ))));
        summary.entries += 1;
        match want {
            EntryKind::Dir => {
                if let Some(t) = &target {
                    if !is_root {
                        fs::DirBuilder::new()
                            .mode(0o700)
                            .create(t)
                            .map_err(|e| ArchiveError::io("cannot create", t, e))?;
                    }
                    dirs.push(DirMeta {
                        path: t.clone(),
                        header: entry.header().clone(),
                    });
                }
            }
            EntryKind::File => {
                let (n, hash) = copy_file(&mut entry, target.as_deref(), archive, cancel, on)?;
                summary.bytes += n;
                if n != ix.size || Some(&hash) != ix.sha256.as_ref() {
                    return Err(ArchiveError::HashMismatch {
                        entry: rel,
                        expected: ix.sha256.clone().unwrap_or_default(),
                        actual: hash,
                    });
                }
                if let Some(t) = &target {
                    ownership_skipped |= apply_meta(t, entry.header(), root_user, false)?;
                }
            }
            EntryKind::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                if Some(&link) != ix.link.as_ref() {
                    return Err(ArchiveError::Unsafe {
                        entry: raw,
                        reason: "its link target differs from the file index".into(),
                    });
                }
                if let Some(t) = &target {
                    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&link), t)
                        .map_err(|e| ArchiveError::io("cannot create", t, e))?;
                    ownership_skipped |= apply_meta(t, entry.header(), root_user, true)?;
                }
            }
            EntryKind::HardLink => {
                let link = entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                let link_rel = normalise(&link)?;
                let points_to_file = expected
                    .get(link_rel.as_slice())
                    .is_some_and(|e| e.kind == EntryKind::File);
                if !points_to_file
                    || !seen.contains(&link_rel)
                    || Some(&link_rel) != ix.link.as_ref()
                {
                    return Err(ArchiveError::Unsafe {
                        entry: raw,
                        reason:
                            "a hardlink must point to a file extracted earlier from this archive"
                                .into(),
                    });
                }
                if let (Some(t), Some(d)) = (&target, dest) {
                    let src = d.join(std::ffi::OsStr::from_bytes(&link_rel));
                    fs::hard_link(&src, t).map_err(|e| ArchiveError::io("cannot create", t, e))?;
                }
            }
        }
    }
    if let Some(missing) = index.iter().find(|e| !seen.contains(&e.path)) {
        return Err(ArchiveError::Missing {
            entry: missing.path.clone(),
        });
    }
    // Folders last, deepest first: their mtimes would change while filling them,
    // and a read-only folder must stay writable until its contents are in.
    for d in dirs.iter().rev() {
        ownership_skipped |= apply_meta(&d.path, &d.header, root_user, false)?;
    }
    if ownership_skipped {
        (on)(ArchiveEvent::Warning(
            "file ownership was not restored (it needs root); files belong to the user who ran the restore".into(),
        ));
    }
    Ok(summary)
}

/// Strips a leading `./`, refuses absolute paths and `..`; the root is `.`.
fn normalise(raw: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let unsafe_entry = |reason: &str| ArchiveError::Unsafe {
        entry: raw.to_vec(),
        reason: reason.into(),
    };
    if raw.starts_with(b"/") {
        return Err(unsafe_entry("absolute paths are refused"));
    }
    let parts: Vec<&[u8]> = raw
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    if parts.iter().any(|p| *p == b"..") {
        return Err(unsafe_entry("paths with `..` are refused"));
    }
    if parts.is_empty() {
        return Ok(b".".to_vec());
    }
    Ok(parts.join(&b'/'))
}

fn parent_of(rel: &[u8]) -> &[u8] {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel[..i],
        None => b".",
    }
}

/// Copies an entry's content to `target` (if any), hashing it. Read errors mean a
/// damaged archive; write errors are the target's.
fn copy_file(
    entry: &mut impl Read,
    target: Option<&Path>,
    archive: &Path,
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<(u64, String), ArchiveError> {
    let mut out = match target {
        Some(t) => Some(
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(t)
                .map_err(|e| ArchiveError::io("cannot create", t, e))?,
        ),
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let mut pending = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(ArchiveError::Cancelled);
        }
        let n = entry.read(&mut buf).map_err(|e| ArchiveError::Corrupt {
            archive: archive.to_path_buf(),
            detail: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let (Some(f), Some(t)) = (out.as_mut(), target) {
            f.write_all(&buf[..n])
                .map_err(|e| ArchiveError::io("cannot write", t, e))?;
        }
        total += n as u64;
        pending += n as u64;
        if pending >= BUF as u64 {
            on(ArchiveEvent::Bytes(pending));
            pending = 0;
        }
    }
    if pending > 0 {
        on(ArchiveEvent::Bytes(pending));
    }
    Ok((total, hex(&hasher.finalize())))
}

/// Owner, mode and mtime from the header. Returns true when ownership differed
/// but could not be set (not root).
fn apply_meta(
    path: &Path,
    h: &tar::Header,
    root_user: bool,
    symlink: bool,
) -> Result<bool, ArchiveError> {
    let err = |e: io::Error| ArchiveError::io("cannot set the attributes of", path, e);
    let uid = h.uid().unwrap_or(0) as u32;
    let gid = h.gid().unwrap_or(0) as u32;
    let mut skipped = false;
    if root_user {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(err)?;
    } else {
        skipped = uid != nix::unistd::geteuid().as_raw() || gid != nix::unistd::getegid().as_raw();
    }
    // chown clears setuid bits, so the mode comes after it.
    if !symlink {
        let mode = h.mode().unwrap_or(0o600) & 0o7777;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(err)?;
    }
    let mtime = nix::sys::time::TimeSpec::new(h.mtime().unwrap_or(0) as i64, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &mtime,
        &mtime,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| err(io::Error::from(e)))?;
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_refuses_escapes() {
        assert_eq!(normalise(b"./").unwrap(), b".");
        assert_eq!(normalise(b"./a//b/").unwrap(), b"a/b");
        assert!(normalise(b"/etc/passwd").is_err());
        assert!(normalise(b"../x").is_err());
        assert!(normalise(b"a/../../x").is_err());
        assert_eq!(parent_of(b"a/b/c"), b"a/b");
        assert_eq!(parent_of(b"a"), b".");
    }
}
