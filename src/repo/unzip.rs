//! Unpacking Structr's deployment export (a zip) into a folder. The zip comes from
//! a server, so it is untrusted input: an entry with an absolute name, a `..`
//! part or a symbolic link is refused, nothing is written outside the folder, and
//! the unpacked total is bounded (a small zip may unpack to gigabytes).
//!
//! Everything is created relative to the already-open folder, one part at a time
//! (`mkdirat`, `openat` with `O_NOFOLLOW`, files with `O_EXCL`): a folder or link
//! someone else puts into the tree meanwhile is never written through.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{mkdirat, Mode};

use crate::cancel::Cancel;

/// What went into the folder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
}

/// The most entries an export may have: each costs an inode however small.
pub const MAX_ENTRIES: usize = 500_000;

/// Top-level names a deployment export has; a zip holding one folder that is
/// none of these has the export inside that folder (stripped on unpacking).
const EXPORT_NAMES: &[&str] = &[
    "schema",
    "pages",
    "components",
    "templates",
    "files",
    "mail-templates",
    "security",
    "modules",
    "events",
];

/// Unpacks `zip` into `dest`, a folder this call creates (it must not exist),
/// at most `limit` bytes in all.
pub fn unzip(zip: &Path, dest: &Path, limit: u64, cancel: &Cancel) -> Result<Unpacked, String> {
    let mut file =
        fs::File::open(zip).map_err(|e| format!("cannot open {}: {e}", zip.display()))?;
    let mut archive = open_archive(&mut file, &zip.display().to_string())?;
    let names = checked_names(&mut archive, &zip.display().to_string())?;
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dest)
        .map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let dir = open_dir(None, dest).map_err(|e| format!("cannot open {}: {e}", dest.display()))?;
    write_entries(&mut archive, &names, &dir, limit, cancel)
}

/// Unpacks the zip `file` (named `what` in messages) into the open folder `dir`,
/// at most `limit` bytes in all. Every name is checked before anything is written.
pub fn unzip_into<R: Read + Seek>(
    file: R,
    what: &str,
    dir: &OwnedFd,
    limit: u64,
    cancel: &Cancel,
) -> Result<Unpacked, String> {
    let mut archive = open_archive(file, what)?;
    let names = checked_names(&mut archive, what)?;
    write_entries(&mut archive, &names, dir, limit, cancel)
}

fn open_archive<R: Read + Seek>(file: R, what: &str) -> Result<zip::ZipArchive<R>, String> {
    zip::ZipArchive::new(file).map_err(|e| format!("{what} is not a readable zip: {e}"))
}

/// Every entry's name as safe parts, the wrapper folder stripped; `Err` for a
/// name that could leave the folder, a link, or too many entries.
fn checked_names<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    what: &str,
) -> Result<Vec<Vec<String>>, String> {
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "the export holds {} entries, more than {MAX_ENTRIES}; refused",
            archive.len()
        ));
    }
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("{what}: entry {i}: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| format!("{what}: entry {i}: {e}"))?
            .into_owned();
        let parts = safe_parts(&name)?;
        if entry.is_symlink() {
            return Err(format!(
                "the export holds a symbolic link {name:?}; refused (an export has none)"
            ));
        }
        names.push(parts);
    }
    let strip = usize::from(single_wrapper(&names));
    Ok(names
        .into_iter()
        .map(|p| p.into_iter().skip(strip).collect())
        .collect())
}

fn write_entries<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    names: &[Vec<String>],
    root: &OwnedFd,
    limit: u64,
    cancel: &Cancel,
) -> Result<Unpacked, String> {
    let mut out = Unpacked::default();
    let mut buf = vec![0u8; 256 * 1024];
    for (i, parts) in names.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let Some((last, dirs)) = parts.split_last() else {
            continue;
        };
        let rel = parts.join("/");
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("the export's {rel}: {e}"))?;
        if entry.is_dir() {
            mkdirs(root, parts).map_err(|e| format!("cannot create {rel}: {e}"))?;
            continue;
        }
        let parent = mkdirs(root, dirs).map_err(|e| format!("cannot create {rel}: {e}"))?;
        // The export's files are plain data: executable bits survive, nothing else.
        let mode = match entry.unix_mode() {
            Some(m) if m & 0o111 != 0 => 0o755,
            _ => 0o644,
        };
        let fd = openat(
            parent.as_ref().unwrap_or(root),
            last.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(|e| format!("cannot create {rel}: {e}"))?;
        let mut f = fs::File::from(fd);
        loop {
            let n = match entry.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot unpack {rel}: {e}")),
            };
            if n == 0 {
                break;
            }
            if out.bytes + n as u64 > limit {
                return Err(format!(
                    "the export unpacks to more than the limit of {} ([application] max_size_mb)",
                    crate::units::bytes(limit)
                ));
            }
            f.write_all(&buf[..n])
                .map_err(|e| format!("cannot write {rel}: {e}"))?;
            out.bytes += n as u64;
            if cancel.is_cancelled() {
                return Err("cancelled".into());
            }
        }
        out.files += 1;
    }
    Ok(out)
}

/// Opens the folder `name` (relative to `at`, or a path when `at` is None)
/// without following a link.
pub fn open_dir(at: Option<&OwnedFd>, name: &Path) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match at {
        Some(fd) => openat(fd, name, flags, Mode::empty()),
        None => nix::fcntl::open(name, flags, Mode::empty()),
    }
}

