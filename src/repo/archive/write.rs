//! Writing an archive: walk the tree (the shared walk: sorted, not following
//! symlinks, not entering other file systems), stream tar with PAX records for
//! nanosecond mtimes and extended attributes into multithreaded zstd into the
//! output file, hashing file contents and the compressed stream on the way.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::hashing::{hex, HashingReader, HashingWriter};
use super::model::{ArchiveError, ArchiveEvent, ArchiveOptions, ArchiveSummary, BUF};
use super::pax;
use crate::cancel::Cancel;
use crate::repo::file_index::{EntryKind, IndexEntry};
use crate::repo::meta::Meta;
use crate::repo::tree;

type Output = zstd::stream::write::Encoder<'static, HashingWriter<BufWriter<File>>>;

/// Archives `src` into `out` (created new, owner-only). On any error the partial
/// output is removed.
pub fn write_archive(
    src: &Path,
    out: &Path,
    opts: &ArchiveOptions,
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<ArchiveSummary, ArchiveError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| ArchiveError::io("cannot create", out, e))?;
    let result = write_into(file, src, out, opts, cancel, on);
    if result.is_err() {
        let _ = fs::remove_file(out);
    }
    result
}

fn write_into(
    file: File,
    src: &Path,
    out: &Path,
    opts: &ArchiveOptions,
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<ArchiveSummary, ArchiveError> {
    let out_err = |e: io::Error| ArchiveError::io("cannot write", out, e);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        n => n,
    };
    let mut encoder = zstd::stream::write::Encoder::new(
        HashingWriter::new(BufWriter::with_capacity(BUF, file)),
        opts.level,
    )
    .map_err(out_err)?;
    encoder.multithread(threads).map_err(out_err)?;
    let mut walk = Walk {
        out,
        cancel,
        on,
        tar: tar::Builder::new(encoder),
        index: Vec::new(),
        first_links: HashMap::new(),
        names: Names::default(),
        files: 0,
        bytes: 0,
    };
    walk.tar.mode(tar::HeaderMode::Complete);
    for node in tree::walk(src) {
        if walk.cancel.is_cancelled() {
            return Err(ArchiveError::Cancelled);
        }
        let node = node.map_err(|e| ArchiveError::io("cannot read", &e.path, e.source))?;
        if node.mount_point {
            (walk.on)(ArchiveEvent::Warning(tree::mount_point_warning(
                src, &node.abs,
            )));
        }
        walk.entry(&node.rel, &node.abs, &node.meta)?;
    }

    let Walk {
        tar,
        index,
        files,
        bytes,
        ..
    } = walk;
    let encoder = tar.into_inner().map_err(out_err)?;
    let mut hashing = encoder.finish().map_err(out_err)?;
    hashing.flush().map_err(out_err)?;
    let file = hashing
        .inner
        .into_inner()
        .map_err(|e| out_err(e.into_error()))?;
    file.sync_all().map_err(out_err)?;
    Ok(ArchiveSummary {
        files,
        entries: index.len() as u64,
        bytes,
        archive_size: hashing.written,
        sha256: hex(&hashing.hasher.finalize()),
        index,
    })
}

struct Walk<'a> {
    out: &'a Path,
    cancel: &'a Cancel,
    on: &'a mut dyn FnMut(ArchiveEvent),
    tar: tar::Builder<Output>,
    index: Vec<IndexEntry>,
    /// (dev, inode) of files with several links → the first path archived.
    first_links: HashMap<(u64, u64), Vec<u8>>,
    /// uid and gid → their names here (None: no name), looked up once each.
    names: Names,
    files: u64,
    bytes: u64,
}

/// User and group names for the tar header (`uname`/`gname`, as GNU tar writes
/// them), so that a restore on another machine can map owners by name.
#[derive(Default)]
struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    fn user(&mut self, uid: u32) -> Option<&str> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .as_deref()
    }

    fn group(&mut self, gid: u32) -> Option<&str> {
        self.groups
            .entry(gid)
            .or_insert_with(|| {
                nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
                    .ok()
                    .flatten()
                    .map(|g| g.name)
            })
            .as_deref()
    }
}

