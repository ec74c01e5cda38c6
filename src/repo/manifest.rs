//! The manifest model: what a generation records about itself (format version,
//! time, host, installation, components, timings, versions, owners, pins and
//! checks), and how an id a user typed is checked and resolved.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::text::{printable, printable_lines};

use super::error::RepoError;

pub const FORMAT_VERSION: u32 = 1;

pub const MANIFEST: &str = "manifest.toml";

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
    /// The Neo4j kernel version each database's store needs (`neo4j` → `5.25`),
    /// read from its transaction logs while Neo4j was stopped
    /// (`install::neo4j_store`): a Neo4j older than it cannot open the store.
    /// Empty when it could not be read, and in generations made before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub neo4j_kernel: std::collections::BTreeMap<String, String>,
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
    /// A restore's safety backup: the generation that restore put in place (the
    /// state before it is what this generation holds). None in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoring: Option<String>,
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
            neo4j_kernel: Default::default(),
            services_already_stopped: vec![],
            components: vec![],
            snapshot: None,
            added_bytes: None,
            snapshot_backup: None,
            restoring: None,
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
    /// Its label as shown: a restore's safety backup says which restore it
    /// protected ("pre-restore, before restoring 20261124T031500Z").
    pub fn label_words(&self) -> String {
        match (&self.restoring, self.label.is_empty()) {
            (Some(id), true) => format!("before restoring {id}"),
            (Some(id), false) => format!("{}, before restoring {id}", self.label),
            (None, _) => self.label.clone(),
        }
    }
}

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
        // Shown beside the label: an id or nothing.
        if !self
            .restoring
            .as_deref()
            .is_none_or(crate::ids::is_generation_id)
        {
            self.restoring = None;
        }
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
        self.neo4j_kernel = std::mem::take(&mut self.neo4j_kernel)
            .into_iter()
            .map(|(k, v)| (printable(&k, 60), printable(&v, 60)))
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

/// A file name of ours inside a generation folder: letters, digits, `.`, `_`, `-`.
pub fn is_plain_name(n: &str) -> bool {
    !n.is_empty()
        && n != "."
        && n != ".."
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