/// Makes (or enters) each folder of `parts` below `root`, one part at a time,
/// never through a link; the innermost one open, None for `root` itself.
fn mkdirs(root: &OwnedFd, parts: &[String]) -> Result<Option<OwnedFd>, Errno> {
    let mut cur: Option<OwnedFd> = None;
    for part in parts {
        let at = cur.as_ref().unwrap_or(root);
        match mkdirat(at.as_fd(), part.as_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        let next = open_dir(Some(at), Path::new(part))?;
        cur = Some(next);
    }
    Ok(cur)
}

/// The entry's name as plain parts; `Err` for a name that could leave the folder.
fn safe_parts(name: &str) -> Result<Vec<String>, String> {
    let refuse = || {
        Err(format!(
            "the export holds an entry named {name:?}, which points outside its folder; refused"
        ))
    };
    if name.starts_with('/') || name.contains('\0') {
        return refuse();
    }
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return refuse(),
        }
    }
    Ok(parts)
}

/// Whether every entry sits in one folder that is not itself part of an export.
fn single_wrapper(names: &[Vec<String>]) -> bool {
    let Some(first) = names.iter().find_map(|p| p.first()) else {
        return false;
    };
    !EXPORT_NAMES.contains(&first.as_str())
        && names.iter().any(|p| p.len() > 1)
        && names.iter().all(|p| p.first() == Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn make_zip(path: &Path, entries: &[(&str, &str)]) {
        let mut w = zip::ZipWriter::new(fs::File::create(path).unwrap());
        for (name, body) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, SimpleFileOptions::default())
                    .unwrap();
            } else {
                w.start_file(*name, SimpleFileOptions::default()).unwrap();
                w.write_all(body.as_bytes()).unwrap();
            }
        }
        w.finish().unwrap();
    }

    #[test]
    fn unpacks_and_strips_a_wrapper_folder() {
        let t = tempfile::tempdir().unwrap();
        let z = t.path().join("a.zip");
        make_zip(
            &z,
            &[
                ("myapp/", ""),
                ("myapp/schema/schema.json", "{}"),
                ("myapp/deploy.conf", "x"),
            ],
        );
        let out = unzip(&z, &t.path().join("out"), 1 << 20, &Cancel::new()).unwrap();
        assert_eq!(out, Unpacked { files: 2, bytes: 3 });
        assert_eq!(
            fs::read_to_string(t.path().join("out/schema/schema.json")).unwrap(),
            "{}"
        );
        // An export at the top level is kept as it is.
        make_zip(&t.path().join("b.zip"), &[("schema/schema.json", "{}")]);
        unzip(
            &t.path().join("b.zip"),
            &t.path().join("b"),
            1 << 20,
            &Cancel::new(),
        )
        .unwrap();
        assert!(t.path().join("b/schema/schema.json").is_file());
    }

    #[test]
    fn refuses_names_that_leave_the_folder() {
        let t = tempfile::tempdir().unwrap();
        for bad in ["../evil", "pages/../../evil", "/etc/evil"] {
            let z = t.path().join("bad.zip");
            make_zip(&z, &[("schema/ok.json", "{}"), (bad, "x")]);
            let err = unzip(&z, &t.path().join("out"), 1 << 20, &Cancel::new()).unwrap_err();
            assert!(err.contains("points outside"), "{bad}: {err}");
            assert!(!t.path().join("evil").exists());
            assert!(
                !t.path().join("out").exists(),
                "nothing written before the check"
            );
        }
    }

    #[test]
    fn stops_at_the_limit_of_the_unpacked_total() {
        let t = tempfile::tempdir().unwrap();
        let z = t.path().join("bomb.zip");
        let mut w = zip::ZipWriter::new(fs::File::create(&z).unwrap());
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("files/zeros", opts).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..8 {
            w.write_all(&zeros).unwrap();
        }
        w.finish().unwrap();
        assert!(fs::metadata(&z).unwrap().len() < 64 * 1024, "a small zip");
        let err = unzip(&z, &t.path().join("out"), 1 << 20, &Cancel::new()).unwrap_err();
        assert!(err.contains("more than the limit of 1.0 MiB"), "{err}");
        let written = fs::metadata(t.path().join("out/files/zeros"))
            .unwrap()
            .len();
        assert!(written <= 1 << 20, "{written}");
    }

    #[test]
    fn never_writes_through_a_link_inside_the_folder() {
        let t = tempfile::tempdir().unwrap();
        let z = t.path().join("a.zip");
        make_zip(&z, &[("schema/schema.json", "{}"), ("pages/x.html", "x")]);
        let dest = t.path().join("dest");
        let elsewhere = t.path().join("elsewhere");
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dest.join("schema")).unwrap();
        let dir = open_dir(None, &dest).unwrap();
        let err = unzip_into(
            fs::File::open(&z).unwrap(),
            "a.zip",
            &dir,
            1 << 20,
            &Cancel::new(),
        )
        .unwrap_err();
        assert!(err.contains("cannot create schema/schema.json"), "{err}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        // A link as the folder itself is refused too.
        assert!(matches!(
            open_dir(None, &dest.join("schema")),
            Err(Errno::ELOOP | Errno::ENOTDIR)
        ));
    }
}