impl Walk<'_> {
    /// Appends one entry (sockets, fifos and devices are skipped with a warning),
    /// preceded by a PAX header for what the tar header cannot hold.
    fn entry(&mut self, rel: &Path, abs: &Path, meta: &Metadata) -> Result<(), ArchiveError> {
        let ft = meta.file_type();
        if !(ft.is_dir() || ft.is_symlink() || ft.is_file()) {
            (self.on)(ArchiveEvent::Warning(format!(
                "skipped {} (sockets, fifos and device files are not backed up)",
                abs.display()
            )));
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        h.set_mode(meta.mode() & 0o7777);
        // A name too long for the header's 32 bytes is left out: the number stays.
        if let Some(name) = self.names.user(meta.uid()) {
            let _ = h.set_username(name);
        }
        if let Some(name) = self.names.group(meta.gid()) {
            let _ = h.set_groupname(name);
        }
        let tar_path: &Path = if rel == Path::new(".") {
            Path::new("./")
        } else {
            rel
        };
        let rel_bytes = rel.as_os_str().as_bytes().to_vec();
        let mut entry = IndexEntry {
            kind: EntryKind::Dir,
            path: rel_bytes.clone(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: 0,
            sha256: None,
            link: None,
        };
        let out_err = |e| ArchiveError::io("cannot write", self.out, e);
        let hardlink = ft.is_file()
            && meta.nlink() > 1
            && self.first_links.contains_key(&(meta.dev(), meta.ino()));
        // A hardlink shares its first path's inode, and with it that entry's attributes.
        if !hardlink {
            let full =
                Meta::capture(abs, meta).map_err(|e| ArchiveError::io("cannot read", abs, e))?;
            let (records, skipped) = pax::records(&full);
            for name in skipped {
                (self.on)(ArchiveEvent::Warning(format!(
                    "the extended attribute {:?} of {} is not kept: its name is not UTF-8",
                    String::from_utf8_lossy(&name),
                    abs.display()
                )));
            }
            self.tar
                .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .map_err(out_err)?;
        }
        if ft.is_dir() {
            self.tar
                .append_data(&mut h, tar_path, io::empty())
                .map_err(out_err)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(abs).map_err(|e| ArchiveError::io("cannot read", abs, e))?;
            entry.kind = EntryKind::Symlink;
            entry.link = Some(target.as_os_str().as_bytes().to_vec());
            self.tar
                .append_link(&mut h, tar_path, &target)
                .map_err(out_err)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            match self.first_links.get(&key) {
                Some(first) if meta.nlink() > 1 => {
                    entry.kind = EntryKind::HardLink;
                    entry.link = Some(first.clone());
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    let target = PathBuf::from(std::ffi::OsStr::from_bytes(first));
                    self.tar
                        .append_link(&mut h, tar_path, &target)
                        .map_err(out_err)?;
                }
                _ => {
                    if meta.nlink() > 1 {
                        self.first_links.insert(key, rel_bytes);
                    }
                    entry.kind = EntryKind::File;
                    entry.size = meta.len();
                    entry.sha256 = Some(self.file(&mut h, tar_path, rel, abs, meta.len())?);
                    self.files += 1;
                    self.bytes += meta.len();
                }
            }
        }
        self.index.push(entry);
        Ok(())
    }

    /// Streams one file's content into the tar, hashing it; fails if its size
    /// differs from the size in its header (it changed while we read it).
    fn file(
        &mut self,
        h: &mut tar::Header,
        tar_path: &Path,
        rel: &Path,
        abs: &Path,
        size: u64,
    ) -> Result<String, ArchiveError> {
        (self.on)(ArchiveEvent::File(rel));
        let f = File::open(abs).map_err(|e| ArchiveError::io("cannot read", abs, e))?;
        let mut reader = Progress {
            inner: HashingReader::new(BufReader::with_capacity(BUF, f)),
            cancel: self.cancel,
            on: &mut *self.on,
            pending: 0,
            cancelled: false,
        };
        let result = self.tar.append_data(h, tar_path, (&mut reader).take(size));
        let cancelled = reader.cancelled;
        let mut extra = [0u8; 1];
        let grew = reader
            .inner
            .inner
            .read(&mut extra)
            .map(|n| n > 0)
            .unwrap_or(false);
        reader.flush_progress();
        let Progress { inner, .. } = reader;
        if cancelled {
            return Err(ArchiveError::Cancelled);
        }
        if let Some(e) = inner.source_failed {
            return Err(ArchiveError::io("cannot read", abs, e));
        }
        result.map_err(|e| ArchiveError::io("cannot write", self.out, e))?;
        if inner.read != size || grew {
            return Err(ArchiveError::SourceChanged {
                path: abs.to_path_buf(),
            });
        }
        Ok(hex(&inner.hasher.finalize()))
    }
}

/// Reports progress about every megabyte and stops the copy when cancelled.
struct Progress<'a, R> {
    inner: HashingReader<R>,
    cancel: &'a Cancel,
    on: &'a mut dyn FnMut(ArchiveEvent),
    pending: u64,
    cancelled: bool,
}

impl<R> Progress<'_, R> {
    fn flush_progress(&mut self) {
        if self.pending > 0 {
            (self.on)(ArchiveEvent::Bytes(self.pending));
            self.pending = 0;
        }
    }
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            self.cancelled = true;
            return Err(io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.pending += n as u64;
        if self.pending >= BUF as u64 {
            self.flush_progress();
        }
        Ok(n)
    }
}
