//! A generation: one folder in the repository holding a manifest, one archive and one
//! file index per component, and `SHA256SUMS`. See DESIGN.md for the layout contract.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::ids::{id_for, is_generation_id};
use crate::text::{printable, printable_lines};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.toml";
pub const SUMS: &str = "SHA256SUMS";
const PARTIAL: &str = ".partial";
const DELETING: &str = ".deleting";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub host: String,
    pub installation: String,
    pub tool_version: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified: Option<VerifyRecord>,
    /// The last restore drill (`drill`): restored into a scratch folder and started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<DrillRecord>,
    #[serde(default)]
    pub timings: Timings,
    #[serde(default)]
    pub versions: std::collections::BTreeMap<String, String>,
    /// Services that were already stopped when the backup began: the copy was taken
    /// with them stopped, and they were left stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services_already_stopped: Vec<String>,
    pub components: Vec<Component>,
    /// restic kind: the snapshot that holds this generation (read from restic, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// restic kind: the bytes this generation added to the repository (after
    /// deduplication and compression), in place of archive sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_bytes: Option<u64>,
    /// The names of the uids and gids the files had, so a restore on another
    /// machine maps owners by name. Empty in generations made before 0.2.
    #[serde(default, skip_serializing_if = "crate::repo::owners::Owners::is_empty")]
    pub owners: crate::repo::owners::Owners,
    /// A snapshot backup: the snapshot command that was run while the services were
    /// stopped (then the generation holds no archives), or the LVM snapshots the
    /// archives were read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_backup: Option<SnapshotRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// `command` (`[snapshot] command`) or `lvm` (built-in LVM snapshots).
    pub method: String,
    /// The command line run (`{name}` substituted), or the LVM snapshots taken.
    pub command: String,
    /// The last lines of its output (printable).
    #[serde(default)]
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// How long the snapshot took (while the services were stopped).
    #[serde(default)]
    pub secs: f64,
}

