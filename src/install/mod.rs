//! What is installed and how to control it: the components to copy and the services
//! to stop, found from the config (and, in `detect`, from the machine).

pub mod compose;
pub mod conf;
pub mod deploy;
pub mod detect;
pub mod health;
pub mod lvm;
pub mod maintenance;
pub mod neo4j_bin;
pub mod neo4j_store;
pub mod schedule;
pub mod service;
pub mod store_lock;
pub mod systemd;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Kind;
use service::ServiceControl;

/// Component roles. A generation's components are restored by role, so a backup
/// from one machine restores onto another whose paths differ.
pub const ROLE_NEO4J_DATA: &str = "neo4j-data";
pub const ROLE_STRUCTR: &str = "structr";
/// Structr's application export (deployment export): kept in a generation, never
/// put into the installation by a restore (it is imported through Structr).
pub const ROLE_APP: &str = "app";

/// One directory tree that goes into one archive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComponentSpec {
    pub name: String,
    pub role: String,
    pub path: PathBuf,
    /// Neo4j's data directory: checked for released store locks before copying.
    pub neo4j_store: bool,
}

impl ComponentSpec {
    pub fn new(role: &str, path: PathBuf) -> Self {
        Self {
            name: role.to_string(),
            role: role.to_string(),
            path,
            neo4j_store: role == ROLE_NEO4J_DATA,
        }
    }

    pub fn is_neo4j_store(&self) -> bool {
        self.neo4j_store
    }
}

pub struct Installation {
    pub kind: Kind,
    pub host: String,
    pub components: Vec<ComponentSpec>,
    /// In stop order: Structr first, then Neo4j. Started in reverse.
    pub services: Vec<Box<dyn ServiceControl>>,
    /// Things the user should know (e.g. a VM snapshot is an alternative).
    pub notes: Vec<String>,
    /// Versions that could be read (dpkg, jar names, images), stored in manifests.
    pub versions: std::collections::BTreeMap<String, String>,
    pub stop_timeout: Duration,
    pub start_timeout: Duration,
    /// The page served on Structr's HTTP port while we have Structr stopped
    /// (None: off).
    pub maintenance: Option<maintenance::Spec>,
}

impl Installation {
    pub fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    /// A short stable name for this installation, from its resolved component
    /// paths: the installation lock and the journal are keyed by it, so two runs
    /// on the same folders meet whatever config or repository each was given.
    pub fn key(&self) -> String {
        use sha2::Digest;
        let mut paths: Vec<PathBuf> = self.components.iter().map(|c| resolved(&c.path)).collect();
        paths.sort();
        let mut h = sha2::Sha256::new();
        for p in &paths {
            h.update(p.as_os_str().as_encoded_bytes());
            h.update([0u8]);
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The same installation with only the components `keep` accepts and no
    /// services: what a restore's safety backup reads (nothing to save in a
    /// target that does not exist or is empty).
    pub fn only(&self, keep: impl Fn(&ComponentSpec) -> bool) -> Installation {
        Installation {
            kind: self.kind,
            host: self.host.clone(),
            components: self
                .components
                .iter()
                .filter(|c| keep(c))
                .cloned()
                .collect(),
            services: Vec::new(),
            notes: self.notes.clone(),
            versions: self.versions.clone(),
            stop_timeout: self.stop_timeout,
            start_timeout: self.start_timeout,
            maintenance: None,
        }
    }

    pub fn service(&self, name: &str) -> Option<&dyn ServiceControl> {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.as_ref())
    }
}

/// The path with symlinks resolved as far as it exists (a restore target may not
/// exist yet; its parent usually does).
fn resolved(p: &std::path::Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (
        p.parent().and_then(|d| d.canonicalize().ok()),
        p.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    }
}
