//! Reading an archive back: extraction into a fresh staging folder (hostile-input
//! safe, every file checked against the index and never written past its indexed
//! size, sparse files kept sparse, everything fsynced before success is reported)
//! and deep verification (the same walk without writing).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::hashing::hex;
use super::model::{ArchiveError, ArchiveEvent, BUF};
use super::pax;
use crate::cancel::Cancel;
use crate::repo::file_index::{EntryKind, IndexEntry};
use crate::repo::meta::{Applier, Meta};
use crate::repo::owners::OwnerMap;

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
    owners: &OwnerMap,
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
    walk(archive, Some(dest), index, owners, cancel, on, None)
}

/// Reads every entry and checks it against the index; writes nothing.
pub fn deep_verify(
    archive: &Path,
    index: &[IndexEntry],
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<VerifySummary, ArchiveError> {
    walk(archive, None, index, &OwnerMap::default(), cancel, on, None)
}

/// `deep_verify`, telling `times` each entry's path (as in the index) and mtime
/// (seconds since the epoch): what a listing of the generation shows beside the
/// index, which holds no times.
pub fn entry_times(
    archive: &Path,
    index: &[IndexEntry],
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
    times: &mut dyn FnMut(&[u8], i64),
) -> Result<VerifySummary, ArchiveError> {
    walk(
        archive,
        None,
        index,
        &OwnerMap::default(),
        cancel,
        on,
        Some(times),
    )
}

/// Metadata applied once a folder's contents are in place (deepest first).
struct DirMeta {
    path: PathBuf,
    meta: Meta,
}

/// Extension headers are read into memory; real ones are a few KiB (names up to
/// PATH_MAX, xattr values up to 64 KiB each), so anything far larger is hostile.
const MAX_LONG_NAME: u64 = 64 << 10;
const MAX_PAX: u64 = 16 << 20;

/// Size of the blocks that are left as holes when they are all zeros.
const HOLE: usize = 4096;

/// What the extension headers before an entry said about it.
#[derive(Default)]
struct Pending {
    pax: Option<pax::Extended>,
    long_path: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.pax.is_none() && self.long_path.is_none() && self.long_link.is_none()
    }
}

/// Where a walk tells each entry's path and mtime.
type Times<'a> = &'a mut dyn FnMut(&[u8], i64);