impl SnapshotRecord {
    /// Whether the generation is only a record of a snapshot kept elsewhere
    /// (a hypervisor's, a cloud's): no archives to verify or restore here.
    pub fn is_external(&self) -> bool {
        self.method != "lvm"
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Component {
    /// Stable name, also the archive's base name (`neo4j-data`, `structr`, ...).
    pub name: String,
    /// What it is, used to map it onto an installation at restore time.
    pub role: String,
    /// Where it was read from on the machine that made the backup.
    pub source: PathBuf,
    pub archive: String,
    pub index: String,
    pub files: u64,
    pub entries: u64,
    pub bytes: u64,
    pub archive_size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// From the first stop until the last started service answered its health check.
    pub downtime_secs: f64,
    pub total_secs: f64,
    /// Time in the stop commands.
    pub stop_secs: f64,
    pub copy_secs: f64,
    /// Time in the start commands and health waits.
    pub start_secs: f64,
}

/// The longest duration a manifest may state (about 31 years): anything beyond is damage.
const MAX_SECS: f64 = 1e9;

impl Timings {
    /// Checks what serde cannot: a manifest is untrusted input, and NaN, infinite or
    /// negative durations would panic where they are turned into a `Duration`.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("downtime_secs", self.downtime_secs),
            ("total_secs", self.total_secs),
            ("stop_secs", self.stop_secs),
            ("copy_secs", self.copy_secs),
            ("start_secs", self.start_secs),
        ] {
            if !(0.0..=MAX_SECS).contains(&v) {
                return Err(format!("timings.{name} = {v} is not a duration in seconds"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VerifyRecord {
    pub at: DateTime<Utc>,
    pub deep: bool,
    pub ok: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DrillRecord {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub secs: f64,
    /// What proved it, or why it failed.
    pub detail: String,
}

impl Manifest {
    /// A manifest with nothing in it but an id and a time, for unit tests.
    #[cfg(test)]
    pub fn bare(id: &str, created_at: DateTime<Utc>) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            id: id.into(),
            created_at,
            host: "h".into(),
            installation: "custom".into(),
            tool_version: "0".into(),
            label: String::new(),
            pinned: false,
            last_verified: None,
            last_drill: None,
            timings: Timings::default(),
            versions: Default::default(),
            services_already_stopped: vec![],
            components: vec![],
            snapshot: None,
            added_bytes: None,
            snapshot_backup: None,
            owners: Default::default(),
        }
    }

    /// What the generation takes in the repository: its archives, or what its
    /// restic snapshot added.
    pub fn total_archive_size(&self) -> u64 {
        if let Some(added) = self.added_bytes {
            return added;
        }
        self.components.iter().map(|c| c.archive_size).sum()
    }

    /// A generation that only records a snapshot kept elsewhere.
    pub fn is_external_snapshot(&self) -> bool {
        self.snapshot_backup
            .as_ref()
            .is_some_and(SnapshotRecord::is_external)
    }

    pub fn total_bytes(&self) -> u64 {
        self.components.iter().map(|c| c.bytes).sum()
    }
}

/// The repository folder and the generations in it.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("no generation {id} in {root} (run `structr-backup list` to see the ids)")]
    NotFound { id: String, root: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the manifest {path} is damaged: {detail}")]
    BadManifest { path: PathBuf, detail: String },
    #[error("{given:?} is not a generation id (ids look like 20261124T031500Z; a unique prefix or `latest` works too)")]
    BadId { given: String },
    #[error("{given} matches {} generations: {}; type more of the id", .candidates.len(), .candidates.join(", "))]
    Ambiguous {
        given: String,
        candidates: Vec<String>,
    },
    /// What restic or rclone said went wrong (already in words for the user).
    #[error("{0}")]
    Backend(String),
    /// Someone else can write into the repository: whatever we read there could be
    /// planted, so nothing is done in it.
    /// `fix` is a sentence saying what to do (see `repo::trust`).
    #[error("refusing the repository {repo}: {reason}. {fix}, then run the command again")]
    Untrusted {
        repo: PathBuf,
        reason: String,
        fix: String,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RepoError {
    let path = path.to_path_buf();
    move |source| RepoError::Io {
        action,
        path,
        source,
    }
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

/// A manifest from its text (`path` names it in errors), checked like one read
/// from a folder: format version, durations, plain names, printable text.
pub fn parse_manifest(text: &str, path: PathBuf) -> Result<Manifest, RepoError> {
    let m: Manifest = toml::from_str(text).map_err(|e| RepoError::BadManifest {
        path: path.clone(),
        detail: e.message().to_string(),
    })?;
    if m.format_version > FORMAT_VERSION {
        return Err(RepoError::BadManifest {
            path,
            detail: format!(
                "format version {} is newer than this program understands ({FORMAT_VERSION}); update structr-backup",
                m.format_version
            ),
        });
    }
    let mut m = m;
    m.timings
        .check()
        .and_then(|()| m.check_names())
        .map_err(|detail| RepoError::BadManifest { path, detail })?;
    m.sanitize();
    Ok(m)
}

/// Refuses what cannot be an id, a prefix of one or `latest`, echoing little of it.
pub fn check_given_id(given: &str) -> Result<(), RepoError> {
    let well_formed = !given.is_empty()
        && given.len() <= 24
        && given
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'T' | b'Z' | b'-'));
    if given != "latest" && !well_formed {
        // Echo at most a short piece: the input may be anything.
        let mut shown: String = given.chars().take(24).collect();
        if shown.len() < given.len() {
            shown.push('…');
        }
        return Err(RepoError::BadId { given: shown });
    }
    Ok(())
}

/// The id `given` means among `ids` (oldest first): exact, `latest`, or a unique prefix.
pub fn resolve_among(ids: &[String], given: &str, location: &str) -> Result<String, RepoError> {
    let not_found = || RepoError::NotFound {
        id: given.to_string(),
        root: PathBuf::from(location),
    };
    if given == "latest" {
        return ids.last().cloned().ok_or_else(not_found);
    }
    if ids.iter().any(|i| i == given) {
        return Ok(given.to_string());
    }
    let matches: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with(given))
        .cloned()
        .collect();
    match matches.len() {
        0 => Err(not_found()),
        1 => Ok(matches[0].clone()),
        _ => Err(RepoError::Ambiguous {
            given: given.to_string(),
            candidates: matches,
        }),
    }
}

/// The longest label kept; longer ones are cut (they are for people, not storage).
pub const MAX_LABEL: usize = 200;

impl Manifest {
    /// Component names, archives and indexes name files in the generation folder:
    /// plain names only, never a path (the manifest is untrusted input).
    fn check_names(&self) -> Result<(), String> {
        let plain = is_plain_name;
        for c in &self.components {
            for (what, n) in [
                ("name", &c.name),
                ("archive", &c.archive),
                ("index", &c.index),
            ] {
                if !plain(n) {
                    return Err(format!(
                        "component {what} {:?} is not a plain file name",
                        printable(n, 40)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Text that faces print, made safe for a terminal.
    pub fn sanitize(&mut self) {
        self.label = printable(&self.label, MAX_LABEL);
        self.host = printable(&self.host, 255);
        self.installation = printable(&self.installation, 40);
        self.tool_version = printable(&self.tool_version, 40);
        if let Some(d) = &mut self.last_drill {
            d.detail = printable(&d.detail, 500);
        }
        if let Some(s) = &mut self.snapshot_backup {
            s.method = printable(&s.method, 20);
            s.command = printable(&s.command, 2000);
            s.output = printable_lines(&s.output, 4000);
            if !(0.0..=MAX_SECS).contains(&s.secs) {
                s.secs = 0.0;
            }
        }
        self.versions = std::mem::take(&mut self.versions)
            .into_iter()
            .map(|(k, v)| (printable(&k, 60), printable(&v, 200)))
            .collect();
        // Owner names reach getpwnam and the plan's useradd hints: keep only names
        // a system could have.
        self.owners
            .users
            .retain(|_, n| crate::repo::owners::is_plain_name(n));
        self.owners
            .groups
            .retain(|_, n| crate::repo::owners::is_plain_name(n));
        for c in &mut self.components {
            c.role = printable(&c.role, 60);
            c.source = PathBuf::from(printable(&c.source.to_string_lossy(), 4096));
        }
    }
}

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

/// A file name of ours inside a generation folder: letters, digits, `.`, `_`, `-`.
pub fn is_plain_name(n: &str) -> bool {
    !n.is_empty()
        && n != "."
        && n != ".."
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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
