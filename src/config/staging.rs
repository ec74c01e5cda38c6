//! `[staging]`: how the point-in-time copy is taken while the services are
//! stopped, so that compression, hashing and restic work after they run again.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StagingMode {
    /// Run as root with rsync: a reflink mirror where the sources' file system
    /// clones (XFS, btrfs), else a mirror; otherwise the archives (or restic)
    /// read the live folders while the services are stopped.
    #[default]
    Auto,
    /// A persistent mirror updated with the changed files (needs rsync).
    Mirror,
    /// A reflink mirror on the sources' own file system (XFS, btrfs): only the
    /// changed files are cloned; refused where that file system cannot clone.
    Reflink,
    /// No staging: the archives (or restic) read the live folders while stopped.
    Off,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StagingConfig {
    pub mode: StagingMode,
    /// Where the mirror lives (root-only); unset, `staging/` in the state
    /// folder. A reflink mirror lives here when this is on the sources' file
    /// system, else in `.structr-backup-staging/` at its top folder.
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
