//! `[staging]`: how the point-in-time copy is taken while the services are
//! stopped, so that compression, hashing and restic work after they run again.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StagingMode {
    /// Reflink clones where the file systems allow, else a mirror (with rsync),
    /// else the archives are written while the services are stopped.
    #[default]
    Auto,
    /// A persistent mirror updated with the changed files (needs rsync).
    Mirror,
    /// Reflink clones (XFS, btrfs); refused where the file systems cannot.
    Reflink,
    /// No staging: the archives (or restic) read the live folders while stopped.
    Off,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StagingConfig {
    pub mode: StagingMode,
    /// Where the mirror and the clones live (root-only); unset, `staging/` in the
    /// state folder.
    pub folder: Option<PathBuf>,
}

impl std::fmt::Display for StagingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StagingMode::Auto => "auto",
            StagingMode::Mirror => "mirror",
            StagingMode::Reflink => "reflink",
            StagingMode::Off => "off",
        })
    }
}
