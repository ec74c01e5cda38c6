//! Unpacking Structr's deployment export (a zip) into a folder. The zip comes from
//! a server, so it is untrusted input: an entry with an absolute name, a `..`
//! part or a symbolic link is refused, and nothing is written outside the folder.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::cancel::Cancel;

/// What went into the folder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
}

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

/// Unpacks `zip` into `dest` (created, or an empty folder).
pub fn unzip(zip: &Path, dest: &Path, cancel: &Cancel) -> Result<Unpacked, String> {
    let file = fs::File::open(zip).map_err(|e| format!("cannot open {}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| format!("{} is not a readable zip: {e}", zip.display()))?;
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("{}: entry {i}: {e}", zip.display()))?;
        let name = entry
            .name()
            .map_err(|e| format!("{}: entry {i}: {e}", zip.display()))?
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
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dest)
        .map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let mut out = Unpacked::default();
    for (i, parts) in names.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let rel: PathBuf = parts.iter().skip(strip).collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let path = dest.join(&rel);
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("{}: {}: {e}", zip.display(), rel.display()))?;
        if entry.is_dir() {
            mkdirs(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            mkdirs(parent)?;
        }
        // The export's files are plain data: executable bits survive, nothing else.
        let mode = match entry.unix_mode() {
            Some(m) if m & 0o111 != 0 => 0o755,
            _ => 0o644,
        };
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let n = io::copy(&mut entry, &mut f)
            .map_err(|e| format!("cannot unpack {}: {e}", rel.display()))?;
        out.files += 1;
        out.bytes += n;
    }
    Ok(out)
}

fn mkdirs(dir: &Path) -> Result<(), String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
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
        let out = unzip(&z, &t.path().join("out"), &Cancel::new()).unwrap();
        assert_eq!(out, Unpacked { files: 2, bytes: 3 });
        assert_eq!(
            fs::read_to_string(t.path().join("out/schema/schema.json")).unwrap(),
            "{}"
        );
        // An export at the top level is kept as it is.
        make_zip(&t.path().join("b.zip"), &[("schema/schema.json", "{}")]);
        unzip(&t.path().join("b.zip"), &t.path().join("b"), &Cancel::new()).unwrap();
        assert!(t.path().join("b/schema/schema.json").is_file());
    }

    #[test]
    fn refuses_names_that_leave_the_folder() {
        let t = tempfile::tempdir().unwrap();
        for bad in ["../evil", "pages/../../evil", "/etc/evil"] {
            let z = t.path().join("bad.zip");
            make_zip(&z, &[("schema/ok.json", "{}"), (bad, "x")]);
            let err = unzip(&z, &t.path().join("out"), &Cancel::new()).unwrap_err();
            assert!(err.contains("points outside"), "{bad}: {err}");
            assert!(!t.path().join("evil").exists());
            assert!(
                !t.path().join("out").exists(),
                "nothing written before the check"
            );
        }
    }
}
