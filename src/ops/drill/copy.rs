//! What a drill starts the installation's Neo4j on, and the bounds of what it
//! reads there (shared by the start and the counts).

use std::path::Path;
use std::time::Duration;

use crate::install::neo4j_bin::Neo4jBin;
use crate::ops::OpError;

/// A JVM that prints its version.
pub(super) const QUICK: Duration = Duration::from_secs(120);
/// The most of a configuration file we read.
pub(super) const MAX_CONF: u64 = 1 << 20;

/// What the drill found out with the installation's Neo4j.
pub struct Copy<'a> {
    pub bin: &'a Neo4jBin,
    /// The copy of the data folder.
    pub data: &'a Path,
    /// The copy of Structr's folder, for the credentials Structr connects with.
    pub structr: Option<&'a Path>,
    /// The drill's scratch folder (the copies are in it).
    pub scratch: &'a Path,
    /// The user and group production's Neo4j runs as (the owner of its data
    /// folder), which the drill's Neo4j runs as too; None: as we run.
    pub user: Option<(u32, u32)>,
}

pub(super) fn read_bounded(path: &Path) -> Result<String, OpError> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONF).read_to_string(&mut text))
        .map_err(|e| OpError::failed(format!("cannot read {}: {e}", path.display())))?;
    Ok(text)
}
