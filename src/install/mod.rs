//! What is installed and how to control it: the components to copy and the services
//! to stop, found from the config (and, in `detect`, from the machine).

pub mod command;
pub mod detect;
pub mod service;
pub mod store_lock;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Kind;
use service::ServiceControl;

/// Component roles. A generation's components are restored by role, so a backup
/// from one machine restores onto another whose paths differ.
pub const ROLE_NEO4J_DATA: &str = "neo4j-data";
pub const ROLE_STRUCTR: &str = "structr";

/// One directory tree that goes into one archive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComponentSpec {
    pub name: String,
    pub role: String,
    pub path: PathBuf,
}

impl ComponentSpec {
    pub fn new(role: &str, path: PathBuf) -> Self {
        Self {
            name: role.to_string(),
            role: role.to_string(),
            path,
        }
    }

    /// Neo4j's store: checked for released locks before it is copied.
    pub fn is_neo4j_store(&self) -> bool {
        self.role == ROLE_NEO4J_DATA
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
    pub stop_timeout: Duration,
    pub start_timeout: Duration,
}

impl Installation {
    pub fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn service(&self, name: &str) -> Option<&dyn ServiceControl> {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.as_ref())
    }
}
