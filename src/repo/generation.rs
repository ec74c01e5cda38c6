//! The archive-kind repository: a folder of generations, each one folder holding a
//! manifest, one archive and one file index per component, and `SHA256SUMS`. See
//! DESIGN.md for the layout contract.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::error::{io, RepoError};
use super::files::*;
use super::manifest::*;
use crate::ids::{id_for, is_generation_id};
use chrono::{DateTime, Utc};

const PARTIAL: &str = ".partial";
const DELETING: &str = ".deleting";

/// The repository folder and the generations in it.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
}

impl Repo {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the repository folder (owner-only: it holds credentials).
    pub fn create(&self) -> Result<(), RepoError> {
        if !self.root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.root)
                .map_err(io("cannot create the repository folder", &self.root))?;
        }
        Ok(())
    }

    pub fn path_of(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// A fresh id for a generation created at `time`, unique in this repository.
    pub fn new_id(&self, time: DateTime<Utc>) -> String {
        let base = id_for(time);
        let taken = |id: &str| {
            self.path_of(id).exists() || self.root.join(format!("{id}{PARTIAL}")).exists()
        };
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|id| !taken(id))
            .unwrap_or(base)
    }

    /// Creates `<id>.partial/`, owner-only.
    pub fn create_partial(&self, id: &str) -> Result<PathBuf, RepoError> {
        let path = self.root.join(format!("{id}{PARTIAL}"));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(io("cannot create the generation folder", &path))?;
        Ok(path)
    }

    /// Makes a finished `.partial` folder visible as a generation: fsync, rename, fsync the repo.
    pub fn publish(&self, partial: &Path, id: &str) -> Result<PathBuf, RepoError> {
        let final_path = self.path_of(id);
        sync_dir(partial)?;
        fs::rename(partial, &final_path).map_err(io("cannot publish the generation", partial))?;
        sync_dir(&self.root)?;
        Ok(final_path)
    }

    /// Removes leftovers of interrupted runs: `<id>.partial` and `<id>.deleting`
    /// with a well-formed id, nothing else (a repository pointed at an existing folder
    /// must not lose someone's `notes.partial`). Returns what was removed.
    pub fn clean_leftovers(&self) -> Result<Vec<PathBuf>, RepoError> {
        let mut removed = Vec::new();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Ok(removed);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let ours = [PARTIAL, DELETING]
                .iter()
                .any(|suffix| name.strip_suffix(suffix).is_some_and(is_generation_id));
            if !ours {
                continue;
            }
            let path = entry.path();
            // A symlink is removed as a link: its target is not ours to delete.
            let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            let result = match is_dir {
                true => fs::remove_dir_all(&path),
                false => fs::remove_file(&path),
            };
            result.map_err(io("cannot remove the leftover", &path))?;
            removed.push(path);
        }
        Ok(removed)
    }

    /// All generations, newest first. Reads only the manifests. Folders whose
    /// manifest cannot be read are returned as errors beside the good ones.
    pub fn list(&self) -> Result<(Vec<Manifest>, Vec<RepoError>), RepoError> {
        let mut manifests = Vec::new();
        let mut broken = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((manifests, broken)),
            Err(e) => return Err(io("cannot read the repository", &self.root)(e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !is_generation_id(name) {
                continue;
            }
            match self.manifest(name) {
                Ok(m) => manifests.push(m),
                Err(e) => broken.push(e),
            }
        }
        manifests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok((manifests, broken))
    }

    /// The ids of the generation folders, oldest first (their names sort by time).
    fn ids(&self) -> Result<Vec<String>, RepoError> {
        let mut ids: Vec<String> = fs::read_dir(&self.root)
            .map_err(io("cannot read the repository", &self.root))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_generation_id(n) && self.path_of(n).is_dir())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The generation a user means: an exact id, `latest`, or a unique prefix.
    pub fn resolve(&self, given: &str) -> Result<String, RepoError> {
        check_given_id(given)?;
        resolve_among(&self.ids()?, given, &self.root.display().to_string())
    }

    /// The manifest of generation `id`. The id is the folder's name, checked against
    /// the id format; whatever `id` the file itself states is ignored.
    pub fn manifest(&self, id: &str) -> Result<Manifest, RepoError> {
        if !is_generation_id(id) || !self.path_of(id).is_dir() {
            return Err(RepoError::NotFound {
                id: id.to_string(),
                root: self.root.clone(),
            });
        }
        let mut m = read_manifest(&self.path_of(id))?;
        m.id = id.to_string();
        Ok(m)
    }

    /// Sets or clears the pin (rewrites the manifest atomically).
    pub fn set_pinned(&self, id: &str, pinned: bool) -> Result<Manifest, RepoError> {
        let mut m = self.manifest(id)?;
        m.pinned = pinned;
        write_manifest(&self.path_of(id), &m)?;
        Ok(m)
    }

    pub fn record_verify(&self, id: &str, record: VerifyRecord) -> Result<(), RepoError> {
        let mut m = self.manifest(id)?;
        m.last_verified = Some(record);
        write_manifest(&self.path_of(id), &m)
    }

    pub fn record_drill(&self, id: &str, record: &DrillRecord) -> Result<(), RepoError> {
        let mut m = self.manifest(id)?;
        m.last_drill = Some(record.clone());
        write_manifest(&self.path_of(id), &m)
    }

    /// Deletes a generation: renamed out of the listing first, so an interrupted
    /// delete never leaves a half generation that looks whole.
    pub fn delete(&self, id: &str) -> Result<(), RepoError> {
        self.manifest(id)?;
        let from = self.path_of(id);
        let doomed = self.root.join(format!("{id}{DELETING}"));
        fs::rename(&from, &doomed).map_err(io("cannot delete the generation", &from))?;
        fs::remove_dir_all(&doomed).map_err(io("cannot remove", &doomed))
    }
}

