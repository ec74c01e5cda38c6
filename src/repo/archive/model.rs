//! What reading and writing an archive share: options, events, summaries, errors.

use std::path::{Path, PathBuf};

use crate::cancel::Cancel;
use crate::repo::file_index::IndexEntry;

/// Big reads and writes: fewer syscalls, and zstd workers get whole jobs.
pub(crate) const BUF: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct ArchiveOptions {
    pub level: i32,
    /// zstd worker threads; 0 = one per core.
    pub threads: u32,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        Self {
            level: 3,
            threads: 0,
        }
    }
}

pub enum ArchiveEvent<'a> {
    /// A file is being read or written now (relative to the component root).
    File(&'a Path),
    /// Bytes of file content just processed (a delta).
    Bytes(u64),
    Warning(String),
}

#[derive(Debug)]
pub struct ArchiveSummary {
    /// Regular files (hardlinks count once).
    pub files: u64,
    pub entries: u64,
    /// Content bytes of the regular files.
    pub bytes: u64,
    pub archive_size: u64,
    pub sha256: String,
    pub index: Vec<IndexEntry>,
}

fn lossy(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: permission denied. Run structr-backup as root, or give it read access to the whole installation")]
    Unreadable { path: PathBuf },
    #[error("the disk holding {path} is full. Free space there (e.g. `structr-backup prune`) or use another repository")]
    DiskFull { path: PathBuf },
    #[error("the archive {archive} is damaged: {detail}")]
    Corrupt { archive: PathBuf, detail: String },
    #[error("refusing the archive entry {}: {reason}; nothing was written outside the staging folder", lossy(.entry))]
    Unsafe { entry: Vec<u8>, reason: String },
    #[error("{} does not match the file index: sha256 {actual}, expected {expected} (the archive or its index is damaged)", lossy(.entry))]
    HashMismatch {
        entry: Vec<u8>,
        expected: String,
        actual: String,
    },
    #[error("{} is larger in the archive ({seen} bytes or more) than in the file index ({indexed} bytes): the archive is damaged or crafted (a decompression bomb?); extraction stopped before writing more than the indexed size", lossy(.entry))]
    TooLarge {
        entry: Vec<u8>,
        indexed: u64,
        seen: u64,
    },
    #[error("{} is in the file index but not in the archive (the archive is incomplete)", lossy(.entry))]
    Missing { entry: Vec<u8> },
    #[error("{path} changed while it was read (the services should be stopped; is another process writing there?)")]
    SourceChanged { path: PathBuf },
    #[error("cancelled")]
    Cancelled,
}

impl ArchiveError {
    /// Classifies an I/O error on `path`: full disk and missing permissions get
    /// their own messages because the user's next step differs.
    pub(crate) fn io(action: &'static str, path: &Path, e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => ArchiveError::DiskFull {
                path: path.to_path_buf(),
            },
            Some(libc::EACCES) | Some(libc::EPERM) if action.starts_with("cannot read") => {
                ArchiveError::Unreadable {
                    path: path.to_path_buf(),
                }
            }
            _ => ArchiveError::Io {
                action,
                path: path.to_path_buf(),
                source: e,
            },
        }
    }
}

/// The sha256 of a file, read in big chunks, with progress and cancellation.
pub fn sha256_file(
    path: &Path,
    cancel: &Cancel,
    on: &mut dyn FnMut(ArchiveEvent),
) -> Result<String, ArchiveError> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| ArchiveError::io("cannot read", path, e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        if cancel.is_cancelled() {
            return Err(ArchiveError::Cancelled);
        }
        let n = f
            .read(&mut buf)
            .map_err(|e| ArchiveError::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        on(ArchiveEvent::Bytes(n as u64));
    }
    Ok(super::hashing::hex(&hasher.finalize()))
}
