//! Writing a generation's files so they survive a power cut: atomically,
//! fsynced with their folder; `SHA256SUMS` in the format `sha256sum -c` reads.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::text::printable;

use super::error::{io, RepoError};
use super::manifest::{is_plain_name, Manifest, MANIFEST};

pub const SUMS: &str = "SHA256SUMS";

/// Writes the manifest via a temporary file and rename, so a crash leaves the old or the new one.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), RepoError> {
    let text = toml::to_string(m).map_err(|e| RepoError::BadManifest {
        path: dir.join(MANIFEST),
        detail: e.to_string(),
    })?;
    write_file_atomic(&dir.join(MANIFEST), text.as_bytes())
}

/// `SHA256SUMS` in the format of `sha256sum` (two spaces, text mode).
pub fn write_sums(dir: &Path, sums: &[(String, String)]) -> Result<(), RepoError> {
    let text: String = sums
        .iter()
        .map(|(hash, name)| format!("{hash}  {name}\n"))
        .collect();
    write_file_atomic(&dir.join(SUMS), text.as_bytes())
}

/// Reads `SHA256SUMS` as (hash, file name) pairs; names are plain (we write no escapes).
pub fn read_sums(dir: &Path) -> Result<Vec<(String, String)>, RepoError> {
    let path = dir.join(SUMS);
    let text = fs::read_to_string(&path).map_err(io("cannot read", &path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (hash, name) = l.split_once("  ").ok_or_else(|| RepoError::BadManifest {
                path: path.clone(),
                detail: format!("line {l:?} is not `<sha256>  <file>`"),
            })?;
            let name = name.trim_start_matches('*');
            // Every file hashed is opened from this folder: a path out of it (or a
            // device, a fifo) would make verification read what is not ours.
            if !is_plain_name(name) {
                return Err(RepoError::BadManifest {
                    path: path.clone(),
                    detail: format!("{:?} is not a plain file name", printable(name, 40)),
                });
            }
            Ok((hash.to_string(), name.to_string()))
        })
        .collect()
}

/// Writes `path` through a temporary file beside it, fsynced and renamed into place,
/// then fsyncs the folder: a crash leaves the old or the new file, never half of one.
/// The temporary file is created new and never through a symlink (the folder may be
/// writable by others).
pub fn write_file_atomic(path: &Path, data: &[u8]) -> Result<(), RepoError> {
    let tmp = path.with_extension("tmp");
    // A leftover (or planted) temporary file: unlinking never follows a symlink.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("cannot remove", &tmp)(e))
        }
        _ => {}
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(io("cannot write", &tmp))?;
    f.write_all(data).map_err(io("cannot write", &tmp))?;
    f.sync_all().map_err(io("cannot sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io("cannot replace", path))?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => Ok(()),
    }
}

pub fn sync_dir(dir: &Path) -> Result<(), RepoError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot sync the folder", dir))
}