fn read_manifest(dir: &Path) -> Result<Manifest, RepoError> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(io("cannot read the manifest", &path))?;
    parse_manifest(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn manifest(id: &str, t: DateTime<Utc>) -> Manifest {
        Manifest::bare(id, t)
    }

    #[test]
    fn list_is_newest_first_and_skips_partial() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path());
        for (h, id) in [
            (1, "20260101T010000Z"),
            (3, "20260101T030000Z"),
            (2, "20260101T020000Z"),
        ] {
            let p = repo.create_partial(id).unwrap();
            let t = Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
            write_manifest(&p, &manifest(id, t)).unwrap();
            repo.publish(&p, id).unwrap();
        }
        repo.create_partial("20260101T040000Z").unwrap();
        let (list, broken) = repo.list().unwrap();
        let ids: Vec<_> = list.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            ["20260101T030000Z", "20260101T020000Z", "20260101T010000Z"]
        );
        assert!(broken.is_empty());
        assert_eq!(repo.clean_leftovers().unwrap().len(), 1);
    }

    #[test]
    fn ids_resolve_from_prefixes_and_latest() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path());
        for id in ["20261124T031500Z", "20261125T031500Z", "20261125T031500Z-2"] {
            let p = repo.create_partial(id).unwrap();
            write_manifest(&p, &manifest(id, Utc::now())).unwrap();
            repo.publish(&p, id).unwrap();
        }
        assert_eq!(repo.resolve("latest").unwrap(), "20261125T031500Z-2");
        assert_eq!(repo.resolve("20261124").unwrap(), "20261124T031500Z");
        assert_eq!(
            repo.resolve("20261125T031500Z").unwrap(),
            "20261125T031500Z"
        );
        let err = repo.resolve("20261125").unwrap_err();
        assert!(
            matches!(&err, RepoError::Ambiguous { candidates, .. } if candidates.len() == 2),
            "{err}"
        );
        assert!(matches!(
            repo.resolve("2027"),
            Err(RepoError::NotFound { .. })
        ));
        let long = "x".repeat(500);
        let err = repo.resolve(&long).unwrap_err().to_string();
        assert!(matches!(repo.resolve(&long), Err(RepoError::BadId { .. })));
        assert!(err.len() < 200, "not echoed at length: {err}");
        assert!(matches!(
            repo.resolve("../etc"),
            Err(RepoError::BadId { .. })
        ));
    }

    #[test]
    fn same_second_gets_a_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path());
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let a = repo.new_id(t);
        repo.create_partial(&a).unwrap();
        assert_eq!(repo.new_id(t), "20260101T010000Z-2");
    }

    #[test]
    fn pin_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path());
        let id = "20260101T010000Z";
        let p = repo.create_partial(id).unwrap();
        write_manifest(&p, &manifest(id, Utc::now())).unwrap();
        repo.publish(&p, id).unwrap();
        assert!(repo.set_pinned(id, true).unwrap().pinned);
        assert!(repo.manifest(id).unwrap().pinned);
        repo.delete(id).unwrap();
        assert!(matches!(repo.manifest(id), Err(RepoError::NotFound { .. })));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn sums_round_trip_in_sha256sum_format() {
        let dir = tempfile::tempdir().unwrap();
        let sums = vec![("ab".repeat(32), "structr.tar.zst".to_string())];
        write_sums(dir.path(), &sums).unwrap();
        let text = fs::read_to_string(dir.path().join(SUMS)).unwrap();
        assert_eq!(text, format!("{}  structr.tar.zst\n", "ab".repeat(32)));
        assert_eq!(read_sums(dir.path()).unwrap(), sums);
    }
}
