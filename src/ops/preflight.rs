//! Checks made before any service is stopped: sources readable, enough free space,
//! the repository not inside what we copy, and an estimate of size and downtime.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::OpError;
use crate::install::ComponentSpec;
use crate::repo::manifest::Manifest;
use crate::repo::tree::{self, Boundary};

#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceSize {
    pub name: String,
    pub path: PathBuf,
    pub files: u64,
    pub bytes: u64,
    /// Mount points inside, and symlinks that point out of it.
    #[serde(skip)]
    pub boundaries: Vec<Boundary>,
    #[serde(skip)]
    pub uids: std::collections::BTreeSet<u32>,
    #[serde(skip)]
    pub gids: std::collections::BTreeSet<u32>,
}

/// The names of every owner the sources have, for the manifest.
pub fn owners(sources: &[SourceSize]) -> crate::repo::owners::Owners {
    let uids = sources
        .iter()
        .flat_map(|s| s.uids.iter().copied())
        .collect();
    let gids = sources
        .iter()
        .flat_map(|s| s.gids.iter().copied())
        .collect();
    crate::repo::owners::Owners::lookup(&uids, &gids)
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Estimate {
    pub sources: Vec<SourceSize>,
    pub total_bytes: u64,
    /// Space the archives will probably need (from the last generation's ratio, else the raw size).
    pub needed_bytes: u64,
    pub free_bytes: u64,
    /// From the last generation's downtime scaled by size; None for a first backup.
    pub expected_downtime: Option<Duration>,
}

/// Walks each source with the archive's own walker (never following symlinks,
/// never entering another file system) to count files and bytes and to find what
/// leaves it. An unreadable folder is an error that names it: a backup that
/// silently skips part of the installation is worse than none.
pub fn measure(components: &[ComponentSpec]) -> Result<Vec<SourceSize>, OpError> {
    components
        .iter()
        .map(|c| {
            let meta = std::fs::symlink_metadata(&c.path).map_err(|e| {
                OpError::Refused(format!(
                    "cannot read {} ({}): {e}",
                    c.path.display(),
                    c.name
                ))
            })?;
            if !meta.is_dir() {
                return Err(OpError::Refused(format!(
                    "{} ({}) is not a folder",
                    c.path.display(),
                    c.name
                )));
            }
            let survey = tree::survey(&c.path).map_err(|e| {
                OpError::Refused(format!(
                    "{e}. Run structr-backup as root (or as the user owning the installation)"
                ))
            })?;
            Ok(SourceSize {
                name: c.name.clone(),
                path: c.path.clone(),
                files: survey.files,
                bytes: survey.bytes,
                boundaries: survey.boundaries,
                uids: survey.uids,
                gids: survey.gids,
            })
        })
        .collect()
}

/// What leaves the components, one sentence each, for the plan: mount points
/// inside a component (not copied: another file system) and symbolic links that
/// point out of one (only the link is copied), except links that are components
/// of their own.
pub fn boundary_warnings(sources: &[SourceSize], components: &[ComponentSpec]) -> Vec<String> {
    let is_component = |p: &Path| {
        let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        components
            .iter()
            .any(|c| c.path.canonicalize().unwrap_or_else(|_| c.path.clone()) == p)
    };
    let mut out = Vec::new();
    for s in sources {
        for b in &s.boundaries {
            match b {
                Boundary::MountPoint(m) => out.push(format!(
                    "{}: {} is a mount point of another file system; its contents are NOT copied. Back it up as its own component (e.g. kind = \"custom\" or a symlinked top-level folder)",
                    s.name,
                    m.display()
                )),
                Boundary::SymlinkOut { link, target } if !is_component(link) => out.push(format!(
                    "{}: {} is a symbolic link to {}, outside the component; only the link is copied",
                    s.name,
                    link.display(),
                    target.display()
                )),
                Boundary::SymlinkOut { .. } => {}
            }
        }
    }
    out
}

pub fn free_space(path: &Path) -> Result<u64, OpError> {
    let st = nix::sys::statvfs::statvfs(path).map_err(|e| {
        OpError::Refused(format!(
            "cannot read the free space of {}: {e}",
            path.display()
        ))
    })?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Refuses a repository inside a source: the backup would copy itself.
pub fn check_repo_outside(repo: &Path, components: &[ComponentSpec]) -> Result<(), OpError> {
    let repo = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    for c in components {
        let src = c.path.canonicalize().unwrap_or_else(|_| c.path.clone());
        if repo.starts_with(&src) {
            return Err(OpError::Refused(format!(
                "the repository {} is inside {} ({}), which is backed up; put the repository elsewhere ([repository] path or --repo)",
                repo.display(),
                src.display(),
                c.name
            )));
        }
    }
    Ok(())
}

pub fn estimate(
    components: &[ComponentSpec],
    repo: &Path,
    last: Option<&Manifest>,
) -> Result<Estimate, OpError> {
    let sources = measure(components)?;
    let total_bytes: u64 = sources.iter().map(|s| s.bytes).sum();
    let ratio = last
        .filter(|m| m.total_bytes() > 0)
        .map(|m| m.total_archive_size() as f64 / m.total_bytes() as f64)
        .unwrap_or(1.0);
    // Headroom: 10% and 64 MiB for tar headers, the index files and a data set that grew.
    let needed_bytes = (total_bytes as f64 * ratio * 1.1) as u64 + (64 << 20);
    let expected_downtime = last.filter(|m| m.total_bytes() > 0).map(|m| {
        let scale = total_bytes as f64 / m.total_bytes() as f64;
        Duration::from_secs_f64(m.timings.downtime_secs * scale.max(0.1))
    });
    Ok(Estimate {
        sources,
        total_bytes,
        needed_bytes,
        free_bytes: free_space(repo)?,
        expected_downtime,
    })
}

impl Estimate {
    pub fn check_space(&self, repo: &Path) -> Result<(), OpError> {
        if self.free_bytes < self.needed_bytes {
            return Err(OpError::Refused(format!(
                "not enough free space in {}: about {} needed, {} free. Free some space (e.g. `structr-backup prune`) or point the repository elsewhere",
                repo.display(),
                crate::units::bytes(self.needed_bytes),
                crate::units::bytes(self.free_bytes)
            )));
        }
        Ok(())
    }
}
