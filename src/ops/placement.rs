//! Where a component of a generation goes on this machine: its target, the
//! staging folder it is extracted into, and the name the current folder is kept as.

use std::path::PathBuf;

/// One component of the generation and where it goes on this machine.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Placement {
    pub name: String,
    pub target: PathBuf,
    pub staging: PathBuf,
    pub kept: PathBuf,
    pub bytes: u64,
    pub files: u64,
}