fn walk(
    archive: &Path,
    dest: Option<&Path>,
    index: &[IndexEntry],
    owners: &OwnerMap,
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
    mut times: Option<Times>,
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
    let mut applier = Applier::with_owners(owners.clone());

    let file = File::open(archive).map_err(|e| ArchiveError::io("cannot read", archive, e))?;
    let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(BUF, file))
        .map_err(|e| corrupt(e.to_string()))?;
    let mut tar = tar::Archive::new(decoder);
    // Raw: the extension headers (PAX, GNU long names) are read here, bounded,
    // and with a PAX parser that takes values with any bytes.
    let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?.raw(true);
    let mut pending = Pending::default();
    for entry in entries {
        if cancel.is_cancelled() {
            return Err(ArchiveError::Cancelled);
        }
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::XHeader => {
                let data = read_small(&mut entry, MAX_PAX, "PAX header", archive)?;
                let ext = pax::parse(&data).map_err(|reason| ArchiveError::Unsafe {
                    entry: b"(a PAX header)".to_vec(),
                    reason,
                })?;
                if pending.pax.replace(ext).is_some() {
                    return Err(corrupt("two PAX headers describe one entry".into()));
                }
                continue;
            }
            tar::EntryType::GNULongName | tar::EntryType::GNULongLink => {
                let mut data = read_small(&mut entry, MAX_LONG_NAME, "long name", archive)?;
                while data.last() == Some(&0) {
                    data.pop();
                }
                let slot = if kind == tar::EntryType::GNULongName {
                    &mut pending.long_path
                } else {
                    &mut pending.long_link
                };
                if slot.replace(data).is_some() {
                    return Err(corrupt("two long names describe one entry".into()));
                }
                continue;
            }
            _ => {}
        }
        let Pending {
            pax,
            long_path,
            long_link,
        } = std::mem::take(&mut pending);
        let mut ext = pax.unwrap_or_default();
        let raw = ext
            .path
            .take()
            .or(long_path)
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let link = ext
            .linkpath
            .take()
            .or(long_link)
            .or_else(|| entry.link_name_bytes().map(|l| l.into_owned()))
            .unwrap_or_default();
        let rel = normalise(&raw)?;
        let want = match kind {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::HardLink,
            other => {
                return Err(ArchiveError::Unsafe {
                    entry: raw,
                    reason: format!(
                    "entries of type {other:?} (devices, fifos, global headers) are never restored"
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
        let meta = entry_meta(entry.header(), ext);
        if let Some(t) = times.as_mut() {
            t(&rel, meta.mtime);
        }
        let attr_err =
            |t: &Path, e: io::Error| ArchiveError::io("cannot set the attributes of", t, e);
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
                        meta,
                    });
                }
            }
            EntryKind::File => {
                // A decompression bomb is refused before a byte of it is written.
                if entry.size() > ix.size {
                    return Err(ArchiveError::TooLarge {
                        entry: rel,
                        indexed: ix.size,
                        seen: entry.size(),
                    });
                }
                let copy = Copy {
                    rel: &rel,
                    limit: ix.size,
                    archive,
                    cancel,
                };
                let (n, hash, out) = copy.run(&mut entry, target.as_deref(), on)?;
                summary.bytes += n;
                if n != ix.size || Some(&hash) != ix.sha256.as_ref() {
                    return Err(ArchiveError::HashMismatch {
                        entry: rel,
                        expected: ix.sha256.clone().unwrap_or_default(),
                        actual: hash,
                    });
                }
                if let (Some(t), Some(_)) = (&target, out) {
                    applier.apply(t, &meta, false).map_err(|e| attr_err(t, e))?;
                }
            }
            EntryKind::Symlink => {
                if Some(&link) != ix.link.as_ref() {
                    return Err(ArchiveError::Unsafe {
                        entry: raw,
                        reason: "its link target differs from the file index".into(),
                    });
                }
                if let Some(t) = &target {
                    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&link), t)
                        .map_err(|e| ArchiveError::io("cannot create", t, e))?;
                    applier.apply(t, &meta, true).map_err(|e| attr_err(t, e))?;
                }
            }
            EntryKind::HardLink => {
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
    if !pending.is_empty() {
        return Err(corrupt(
            "the archive ends after a PAX or long-name header, without its entry".into(),
        ));
    }
    if let Some(missing) = index.iter().find(|e| !seen.contains(&e.path)) {
        return Err(ArchiveError::Missing {
            entry: missing.path.clone(),
        });
    }
    // Folders last, deepest first: their mtimes would change while filling them,
    // and a read-only folder must stay writable until its contents are in.
    for d in dirs.iter().rev() {
        applier
            .apply(&d.path, &d.meta, false)
            .map_err(|e| ArchiveError::io("cannot set the attributes of", &d.path, e))?;
    }
    // Durable before reported: one syncfs of the staging folder's file system
    // writes back every file, folder and attribute extracted above (an fsync per
    // file costs a journal commit each: 10,000 files took seconds more).
    if let Some(d) = dest {
        sync_file_system(d).map_err(|e| ArchiveError::io("cannot write", d, e))?;
    }
    if applier.ownership_skipped() {
        (on)(ArchiveEvent::Warning(
            "file ownership was not restored (it needs root); files belong to the user who ran the restore".into(),
        ));
    }
    for w in applier.xattr_warnings() {
        (on)(ArchiveEvent::Warning(w));
    }
    Ok(summary)
}

/// Owner, mode and mtime from the header, refined by the PAX records
/// (nanoseconds, large ids) and the extended attributes they carry.
fn entry_meta(h: &tar::Header, ext: pax::Extended) -> Meta {
    let (mtime, mtime_nsec) = ext.mtime.unwrap_or((h.mtime().unwrap_or(0) as i64, 0));
    let mut xattrs = ext.xattrs;
    xattrs.sort();
    Meta {
        uid: ext.uid.unwrap_or(h.uid().unwrap_or(0) as u32),
        gid: ext.gid.unwrap_or(h.gid().unwrap_or(0) as u32),
        mode: h.mode().unwrap_or(0o600) & 0o7777,
        mtime,
        mtime_nsec,
        xattrs,
    }
}

/// Reads an extension header's data, refusing one too large to be honest.
fn read_small(
    entry: &mut impl Read,
    max: u64,
    what: &str,
    archive: &Path,
) -> Result<Vec<u8>, ArchiveError> {
    let mut data = Vec::new();
    entry
        .take(max + 1)
        .read_to_end(&mut data)
        .map_err(|e| ArchiveError::Corrupt {
            archive: archive.to_path_buf(),
            detail: e.to_string(),
        })?;
    if data.len() as u64 > max {
        return Err(ArchiveError::Unsafe {
            entry: format!("(a {what})").into_bytes(),
            reason: format!("it is larger than {max} bytes"),
        });
    }
    Ok(data)
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

/// Copies one file entry's content to a target (if any), hashing it, stopping
/// the moment it would pass the indexed size.
struct Copy<'a> {
    rel: &'a [u8],
    /// The size in the file index: nothing beyond it is read or written.
    limit: u64,
    archive: &'a Path,
    cancel: &'a Cancel,
}

