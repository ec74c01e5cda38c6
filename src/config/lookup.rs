//! Where the configuration file is looked up, and where a loaded one came from.

use std::fmt;
use std::path::{Path, PathBuf};

/// The file to read: `--config`, then `$STRUCTR_BACKUP_CONFIG`, then
/// `/etc/structr-backup/config.toml` for root, else the user config dir.
pub fn config_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("STRUCTR_BACKUP_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/etc/structr-backup/config.toml");
    }
    match directories::ProjectDirs::from("", "", "structr-backup") {
        Some(dirs) => dirs.config_dir().join("config.toml"),
        None => PathBuf::from("structr-backup.toml"),
    }
}

/// Where the configuration came from, for messages ("using defaults", "read FILE").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Defaults { looked_at: PathBuf },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Defaults { looked_at } => {
                write!(
                    f,
                    "built-in defaults ({} does not exist)",
                    looked_at.display()
                )
            }
        }
    }
}