impl Copy<'_> {
    /// Returns the bytes read, their sha256, and the written file, still open so
    /// the caller can fsync it once its attributes are set. All-zero blocks are
    /// left as holes (a sparse file comes back sparse). Read errors mean a damaged
    /// archive; write errors are the target's.
    fn run(
        &self,
        entry: &mut impl Read,
        target: Option<&Path>,
        on: &mut dyn FnMut(ArchiveEvent),
    ) -> Result<(u64, String, Option<File>), ArchiveError> {
        let out = match target {
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
        let write_err = |e| ArchiveError::io("cannot write", target.unwrap_or(self.archive), e);
        let mut hasher = Sha256::new();
        // A multiple of HOLE, filled completely, so blocks stay aligned to the file.
        let mut buf = vec![0u8; 64 * HOLE];
        let mut total = 0u64;
        let mut pending = 0u64;
        loop {
            if self.cancel.is_cancelled() {
                return Err(ArchiveError::Cancelled);
            }
            let n = read_full(entry, &mut buf).map_err(|e| ArchiveError::Corrupt {
                archive: self.archive.to_path_buf(),
                detail: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            if total + n as u64 > self.limit {
                return Err(ArchiveError::TooLarge {
                    entry: self.rel.to_vec(),
                    indexed: self.limit,
                    seen: total + n as u64,
                });
            }
            hasher.update(&buf[..n]);
            if let Some(f) = &out {
                write_sparse(f, &buf[..n], total).map_err(write_err)?;
            }
            total += n as u64;
            pending += n as u64;
            if pending >= BUF as u64 {
                on(ArchiveEvent::Bytes(pending));
                pending = 0;
            }
        }
        if let Some(f) = &out {
            // A trailing hole was never written: the length makes it part of the file.
            f.set_len(total).map_err(write_err)?;
        }
        if pending > 0 {
            on(ArchiveEvent::Bytes(pending));
        }
        Ok((total, hex(&hasher.finalize()), out))
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes `data` at `offset`, skipping whole all-zero blocks (like
/// `cp --sparse=always`): they read back as zeros from the hole left behind.
fn write_sparse(f: &File, data: &[u8], offset: u64) -> io::Result<()> {
    let mut run: Option<usize> = None;
    for (i, block) in data.chunks(HOLE).enumerate() {
        let hole = block.len() == HOLE && block.iter().fold(0u8, |a, &b| a | b) == 0;
        match (hole, run) {
            (true, Some(start)) => {
                f.write_all_at(&data[start..i * HOLE], offset + start as u64)?;
                run = None;
            }
            (false, None) => run = Some(i * HOLE),
            _ => {}
        }
    }
    if let Some(start) = run {
        f.write_all_at(&data[start..], offset + start as u64)?;
    }
    Ok(())
}

/// Writes back everything dirty on the file system holding `dir` and waits for it
/// (syncfs(2), which reports write-back errors since Linux 5.8).
pub fn sync_file_system(dir: &Path) -> io::Result<()> {
    let d = File::open(dir)?;
    // SAFETY: `d` is an open descriptor for the duration of the call.
    match unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&d)) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
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

    #[test]
    fn copying_stops_when_more_arrives_than_indexed() {
        // A tar entry cannot deliver more than its header says, so the reader here
        // stands in for a header that lies; the limit must hold on its own.
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("f");
        let copy = Copy {
            rel: b"f",
            limit: 10,
            archive: Path::new("a.tar.zst"),
            cancel: &Cancel::new(),
        };
        let mut input = io::repeat(7).take(1 << 20);
        let err = copy.run(&mut input, Some(&t), &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooLarge { indexed: 10, .. }),
            "{err}"
        );
        assert!(fs::metadata(&t).unwrap().len() <= 10);
    }

    #[test]
    fn zero_blocks_become_holes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("f");
        let mut data = vec![0u8; 8 << 20];
        data[4 << 20] = 1;
        let copy = Copy {
            rel: b"f",
            limit: data.len() as u64,
            archive: Path::new("a.tar.zst"),
            cancel: &Cancel::new(),
        };
        let (n, _, f) = copy.run(&mut &data[..], Some(&t), &mut |_| {}).unwrap();
        drop(f);
        assert_eq!(n, data.len() as u64);
        assert_eq!(fs::read(&t).unwrap(), data);
        assert!(fs::metadata(&t).unwrap().blocks() < 1024, "sparse");
    }
}
